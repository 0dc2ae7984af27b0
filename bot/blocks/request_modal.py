"""The payment-request modal: its builder and the parser that turns its state into a ``RequestDraft``.

Category, cost center and vendor are plain inputs today; each keeps its value under the same block and
action id whichever element renders it, and the parser reads a typed ``value`` or a ``selected_option``
alike, so swapping in an ``external_select`` fed by Conta Azul needs no change here or in the handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.blocks.fields import describe_instrument
from bot.blocks.i18n import Locale, day, money, t
from bot.ids import ActionId, CallbackId, RequestField
from ledger.domain import Attachment, PaymentMethod, RequestDraft
from ledger.errors import InvalidSubmission, InvalidValue
from ledger.instruments import BR_CODE_MAX_LENGTH
from ledger.payment_code import PaymentInstrument, conflicts, read_payment_code
from ledger.read_models import RequestView
from ledger.validation import parse_brl_amount, parse_document, parse_invoice_number

MAX_LENGTHS: dict[str, int] = {
    RequestField.DESCRIPTION: 300,
    RequestField.VENDOR_NAME: 200,
    RequestField.VENDOR_DOCUMENT: 20,
    RequestField.AMOUNT: 30,
    RequestField.CATEGORY: 200,
    RequestField.COST_CENTER: 200,
    RequestField.PAYMENT_CODE: BR_CODE_MAX_LENGTH,
    RequestField.INVOICE_NUMBER: 30,
    RequestField.NOTES: 2000,
}


DUPLICATE_CONFIRM = "duplicate_confirm"
DECODED_BLOCK = "payment_code_decoded"  # what the pasted boleto/PIX code says, shown under it
FILLED_ACTION = "value.from_code"  # a new action id makes Slack show a value filled in from the code
ATTACHMENT_TYPES = ("pdf", "png", "jpg", "jpeg", "xml", "txt")


def build_request_modal(
    *,
    locale: Locale,
    today: date,
    live: bool = False,
    private_metadata: str = "",
    duplicate_warning: str | None = None,
    editing: bool = False,
) -> View:
    """The modal opened by ``/pagamento``; competence defaults to today.

    ``live`` (Conta Azul connected): category, cost center and vendor are type-ahead lists fed by Conta Azul,
    so a category can only be one that exists. Otherwise they are typed, and the modal says why.
    """

    def text_input(
        field: RequestField,
        *,
        optional: bool = False,
        multiline: bool = False,
        hint: bool = False,
        action: ActionId = ActionId.FIELD,
    ) -> InputBlock:
        placeholder_key = f"field.{field.value}.placeholder"
        placeholder = t(locale, placeholder_key)
        dispatch = action is not ActionId.FIELD  # the payment code: Aprova reads it as soon as it is pasted
        return InputBlock(
            block_id=field.value,
            label=t(locale, f"field.{field.value}"),
            optional=optional,
            hint=t(locale, f"field.{field.value}.hint") if hint else None,
            dispatch_action=dispatch or None,
            element=PlainTextInputElement(
                action_id=action.value,
                multiline=multiline,
                max_length=MAX_LENGTHS[field],
                placeholder=placeholder if placeholder != placeholder_key else None,
                dispatch_action_config=DispatchActionConfig(
                    trigger_actions_on=["on_enter_pressed", "on_character_entered"]
                )
                if dispatch
                else None,
            ),
        )

    def date_input(field: RequestField, initial: date | None, *, optional: bool = False) -> InputBlock:
        return InputBlock(
            block_id=field.value,
            label=t(locale, f"field.{field.value}"),
            optional=optional,
            element=DatePickerElement(
                action_id=ActionId.FIELD.value, initial_date=initial.isoformat() if initial else None
            ),
        )

    def live_select(field: RequestField, action: ActionId, *, optional: bool = False, min_chars: int = 0) -> InputBlock:
        return InputBlock(
            block_id=field.value,
            label=t(locale, f"field.{field.value}"),
            optional=optional,
            element=ExternalDataSelectElement(
                action_id=action.value,
                min_query_length=min_chars,
                placeholder=t(locale, "field.select.placeholder"),
            ),
        )

    methods = [Option(value=m.value, text=t(locale, f"method.{m.value}")) for m in PaymentMethod]
    intro = t(locale, "edit.intro" if editing else "modal.intro")
    if not live:
        intro += "\n" + t(locale, "modal.not_connected")
    blocks: list[Block] = [ContextBlock(elements=[MarkdownTextObject(text=intro)])]
    if duplicate_warning:
        confirm = Option(value="yes", text=t(locale, "duplicate.confirm"))
        blocks += [
            SectionBlock(text=MarkdownTextObject(text=duplicate_warning)),
            InputBlock(
                block_id=DUPLICATE_CONFIRM,
                label=t(locale, "duplicate.confirm_label"),
                element=CheckboxesElement(action_id=ActionId.FIELD.value, options=[confirm]),
            ),
        ]
    blocks += [
        text_input(RequestField.DESCRIPTION),
        live_select(RequestField.VENDOR_NAME, ActionId.VENDOR_OPTIONS, min_chars=1)
        if live
        else text_input(RequestField.VENDOR_NAME),
        text_input(RequestField.VENDOR_DOCUMENT, optional=True, hint=True),
        # Optional for Slack: a boleto or PIX code may supply them; the parser asks when nothing does.
        text_input(RequestField.AMOUNT, optional=True, hint=True),
        date_input(RequestField.COMPETENCE_DATE, today),
        date_input(RequestField.DUE_DATE, None, optional=True),
        live_select(RequestField.CATEGORY, ActionId.CATEGORY_OPTIONS)
        if live
        else text_input(RequestField.CATEGORY, hint=True),
        live_select(RequestField.COST_CENTER, ActionId.COST_CENTER_OPTIONS, optional=True)
        if live
        else text_input(RequestField.COST_CENTER, optional=True),
        InputBlock(
            block_id=RequestField.PAYMENT_METHOD.value,
            label=t(locale, "field.payment_method"),
            element=StaticSelectElement(action_id=ActionId.FIELD.value, options=methods, initial_option=methods[0]),
        ),
        text_input(RequestField.PAYMENT_CODE, optional=True, hint=True, action=ActionId.PAYMENT_CODE),
        text_input(RequestField.INVOICE_NUMBER, optional=True),
        text_input(RequestField.NOTES, optional=True, multiline=True),
        InputBlock(
            block_id=RequestField.ATTACHMENTS.value,
            label=t(locale, "field.attachments"),
            optional=True,
            hint=t(locale, "field.attachments.hint"),
            element=FileInputElement(action_id=ActionId.FIELD.value, filetypes=list(ATTACHMENT_TYPES), max_files=5),
        ),
    ]
    return View(
        type="modal",
        callback_id=(CallbackId.EDIT_MODAL if editing else CallbackId.REQUEST_MODAL).value,
        title=PlainTextObject(text=t(locale, "edit.title" if editing else "modal.title")),
        submit=PlainTextObject(text=t(locale, "edit.save" if editing else "modal.submit")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        private_metadata=private_metadata,
        blocks=blocks,
    )


class FormReader:
    """Reads a modal's ``state.values`` field by field, collecting every error at once (block id → error code)."""

    def __init__(self, values: dict[str, Any], max_lengths: Mapping[str, int], *, keep_lines: str = "") -> None:
        self.values = values
        self.errors: dict[str, str] = {}
        self.details: dict[str, dict[str, Any]] = {}  # values an error message shows, by block id
        self._max_lengths, self._keep_lines = max_lengths, keep_lines

    def text(self, block_id: str, *, required: bool = True) -> str | None:
        raw = input_value(self.values, block_id) or ""
        cleaned = raw.strip() if block_id == self._keep_lines else " ".join(raw.split())
        if not cleaned:
            if required:
                self.errors[block_id] = "required"
            return None
        if len(cleaned) > self._max_lengths[block_id]:
            self.errors[block_id] = "too_long"
            return None
        return cleaned

    def parsed(self, block_id: str, parse: Any, *, required: bool = True) -> Any:
        raw = self.text(block_id, required=required)
        if raw is None:
            return None
        try:
            return parse(raw)
        except InvalidValue as exc:
            self.errors[block_id] = exc.code
            return None

    def day(self, block_id: str, *, required: bool = True) -> date | None:
        raw = input_value(self.values, block_id)
        if not raw:
            if required:
                self.errors[block_id] = "required"
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.errors[block_id] = "date_invalid"
            return None

    def due_date(self, block_id: str, *, today: date) -> date | None:
        due = self.day(block_id)
        if due is not None and due < today:
            self.errors[block_id] = "due_date_in_past"
        return due

    def method(self, block_id: str) -> PaymentMethod | None:
        try:
            return PaymentMethod(input_value(self.values, block_id) or "")
        except ValueError:
            self.errors[block_id] = "method_invalid"
            return None

    def check(self) -> None:
        """Raises InvalidSubmission with every error found so far."""
        if self.errors:
            raise InvalidSubmission(self.errors, details=self.details)


