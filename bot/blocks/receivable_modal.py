"""The receivable modal of ``/contaazul receivable``: its builder and the parser that validates it.

Finance admins use it for a sale no CRM sends: the customer (found in Conta Azul, or created on posting), the
amount, sale and due dates, monthly installments, an existing revenue category, a cost center.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DatePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.i18n import Locale, t
from bot.blocks.request_modal import FormReader, input_value
from bot.ids import ActionId, CallbackId, ReceivableField
from ledger.domain import PaymentMethod, RequestDraft
from ledger.receivables import MAX_INSTALLMENTS, ReceivableDraft, installments_fit
from ledger.validation import parse_brl_amount, parse_document, parse_invoice_number

INSTALLMENT_CHOICES = (1, 2, 3, 4, 5, 6, 10, 12, 18, 24)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LENGTHS: dict[str, int] = {
    ReceivableField.DESCRIPTION: 300,
    ReceivableField.CUSTOMER_NAME: 200,
    ReceivableField.CUSTOMER_DOCUMENT: 20,
    ReceivableField.CUSTOMER_EMAIL: 100,
    ReceivableField.AMOUNT: 30,
    ReceivableField.CATEGORY: 200,
    ReceivableField.COST_CENTER: 200,
    ReceivableField.INVOICE_NUMBER: 30,
    ReceivableField.NOTES: 2000,
}
LABELS = {
    ReceivableField.DESCRIPTION: "field.description",
    ReceivableField.CUSTOMER_NAME: "field.customer_name",
    ReceivableField.CUSTOMER_DOCUMENT: "field.customer_document",
    ReceivableField.CUSTOMER_EMAIL: "field.customer_email",
    ReceivableField.AMOUNT: "field.amount",
    ReceivableField.SALE_DATE: "field.sale_date",
    ReceivableField.DUE_DATE: "field.due_date",
    ReceivableField.INSTALLMENTS: "field.installments",
    ReceivableField.CATEGORY: "field.category",
    ReceivableField.COST_CENTER: "field.cost_center",
    ReceivableField.PAYMENT_METHOD: "field.payment_method",
    ReceivableField.INVOICE_NUMBER: "field.invoice_number",
    ReceivableField.NOTES: "field.notes",
}


def build_receivable_modal(*, locale: Locale, today: date) -> View:
    """Customer, category and cost center come from Conta Azul (type-ahead); new customers and cost centers
    are created when the receivable is posted, categories must exist."""

    def text_input(field: ReceivableField, *, optional: bool = False, multiline: bool = False) -> InputBlock:
        return InputBlock(
            block_id=field.value,
            label=t(locale, LABELS[field]),
            optional=optional,
            element=PlainTextInputElement(
                action_id=ActionId.FIELD.value, multiline=multiline, max_length=MAX_LENGTHS[field]
            ),
        )

    def live_select(
        field: ReceivableField, action: ActionId, *, optional: bool = False, min_chars: int = 0
    ) -> InputBlock:
        return InputBlock(
            block_id=field.value,
            label=t(locale, LABELS[field]),
            optional=optional,
            element=ExternalDataSelectElement(
                action_id=action.value, min_query_length=min_chars, placeholder=t(locale, "field.select.placeholder")
            ),
        )

    def date_input(field: ReceivableField, initial: date | None) -> InputBlock:
        return InputBlock(
            block_id=field.value,
            label=t(locale, LABELS[field]),
            element=DatePickerElement(
                action_id=ActionId.FIELD.value, initial_date=initial.isoformat() if initial else None
            ),
        )

    def static_select(field: ReceivableField, options: list[Option]) -> InputBlock:
        return InputBlock(
            block_id=field.value,
            label=t(locale, LABELS[field]),
            element=StaticSelectElement(action_id=ActionId.FIELD.value, options=options, initial_option=options[0]),
        )

    methods = [Option(value=m.value, text=t(locale, f"method.{m.value}")) for m in PaymentMethod]
    counts = [Option(value=str(n), text=str(n)) for n in INSTALLMENT_CHOICES]
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "receivable.modal.intro"))]),
        text_input(ReceivableField.DESCRIPTION),
        live_select(ReceivableField.CUSTOMER_NAME, ActionId.CUSTOMER_OPTIONS, min_chars=1),
        text_input(ReceivableField.CUSTOMER_DOCUMENT, optional=True),
        text_input(ReceivableField.CUSTOMER_EMAIL, optional=True),
        text_input(ReceivableField.AMOUNT),
        date_input(ReceivableField.SALE_DATE, today),
        date_input(ReceivableField.DUE_DATE, None),
        static_select(ReceivableField.INSTALLMENTS, counts),
        live_select(ReceivableField.CATEGORY, ActionId.REVENUE_CATEGORY_OPTIONS),
        live_select(ReceivableField.COST_CENTER, ActionId.COST_CENTER_OPTIONS, optional=True),
        static_select(ReceivableField.PAYMENT_METHOD, methods),
        text_input(ReceivableField.INVOICE_NUMBER, optional=True),
        text_input(ReceivableField.NOTES, optional=True, multiline=True),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.RECEIVABLE_MODAL.value,
        title=PlainTextObject(text=t(locale, "receivable.modal.title")),
        submit=PlainTextObject(text=t(locale, "modal.submit")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        blocks=blocks,
    )


def parse_receivable_modal(values: dict[str, Any], *, today: date, submission_key: str) -> ReceivableDraft:
    """Validate the modal's ``state.values``; every bad field is reported at once, keyed by block id.

    Raises:
        InvalidSubmission: with ``errors`` mapping block ids to error codes (see ``bot.blocks.i18n``).
    """
    form = FormReader(values, MAX_LENGTHS, keep_lines=ReceivableField.NOTES)
    description = form.text(ReceivableField.DESCRIPTION)
    customer = form.text(ReceivableField.CUSTOMER_NAME)
    document = form.parsed(ReceivableField.CUSTOMER_DOCUMENT, parse_document, required=False)
    email = form.text(ReceivableField.CUSTOMER_EMAIL, required=False)
    if email is not None and not EMAIL.match(email):
        form.errors[ReceivableField.CUSTOMER_EMAIL] = "email_invalid"
    amount = form.parsed(ReceivableField.AMOUNT, parse_brl_amount)
    sale = form.day(ReceivableField.SALE_DATE)
    due = form.due_date(ReceivableField.DUE_DATE, today=today)
    count_raw = input_value(values, ReceivableField.INSTALLMENTS) or "1"
    count = int(count_raw) if count_raw.isdigit() else 0
    if not 1 <= count <= MAX_INSTALLMENTS:
        form.errors[ReceivableField.INSTALLMENTS] = "installments_range"
    elif amount is not None and not installments_fit(amount, count):
        form.errors[ReceivableField.INSTALLMENTS] = "installments_too_small"
    category = form.text(ReceivableField.CATEGORY)
    cost_center = form.text(ReceivableField.COST_CENTER, required=False)
    method = form.method(ReceivableField.PAYMENT_METHOD)
    invoice = form.parsed(ReceivableField.INVOICE_NUMBER, parse_invoice_number, required=False)
    notes = form.text(ReceivableField.NOTES, required=False)
    form.check()
    assert description and customer and amount and sale and due and category and method
    draft = RequestDraft(
        description=description,
        vendor_name=customer,
        vendor_document=document.value if document else None,
        amount=amount,
        competence_date=sale,
        due_date=due,
        category=category,
        cost_center=cost_center,
        payment_method=method,
        invoice_number=invoice,
        notes=notes,
    )
    return ReceivableDraft(draft=draft, email=email, installments=count, source="manual", submission_key=submission_key)
