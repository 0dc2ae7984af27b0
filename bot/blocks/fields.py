"""Pieces every request message shares: the fields section, payloads carried by buttons."""

from __future__ import annotations

import json
from dataclasses import dataclass

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.blocks.i18n import Locale, day, money, t
from ledger.models import PaymentRequest
from ledger.validation import parse_document

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000


def clip(text: str, limit: int) -> str:
    """Slack rejects over-long texts; cut with an ellipsis instead of failing the whole message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Text typed by people, made safe for mrkdwn (no accidental mentions or links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_person(user_id: str) -> bool:
    """A Slack user id; a request from a CRM has none (nobody to mention or to let cancel)."""
    return user_id[:1] in ("U", "W")


def mention(request: PaymentRequest) -> str:
    """``<@U…> `` to start a thread reply that pings the requester, or nothing for a CRM deal."""
    return f"<@{request.requester_id}> " if is_person(request.requester_id) else ""


def requester(request: PaymentRequest, locale: Locale) -> str:
    """Who asked: the person, or the CRM the deal came from."""
    if is_person(request.requester_id):
        return f"<@{request.requester_id}>"
    return t(locale, f"source.{request.source}")


def counterparty_key(request: PaymentRequest) -> str:
    """The label of the other party: the vendor of a payable, the customer of a receivable."""
    return "field.customer_name" if request.kind == "receivable" else "field.vendor_name"


def vendor_label(request: PaymentRequest) -> str:
    if not request.vendor_document:
        return escape(request.vendor_name)
    return f"{escape(request.vendor_name)} ({parse_document(request.vendor_document).formatted})"


def request_fields(request: PaymentRequest, locale: Locale) -> list[SectionBlock]:
    """Description, then every field formatted for ``locale`` (R$ 1.234,56, dd/mm/aaaa)."""
    pairs = [
        (counterparty_key(request), vendor_label(request)),
        ("field.amount", f"*{money(request.amount, locale)}*"),
        ("field.due_date", day(request.due_date, locale)),
        ("field.competence_date", day(request.competence_date, locale)),
        ("field.category", escape(request.category)),
        ("field.cost_center", escape(request.cost_center) if request.cost_center else "—"),
        ("field.payment_method", t(locale, f"method.{request.payment_method}")),
        ("field.invoice_number", escape(request.invoice_number) if request.invoice_number else "—"),
    ]
    if request.payment_code:
        pairs.append(("field.payment_code.short", f"`{escape(request.payment_code)}`"))
    if (request.installments or 1) > 1:
        pairs.append(("field.installments", t(locale, "installments.monthly", count=request.installments)))
    blocks = []
    if request.possible_duplicates:
        warning = t(locale, "duplicate.flag", found=escape(request.possible_duplicates))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(warning, SECTION_TEXT_LIMIT))))
    blocks += [
        SectionBlock(text=MarkdownTextObject(text=clip(f"*{escape(request.description)}*", SECTION_TEXT_LIMIT))),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=clip(f"*{t(locale, key)}*\n{value}", FIELD_TEXT_LIMIT)) for key, value in pairs
            ]
        ),
    ]
    if request.attachments:
        links = ", ".join(
            f"<{a['permalink']}|{escape(str(a['name']))}>" if a.get("permalink") else escape(str(a["name"]))
            for a in request.attachments
        )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(f"📎 *{t(locale, 'field.attachments')}*: {links}", SECTION_TEXT_LIMIT)
                )
            )
        )
    if request.notes:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(f"*{t(locale, 'field.notes')}*\n{escape(request.notes)}", SECTION_TEXT_LIMIT)
                )
            )
        )
    return blocks


@dataclass(frozen=True, slots=True)
class StepRef:
    """What a button points at: a request and, for decisions, the step it decides."""

    request_id: int
    step: int | None = None
    round: int | None = None  # the approval round: a button from before an edit restarted approval decides nothing

    def encode(self) -> str:
        data: dict[str, int] = {"r": self.request_id}
        if self.step is not None:
            data["s"] = self.step
        if self.round is not None:
            data["n"] = self.round
        return json.dumps(data)

    @classmethod
    def decode(cls, value: str) -> StepRef:
        """Raises ValueError for anything that is not a value we wrote."""
        try:
            data = json.loads(value)
            request_id, step, round_ = data["r"], data.get("s"), data.get("n")
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a request reference: {value[:80]!r}") from exc
        if not isinstance(request_id, int) or not all(v is None or isinstance(v, int) for v in (step, round_)):
            raise ValueError(f"not a request reference: {value[:80]!r}")
        return cls(request_id=request_id, step=step, round=round_)