def parse_request_modal(values: dict[str, Any], *, today: date) -> RequestDraft:
    """Validate the modal's ``state.values``; every bad field is reported at once, keyed by block id.

    A boleto or PIX code is decoded: its amount and due date must be the ones typed, and fill them in when they
    were left empty.

    Raises:
        InvalidSubmission: with ``errors`` mapping block ids to error codes (see ``bot.blocks.i18n``).
    """
    form = FormReader(values, MAX_LENGTHS, keep_lines=RequestField.NOTES)
    description = form.text(RequestField.DESCRIPTION)
    vendor_name = form.text(RequestField.VENDOR_NAME)
    document = form.parsed(RequestField.VENDOR_DOCUMENT, parse_document, required=False)
    amount = form.parsed(RequestField.AMOUNT, parse_brl_amount, required=False)
    competence = form.day(RequestField.COMPETENCE_DATE)
    due = form.day(RequestField.DUE_DATE, required=False)
    category = form.text(RequestField.CATEGORY)
    cost_center = form.text(RequestField.COST_CENTER, required=False)
    method = form.method(RequestField.PAYMENT_METHOD)
    instrument: PaymentInstrument | None = None
    if method is not None:
        instrument = form.parsed(
            RequestField.PAYMENT_CODE, lambda raw: read_payment_code(method, raw, today=today), required=False
        )
    if instrument is not None:
        for name, conflict in conflicts(instrument, amount=amount, due_date=due).items():
            form.errors[name], form.details[name] = conflict.code, conflict.params()
        amount = amount or instrument.amount
        due = due or instrument.due_date
    for block_id, value in ((RequestField.AMOUNT, amount), (RequestField.DUE_DATE, due)):
        if value is None and block_id not in form.errors:
            form.errors[block_id] = "required"
    if due is not None and due < today and RequestField.DUE_DATE not in form.errors:
        form.errors[RequestField.DUE_DATE] = "due_date_in_past"
    invoice = form.parsed(RequestField.INVOICE_NUMBER, parse_invoice_number, required=False)
    notes = form.text(RequestField.NOTES, required=False)
    form.check()
    assert description and vendor_name and amount and competence and due and category and method
    attachments = attached_files(values)
    return RequestDraft(
        description=description,
        vendor_name=vendor_name,
        vendor_document=document.value if document else None,
        amount=amount,
        competence_date=competence,
        due_date=due,
        category=category,
        cost_center=cost_center,
        payment_method=method,
        payment_code=instrument.code if instrument else None,
        invoice_number=invoice,
        notes=notes,
        attachments=attachments,
    )


def fill_from_code(
    view: dict[str, Any], instrument: PaymentInstrument, method: PaymentMethod, *, locale: Locale
) -> dict[str, Any]:
    """The modal again, with what a pasted code says: empty amount and due date filled in, the payment method
    matching the code, and the decoded values shown under the code.

    Slack keeps what a person typed in an input whose block and action ids are unchanged, so a value filled in
    here gets a new action id; the parser reads a block whatever its element's action id.
    """
    state = (view.get("state") or {}).get("values") or {}
    blocks = [dict(b) for b in view.get("blocks", []) if b.get("block_id") != DECODED_BLOCK]
    for position, block in enumerate(blocks):
        block_id = block.get("block_id")
        element = dict(block.get("element") or {})
        if block_id == RequestField.AMOUNT and instrument.amount is not None and not input_value(state, block_id):
            element |= {"action_id": FILLED_ACTION, "initial_value": _typed_amount(instrument.amount, locale)}
        elif block_id == RequestField.DUE_DATE and instrument.due_date and not input_value(state, block_id):
            element |= {"action_id": FILLED_ACTION, "initial_date": instrument.due_date.isoformat()}
        elif block_id == RequestField.PAYMENT_METHOD and input_value(state, block_id) != method.value:
            chosen = next(o for o in element.get("options", []) if o.get("value") == method.value)
            element |= {"action_id": FILLED_ACTION, "initial_option": chosen}
        else:
            continue
        blocks[position] = dict(block, element=element)
    at = next(i for i, b in enumerate(blocks) if b.get("block_id") == RequestField.PAYMENT_CODE) + 1
    summary = MarkdownTextObject(text=describe_instrument(instrument, locale))
    blocks.insert(at, ContextBlock(block_id=DECODED_BLOCK, elements=[summary]).to_dict())
    keep = ("type", "callback_id", "title", "submit", "close", "private_metadata", "notify_on_close", "external_id")
    return {key: view[key] for key in keep if key in view} | {"blocks": blocks}


def _typed_amount(amount: Decimal, locale: Locale) -> str:
    """An amount as a person would type it (``1.234,56`` or ``1,234.56``), which the parser reads back."""
    return money(amount, locale).removeprefix("R$").strip()


def input_value(values: dict[str, Any], block_id: str) -> str | None:
    """The value of the block's input element, whatever its kind or action id: typed, picked or selected."""
    block = values.get(block_id)
    if not isinstance(block, dict) or not block:
        return None
    element = next(iter(block.values()))
    if not isinstance(element, dict):
        return None
    for key in ("value", "selected_date"):
        if isinstance(element.get(key), str):
            return str(element[key])
    option = element.get("selected_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return str(option["value"])
    return None


def attached_files(values: dict[str, Any]) -> tuple[Attachment, ...]:
    """The files of the file input (what Slack uploaded for the person), in order."""
    block = values.get(RequestField.ATTACHMENTS)
    element: Any = next(iter(block.values()), None) if isinstance(block, dict) else None
    files = element.get("files") if isinstance(element, dict) else None
    found = []
    for item in files if isinstance(files, list) else []:
        if isinstance(item, dict) and item.get("id"):
            name = str(item.get("name") or item.get("title") or item["id"])[:200]
            permalink = str(item.get("permalink") or item.get("url_private") or "")
            download = item.get("url_private_download") or item.get("url_private")
            found.append(Attachment(str(item["id"]), name, permalink, str(download) if download else None))
    return tuple(found)


def duplicate_confirmed(values: dict[str, Any]) -> bool:
    """Whether the requester ticked "not a duplicate" on the warning."""
    block = values.get(DUPLICATE_CONFIRM)
    element: Any = next(iter(block.values()), None) if isinstance(block, dict) else None
    return isinstance(element, dict) and bool(element.get("selected_options"))


def prefill(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The view with every input showing what was submitted (``state.values``), so nothing is typed twice."""
    for block in view.get("blocks", []):
        if block.get("type") != "input" or block["block_id"] == DUPLICATE_CONFIRM:
            continue
        state = next(iter((values.get(block["block_id"]) or {}).values()), None)
        if not isinstance(state, dict):
            continue
        element = block["element"]
        if element["type"] == "plain_text_input" and state.get("value"):
            element["initial_value"] = state["value"]
        elif element["type"] == "datepicker" and state.get("selected_date"):
            element["initial_date"] = state["selected_date"]
        elif element["type"] in ("static_select", "external_select") and isinstance(state.get("selected_option"), dict):
            chosen = state["selected_option"]
            # A static select's initial option must be one of its options, exactly as listed.
            listed = [o for o in element.get("options", []) if o.get("value") == chosen.get("value")]
            element["initial_option"] = listed[0] if listed else chosen
    return view


def request_state(request: RequestView, locale: Locale) -> dict[str, Any]:
    """A stored request as Slack's ``state.values``, to prefill the edit modal with ``prefill``."""

    def typed(value: str | None) -> dict[str, Any]:
        text = value or ""
        return {
            ActionId.FIELD.value: {
                "value": text,
                "selected_option": {"text": {"type": "plain_text", "text": text[:75]}, "value": text[:150]}
                if text
                else None,
            }
        }

    document = parse_document(request.vendor_document).formatted if request.vendor_document else None
    return {
        RequestField.DESCRIPTION: typed(request.description),
        RequestField.VENDOR_NAME: typed(request.vendor_name),
        RequestField.VENDOR_DOCUMENT: typed(document),
        RequestField.AMOUNT: typed(money(request.amount, "pt_BR").removeprefix("R$").strip()),
        RequestField.COMPETENCE_DATE: {ActionId.FIELD.value: {"selected_date": request.competence_date.isoformat()}},
        RequestField.DUE_DATE: {ActionId.FIELD.value: {"selected_date": request.due_date.isoformat()}},
        RequestField.CATEGORY: typed(request.category),
        RequestField.COST_CENTER: typed(request.cost_center),
        RequestField.PAYMENT_METHOD: {ActionId.FIELD.value: {"selected_option": {"value": request.payment_method}}},
        RequestField.PAYMENT_CODE: typed(request.payment_code),
        RequestField.INVOICE_NUMBER: typed(request.invoice_number),
        RequestField.NOTES: typed(request.notes),
    }


def field_errors(error: InvalidSubmission, locale: Locale) -> dict[str, str]:
    """Error codes to the sentences Slack shows under each field (amounts and dates in the reader's format)."""

    def shown(value: Any) -> Any:
        if isinstance(value, Decimal):
            return money(value, locale)
        if isinstance(value, date):
            return day(value, locale)
        return value

    return {
        block_id: t(locale, f"error.{code}", **{k: shown(v) for k, v in error.details.get(block_id, {}).items()})
        for block_id, code in error.errors.items()
    }
