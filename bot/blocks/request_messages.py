"""Messages about a request: the approver's message, the tracking message and the thread replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.blocks.fields import (
    SECTION_TEXT_LIMIT,
    StepRef,
    clip,
    decision_value,
    document_text,
    escape,
    fingerprint_line,
    is_person,
    mention,
    request_fields,
    requester,
)
from bot.blocks.i18n import Locale, day, moment, money, t
from bot.ids import ActionId
from ledger.access import is_editable
from ledger.domain import PaymentMethod, RequestKind, RequestStatus, StepStatus
from ledger.editing import Edited
from ledger.flows import DecisionNote
from ledger.payment_code import detect_payment_method
from ledger.read_models import RequestView, StepView

Message = tuple[str, list[Block]]  # (notification text, blocks)


def mentions(user_ids: Sequence[str]) -> str:
    return ", ".join(f"<@{u}>" for u in user_ids)


def build_approval_message(request: RequestView, step: StepView, *, locale: Locale, tz: ZoneInfo) -> Message:
    """What an approver of ``step`` sees: the request, and buttons while the step is open."""
    text = t(
        locale,
        "approval.text",
        reference=request.reference,
        vendor=escape(request.vendor_name),
        amount=money(request.amount, locale),
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(t(locale, _header_key(request), reference=request.reference), 150))),
        SectionBlock(
            text=MarkdownTextObject(
                text=t(
                    locale,
                    "approval.ask",
                    requester=requester(request, locale),
                    step=escape(step.name),
                    position=step.position + 1,
                    total=len(request.steps),
                )
            )
        ),
        *request_fields(request, locale),
        ContextBlock(elements=[MarkdownTextObject(text=fingerprint_line(request, locale))]),
    ]
    if step.status == StepStatus.OPEN and request.status == RequestStatus.PENDING:
        ref = decision_value(request, step.position)
        blocks.append(
            ActionsBlock(
                block_id="decision",
                elements=[
                    ButtonElement(
                        action_id=ActionId.APPROVE.value, text=t(locale, "button.approve"), value=ref, style="primary"
                    ),
                    ButtonElement(
                        action_id=ActionId.REJECT.value, text=t(locale, "button.reject"), value=ref, style="danger"
                    ),
                ],
            )
        )
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=step_outcome(request, step, locale=locale, tz=tz))))
    blocks.append(_submitted_context(request, locale, tz))
    return text, blocks


def _header_key(request: RequestView) -> str:
    return "approval.header_receivable" if request.kind == RequestKind.RECEIVABLE else "approval.header"


def step_outcome(request: RequestView, step: StepView, *, locale: Locale, tz: ZoneInfo) -> str:
    """Who decided this step and when, or why it closed undecided."""
    if step.status in (StepStatus.APPROVED, StepStatus.REJECTED) and step.decided_by and step.decided_at:
        line = t(locale, f"outcome.{step.status}", actor=step.decided_by, when=moment(step.decided_at, locale, tz))
        if step.reason:
            line += "\n" + t(locale, "outcome.reason", reason=escape(step.reason))
        return clip(line, SECTION_TEXT_LIMIT)
    if request.status == RequestStatus.CANCELLED and request.decided_at:
        return t(locale, "outcome.cancelled", when=moment(request.decided_at, locale, tz))
    return t(locale, "outcome.closed", status=t(locale, f"status.{request.status}"))


def build_tracking_message(request: RequestView, *, locale: Locale, tz: ZoneInfo) -> Message:
    """The request's own message: status, fields, every step, and Cancel while pending."""
    status = t(locale, f"status.{request.status}")
    text = t(
        locale,
        "tracking.text",
        reference=request.reference,
        vendor=escape(request.vendor_name),
        amount=money(request.amount, locale),
        status=status,
    )
    headline = f"*{status}*"
    open_step = next((s for s in request.steps if s.status == StepStatus.OPEN), None)
    if open_step is not None:
        headline += "\n" + t(
            locale, "tracking.waiting_for", step=escape(open_step.name), approvers=mentions(open_step.approvers)
        )
    elif request.status == RequestStatus.REJECTED and request.decision_reason:
        headline += "\n" + t(locale, "outcome.reason", reason=escape(request.decision_reason))
    if request.contaazul_id:
        headline += "\n" + t(locale, "tracking.contaazul_id", id=escape(request.contaazul_id))
    steps_line = "  ·  ".join(
        f"{t(locale, f'step.{s.status}')} {s.position + 1}. {escape(s.name)}"
        + (f" (<@{s.decided_by}>)" if s.decided_by else "")
        for s in request.steps
    ) or t(locale, "tracking.no_steps")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"{request.reference} · {money(request.amount, locale)}", 150))),
        SectionBlock(text=MarkdownTextObject(text=clip(headline, SECTION_TEXT_LIMIT))),
        *request_fields(request, locale, shared=True),
        ContextBlock(elements=[MarkdownTextObject(text=clip(f"*{t(locale, 'tracking.steps')}:* {steps_line}", 3000))]),
        ContextBlock(elements=[MarkdownTextObject(text=fingerprint_line(request, locale))]),
    ]
    buttons = [
        ButtonElement(
            action_id=ActionId.HISTORY.value, text=t(locale, "button.history"), value=StepRef(request.id).encode()
        )
    ]
    if is_editable(request) and is_person(request.requester_id):
        buttons.append(
            ButtonElement(
                action_id=ActionId.EDIT.value, text=t(locale, "button.edit"), value=StepRef(request.id).encode()
            )
        )
    if request.status == RequestStatus.PENDING and is_person(request.requester_id):
        buttons.append(
            ButtonElement(
                action_id=ActionId.CANCEL.value,
                text=t(locale, "button.cancel_request"),
                value=StepRef(request.id).encode(),
                confirm=ConfirmObject(
                    title=t(locale, "confirm.cancel.title"),
                    text=t(locale, "confirm.cancel.text"),
                    confirm=t(locale, "confirm.cancel.yes"),
                    deny=t(locale, "confirm.cancel.no"),
                    style="danger",
                ),
            )
        )
    blocks.append(ActionsBlock(block_id="tracking", elements=buttons))
    blocks.append(_submitted_context(request, locale, tz))
    return text, blocks


