"""The modal that asks an approver why they reject, and its parser."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import InputBlock, MarkdownTextObject, PlainTextInputElement, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.blocks.fields import StepRef, escape
from bot.blocks.i18n import Locale, money, t
from bot.ids import ActionId, CallbackId, RejectField
from ledger.errors import InvalidSubmission
from ledger.read_models import RequestView

REASON_MAX_LENGTH = 1000


def build_reject_modal(
    request: RequestView,
    step: int,
    *,
    locale: Locale,
    from_home: bool = False,
    round_: int | None = None,
    digest: str | None = None,
) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.REJECT_MODAL.value,
        title=PlainTextObject(text=t(locale, "reject.title")),
        submit=PlainTextObject(text=t(locale, "reject.submit")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        # The step to reject, and whether to refresh the Home tab it was clicked in.
        private_metadata=StepRef(request.id, step, round_, digest).encode()[:-1] + (', "h": 1}' if from_home else "}"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=t(
                        locale,
                        "reject.summary",
                        reference=request.reference,
                        vendor=escape(request.vendor_name),
                        amount=money(request.amount, locale),
                    )
                )
            ),
            InputBlock(
                block_id=RejectField.REASON.value,
                label=t(locale, "reject.reason"),
                hint=t(locale, "reject.reason.hint"),
                element=PlainTextInputElement(
                    action_id=ActionId.FIELD.value, multiline=True, max_length=REASON_MAX_LENGTH
                ),
            ),
        ],
    )


def parse_reject_modal(values: dict[str, Any]) -> str:
    """The reason, trimmed. Raises InvalidSubmission when it is blank or too long."""
    element = values.get(RejectField.REASON.value, {}).get(ActionId.FIELD.value, {})
    reason = (element.get("value") or "").strip() if isinstance(element, dict) else ""
    if not reason:
        raise InvalidSubmission({RejectField.REASON.value: "reason_required"})
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidSubmission({RejectField.REASON.value: "too_long"})
    return reason


def build_notice_modal(text: str, *, locale: Locale) -> View:
    """A one-message modal, used to answer a submission that can no longer go through."""
    return View(
        type="modal",
        title=PlainTextObject(text=t(locale, "notice.title")),
        close=PlainTextObject(text=t(locale, "notice.close")),
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )
