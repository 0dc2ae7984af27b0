"""Pieces every request message shares: the fields section, payloads carried by buttons."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.blocks.i18n import Locale, day, money, t
from ledger.domain import RequestKind
from ledger.duplicates import PossibleDuplicate, decode_duplicates
from ledger.errors import InvalidValue
from ledger.payment_code import PaymentInstrument, read_payment_code
from ledger.read_models import RequestView
from ledger.terms import short_digest
from ledger.validation import PixKey, mask_document, mask_pix_key, parse_document, parse_pix_key

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


def mention(request: RequestView) -> str:
    """``<@U…> `` to start a thread reply that pings the requester, or nothing for a CRM deal."""
    return f"<@{request.requester_id}> " if is_person(request.requester_id) else ""


def requester(request: RequestView, locale: Locale) -> str:
    """Who asked: the person, or the CRM the deal came from."""
    if is_person(request.requester_id):
        return f"<@{request.requester_id}>"
    return t(locale, f"source.{request.source}")


def counterparty_key(request: RequestView) -> str:
    """The label of the other party: the vendor of a payable, the customer of a receivable."""
    return "field.customer_name" if request.kind == RequestKind.RECEIVABLE else "field.vendor_name"


def vendor_label(request: RequestView, *, shared: bool = False) -> str:
    """The counterparty and its document."""
    if not request.vendor_document:
        return escape(request.vendor_name)
    return f"{escape(request.vendor_name)} ({document_text(request.vendor_document, shared=shared)})"


def document_text(value: str, *, shared: bool) -> str:
    """A CPF/CNPJ formatted; where others read (``shared``), a person's CPF masked (a company's CNPJ is public)."""
    try:
        document = parse_document(value)
    except InvalidValue:
        return mask_document(value) if shared else value
    return document.masked if shared and document.kind == "CPF" else document.formatted


def request_fields(request: RequestView, locale: Locale, *, shared: bool = False) -> list[SectionBlock]:
    """Description, then every field formatted for ``locale`` (R$ 1.234,56, dd/mm/aaaa).

    ``shared``: for a message the whole channel reads (the tracking message). A CPF and a PIX key are personal data
    (LGPD) that only the approvers need whole, in their own DM; here they are masked.
    """
    pairs = [
        (counterparty_key(request), vendor_label(request, shared=shared)),
        ("field.amount", f"*{money(request.amount, locale)}*"),
        ("field.due_date", day(request.due_date, locale)),
        ("field.competence_date", day(request.competence_date, locale)),
        ("field.category", escape(request.category)),
        ("field.cost_center", escape(request.cost_center) if request.cost_center else "—"),
        ("field.payment_method", t(locale, f"method.{request.payment_method}")),
        ("field.invoice_number", escape(request.invoice_number) if request.invoice_number else "—"),
    ]
    if request.payment_code:
        pairs.append(("field.payment_code.short", payment_code_text(request, locale, shared=shared)))
    account = request.financial_account_name or request.financial_account_id
    pairs.append(("field.account", escape(account) if account else t(locale, "field.account.default")))
    if (request.installments or 1) > 1:
        pairs.append(("field.installments", t(locale, "installments.monthly", count=request.installments)))
    blocks = []
    if duplicates := decode_duplicates(request.possible_duplicates):
        warning = t(locale, "duplicate.flag", found=describe_duplicates(duplicates, locale))
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
            f"<{a.permalink}|{escape(a.name)}>" if a.permalink else escape(a.name) for a in request.attachments
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


def describe_instrument(instrument: PaymentInstrument, locale: Locale, *, shared: bool = False) -> str:
    """One line for people: what the code pays, to whom, how much and when (``—`` for free text); ``shared``: the
    PIX key masked."""
    parts: list[str] = []
    if instrument.kind == "bank_slip":
        parts.append(t(locale, "decoded.bank_slip", bank=instrument.bank_code or "—"))
    elif instrument.kind == "collection_slip":
        parts.append(t(locale, "decoded.collection_slip"))
    elif instrument.kind == "pix_key" and instrument.pix_key is not None:
        key = instrument.pix_key
        return t(locale, "decoded.pix_key", kind=t(locale, f"pix.kind.{key.kind}"), pix=_pix(key, shared))
    elif instrument.kind == "pix_code":
        parts.append(t(locale, "decoded.pix_code", name=instrument.receiver_name, city=instrument.city))
        if instrument.pix_key is not None:
            parts.append(t(locale, "decoded.pix_code_key", pix=_pix(instrument.pix_key, shared)))
        elif instrument.url:
            parts.append(t(locale, "decoded.pix_code_url"))
    else:
        return "—"
    amount = instrument.amount
    parts.append(
        t(locale, "decoded.amount", amount=money(amount, locale))
        if amount is not None
        else t(locale, "decoded.amount_open")
    )
    if instrument.due_date is not None:
        parts.append(t(locale, "decoded.due", due=day(instrument.due_date, locale)))
    if instrument.txid:
        parts.append(t(locale, "decoded.txid", txid=instrument.txid))
    return " · ".join(parts)


def describe_duplicates(found: list[PossibleDuplicate], locale: Locale) -> str:
    """``PAG-2026-000001, no Conta Azul: Farinha (R$ 1.234,56, vencimento 10/12/2026)`` in the reader's language."""
    parts = []
    for item in found:
        if item.reference:
            parts.append(escape(item.reference))
        elif item.description is not None and item.amount is not None and item.due is not None:
            amount, due = money(item.amount, locale), day(item.due, locale)
            parts.append(t(locale, "duplicate.in_books", description=escape(item.description), amount=amount, due=due))
        elif item.text:
            parts.append(escape(item.text))
    return ", ".join(parts)