def build_decision_reply(request: RequestView, decision: DecisionNote, *, locale: Locale) -> str:
    """The thread reply after a decision, mentioning the requester."""
    common = {"mention": mention(request), "actor": decision.actor, "step": escape(decision.step)}
    if not decision.approved:
        return clip(t(locale, "thread.rejected", reason=escape(decision.reason or ""), **common), SECTION_TEXT_LIMIT)
    if decision.next_step is not None:
        return t(locale, "thread.step_approved", next_step=escape(decision.next_step), **common)
    return t(locale, "thread.approved", **common)


FIELD_LABELS = {
    "description": "field.description",
    "vendor_name": "field.vendor_name",
    "vendor_document": "field.vendor_document",
    "amount": "field.amount",
    "competence_date": "field.competence_date",
    "due_date": "field.due_date",
    "category": "field.category",
    "cost_center": "field.cost_center",
    "payment_method": "field.payment_method",
    "payment_code": "field.payment_code.short",
    "invoice_number": "field.invoice_number",
    "notes": "field.notes",
    "attachments": "field.attachments",
}


def describe_changes(changes: dict[str, tuple[str, str]], *, locale: Locale, shared: bool = False) -> str:
    """``Valor (R$): R$ 1.234,56 → R$ 1.500,00; Vencimento: 10/12/2026 → 15/12/2026`` (long texts just named).

    ``shared`` (the tracking thread, read by the channel): a CPF masked, and a payment code other than a boleto line
    only named, since a PIX key or code is personal data the approvers see in their DM."""

    def shown(name: str, value: str) -> str:
        if not value:
            return "—"
        if name == "amount":
            return money(Decimal(value), locale)
        if name in ("due_date", "competence_date"):
            return day(date.fromisoformat(value), locale)
        if name == "payment_method":
            return t(locale, f"method.{value}")
        if name == "vendor_document":
            return escape(document_text(value, shared=shared))
        return escape(value)

    def personal_code(name: str, *values: str) -> bool:
        return (
            shared
            and name == "payment_code"
            and any(v and detect_payment_method(v) is not PaymentMethod.BOLETO for v in values)
        )

    parts = []
    for name, (old, new) in changes.items():
        label = t(locale, FIELD_LABELS.get(name, name))
        if name in ("description", "notes", "attachments") or personal_code(name, old, new):
            parts.append(label)
        else:
            parts.append(f"{label}: {shown(name, old)} → {shown(name, new)}")
    return "; ".join(parts)


def build_edit_reply(edited: Edited, *, locale: Locale) -> str:
    request = edited.request
    changes = describe_changes(edited.changes, locale=locale, shared=True)
    if edited.restarted and request.steps:
        step = request.steps[0]
        text = t(
            locale,
            "thread.edited_restart",
            mention=mention(request),
            changes=changes,
            step=escape(step.name),
            approvers=mentions(step.approvers),
        )
    else:
        text = t(locale, "thread.edited", mention=mention(request), changes=changes)
    return clip(text, SECTION_TEXT_LIMIT)


def build_cancel_reply(request: RequestView, *, locale: Locale) -> str:
    return t(locale, "thread.cancelled", mention=mention(request))


def build_reminder_reply(request: RequestView, *, hours: int, locale: Locale) -> str:
    """The nudge posted in the thread of an approver's own approval message (which keeps the buttons)."""
    return t(locale, "reminder.text", reference=request.reference, hours=hours)


def build_reminder_message(
    request: RequestView, step: StepView, *, hours: int, locale: Locale, tz: ZoneInfo
) -> Message:
    """The approval message with the reminder line above, for an approver whose first message never arrived."""
    return _with_line_above(build_reminder_reply(request, hours=hours, locale=locale), request, step, locale, tz)


def build_escalation_message(
    request: RequestView, step: StepView, *, hours: int, locale: Locale, tz: ZoneInfo
) -> Message:
    """What a fallback approver receives when a step is escalated to them: why, then the approval message."""
    line = t(locale, "escalation.text", reference=request.reference, hours=hours, step=escape(step.name))
    return _with_line_above(line, request, step, locale, tz)


def build_escalation_reply(step: StepView, added: list[str], *, hours: int, locale: Locale) -> str:
    """The tracking thread's note that the step now also waits for the fallback approvers."""
    return clip(
        t(locale, "thread.escalated", hours=hours, step=escape(step.name), approvers=mentions(added)),
        SECTION_TEXT_LIMIT,
    )


def _with_line_above(line: str, request: RequestView, step: StepView, locale: Locale, tz: ZoneInfo) -> Message:
    _, blocks = build_approval_message(request, step, locale=locale, tz=tz)
    return line, [SectionBlock(text=MarkdownTextObject(text=clip(line, SECTION_TEXT_LIMIT))), *blocks]


def _submitted_context(request: RequestView, locale: Locale, tz: ZoneInfo) -> ContextBlock:
    return ContextBlock(
        elements=[
            MarkdownTextObject(
                text=t(
                    locale,
                    "tracking.submitted",
                    reference=request.reference,
                    requester=requester(request, locale),
                    when=moment(request.created_at, locale, tz),
                )
            )
        ]
    )
