"""The daily digest for the finance channel: what waits, what was posted or rejected, what failed."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock

from bot.blocks.fields import FIELD_TEXT_LIMIT, SECTION_TEXT_LIMIT, clip
from bot.blocks.i18n import Locale, day, moment, money, t
from ledger.jobs import Digest

MAX_REFERENCES = 30  # beyond this, "and N more": the list is a pointer, the finance notices hold the detail


def build_digest(digest: Digest, *, locale: Locale, tz: ZoneInfo) -> tuple[str, list[Block]]:
    """The digest message: (notification text, blocks)."""
    when = day(digest.day, locale)
    text = t(
        locale,
        "digest.text",
        day=when,
        pending=digest.pending_count,
        posted=digest.posted_count,
        failed=len(digest.failed_references),
    )

    def figure(key: str, count: int, total: Decimal) -> MarkdownTextObject:
        return MarkdownTextObject(text=clip(t(locale, key, count=count, total=money(total, locale)), FIELD_TEXT_LIMIT))

    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(t(locale, "digest.header", day=when), 150))),
        SectionBlock(
            fields=[
                figure("digest.pending", digest.pending_count, digest.pending_total),
                figure("digest.awaiting_posting", digest.awaiting_posting_count, digest.awaiting_posting_total),
                figure("digest.posted", digest.posted_count, digest.posted_total),
                figure("digest.rejected", digest.rejected_count, digest.rejected_total),
                figure("digest.receivables", digest.receivables_posted_count, digest.receivables_posted_total),
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text=_failures(digest, locale))),
        ContextBlock(
            elements=[
                MarkdownTextObject(text=t(locale, "digest.generated", when=moment(digest.generated_at, locale, tz)))
            ]
        ),
    ]
    return text, blocks


def _failures(digest: Digest, locale: Locale) -> str:
    references = digest.failed_references
    if not references:
        return t(locale, "digest.no_failures")
    shown = ", ".join(f"`{r}`" for r in references[:MAX_REFERENCES])
    if len(references) > MAX_REFERENCES:
        shown += " " + t(locale, "digest.more", count=len(references) - MAX_REFERENCES)
    return clip(t(locale, "digest.failed", count=len(references), references=shown), SECTION_TEXT_LIMIT)