def _pix(key: PixKey, shared: bool) -> str:
    return mask_pix_key(key) if shared else key.value


def payment_code_text(request: RequestView, locale: Locale, *, shared: bool = False) -> str:
    """The code and, first, what it says (bank, amount, due date; PIX receiver and key): approvers see the
    decoded values, not just digits. ``shared``: the PIX key masked and a PIX code (which carries the key) left out;
    in free text (bank details), a CPF/CNPJ or a PIX key masked."""
    code = request.payment_code or ""
    try:
        instrument = _read_code(request.payment_method, code, request.created_at.date())
    except (InvalidValue, ValueError):
        return f"`{escape(_masked_text(code) if shared else code)}`"
    summary = describe_instrument(instrument, locale, shared=shared)
    if shared and instrument.kind in ("pix_key", "pix_code"):
        return escape(summary)
    if shared and instrument.kind == "text":
        code = _masked_text(code)
    return f"`{escape(code)}`" if summary == "—" else f"{escape(summary)}\n`{escape(code)}`"


@lru_cache(maxsize=4096)
def _read_code(method: str, code: str, today: date) -> PaymentInstrument:
    """Each message of a request shows its code: read once (the reading is pure)."""
    return read_payment_code(method, code, today=today)


def _masked_text(text: str) -> str:
    """Free text (bank details) for a shared channel: a PIX key typed alone masked, any CPF/CNPJ in it masked."""
    try:
        return mask_pix_key(parse_pix_key(text))
    except InvalidValue:
        return mask_document(text)


def fingerprint_line(request: RequestView, locale: Locale) -> str:
    """The approval fingerprint in short form, for people to compare what they approve."""
    return t(locale, "approval.fingerprint", code=short_digest(request.terms_digest))


def decision_value(request: RequestView, position: int) -> str:
    """What an Approve/Reject button carries: the step, the approval round and the fingerprint it was drawn with."""
    digest = short_digest(request.terms_digest) if request.terms_digest else None
    return StepRef(request.id, position, request.approval_round, digest).encode()


@dataclass(frozen=True, slots=True)
class StepRef:
    """What a button points at: a request and, for decisions, the step it decides."""

    request_id: int
    step: int | None = None
    round: int | None = None  # the approval round: a button from before an edit restarted approval decides nothing
    digest: str | None = None  # the short fingerprint the message showed: a decision applies to exactly that

    def encode(self) -> str:
        data: dict[str, int | str] = {"r": self.request_id}
        if self.step is not None:
            data["s"] = self.step
        if self.round is not None:
            data["n"] = self.round
        if self.digest is not None:
            data["f"] = self.digest
        return json.dumps(data)

    @classmethod
    def decode(cls, value: str) -> StepRef:
        """Raises ValueError for anything that is not a value we wrote."""
        try:
            data = json.loads(value)
            request_id, step, round_, digest = data["r"], data.get("s"), data.get("n"), data.get("f")
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a request reference: {value[:80]!r}") from exc
        if not isinstance(request_id, int) or not all(v is None or isinstance(v, int) for v in (step, round_)):
            raise ValueError(f"not a request reference: {value[:80]!r}")
        if digest is not None and not isinstance(digest, str):
            raise ValueError(f"not a request reference: {value[:80]!r}")
        return cls(request_id=request_id, step=step, round=round_, digest=digest)
