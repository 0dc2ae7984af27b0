"""What people read about a posting: the thread reply, the finance notice with Retry, plain-words reasons."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.blocks.fields import SECTION_TEXT_LIMIT, StepRef, clip, escape, mention
from bot.blocks.i18n import MESSAGES, Locale, day, moment, money, t
from bot.ids import ActionId
from ledger.domain import RequestKind
from ledger.outbox import COUNTERPARTY_MISMATCH
from ledger.read_models import PostingView, RequestView

# No per-entry link exists in Conta Azul's web app; the payables list is the closest honest target.
PAYABLES_URL = "https://pro.contaazul.com/#/ca/financeiro/contas-a-pagar"
RECEIVABLES_URL = "https://app.contaazul.com/#/ca/financeiro/contas-a-receber"  # seen in use (reference §7)


def failure_reason(request: RequestView, posting: PostingView, *, locale: Locale) -> str:
    code = posting.error_code if f"reason.{posting.error_code}" in MESSAGES else "rejected"
    detail = escape((posting.error_detail or "")[:300])
    return t(locale, f"reason.{code}", category=escape(request.category), detail=detail)


def build_posted_reply(request: RequestView, posting: PostingView, *, locale: Locale) -> str:
    """The thread reply of a posted request, with the warning finance also gets when Conta Azul shows another
    counterparty on the entry."""
    receivable = request.kind == RequestKind.RECEIVABLE
    reply = t(
        locale,
        "thread.posted_receivable" if receivable else "thread.posted",
        mention=mention(request),
        vendor=escape(request.vendor_name),
        amount=money(request.amount, locale),
        due=day(request.due_date, locale),
        installments=f"({t(locale, 'installments.monthly', count=request.installments)}) "
        if (request.installments or 1) > 1
        else "",
        id=request.contaazul_id or "—",
        url=RECEIVABLES_URL if receivable else PAYABLES_URL,
    )
    if posting.error_code != COUNTERPARTY_MISMATCH:
        return reply
    warning = t(locale, "thread.counterparty_mismatch", **_mismatch(request, posting, locale))
    return clip(f"{reply}\n{warning}", SECTION_TEXT_LIMIT)


def build_finance_mismatch(request: RequestView, posting: PostingView, *, locale: Locale) -> tuple[str, list[Block]]:
    """Finance's notice that a request was posted with another counterparty than the one sent (nothing to retry:
    the entry exists, and is fixed in Conta Azul)."""
    text = t(
        locale,
        "finance.counterparty_mismatch",
        reference=request.reference,
        amount=money(request.amount, locale),
        id=request.contaazul_id or "—",
        **_mismatch(request, posting, locale),
    )
    text = clip(text, SECTION_TEXT_LIMIT)
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]


def _mismatch(request: RequestView, posting: PostingView, locale: Locale) -> dict[str, str]:
    party = "party.customer" if request.kind == RequestKind.RECEIVABLE else "party.vendor"
    shown = escape(posting.error_detail[:200]) if posting.error_detail else t(locale, "party.none")
    return {"party": t(locale, party), "shown": shown, "vendor": escape(request.vendor_name)}


def build_failed_reply(request: RequestView, posting: PostingView, *, locale: Locale) -> str:
    reason = failure_reason(request, posting, locale=locale)
    return clip(t(locale, "thread.post_failed", mention=mention(request), reason=reason), SECTION_TEXT_LIMIT)


def build_finance_failure(
    request: RequestView,
    posting: PostingView,
    *,
    locale: Locale,
    retried_by: str | None = None,
    retried_at: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> tuple[str, list[Block]]:
    """The finance channel's notice; its Retry button is replaced once an admin retries."""
    text = clip(
        t(
            locale,
            "finance.post_failed",
            reference=request.reference,
            vendor=escape(request.vendor_name),
            amount=money(request.amount, locale),
            reason=failure_reason(request, posting, locale=locale),
        ),
        SECTION_TEXT_LIMIT,
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    if retried_by and retried_at and tz:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=t(locale, "finance.retry_requested", actor=retried_by, when=moment(retried_at, locale, tz))
                    )
                ]
            )
        )
    else:
        blocks.append(
            ActionsBlock(
                block_id="posting",
                elements=[
                    ButtonElement(
                        action_id=ActionId.RETRY_POSTING.value,
                        text=t(locale, "button.retry"),
                        value=StepRef(request.id).encode(),
                        style="primary",
                    )
                ],
            )
        )
    return text, blocks
