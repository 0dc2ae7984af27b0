"""The App Home tab: how to file a request, my recent requests, and what waits for my approval."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.blocks.fields import clip, escape
from bot.blocks.i18n import Locale, day, money, t
from ledger.models import PaymentRequest

MAX_LISTED = 20  # keeps the tab far under Slack's 100-block limit


def _line(request: PaymentRequest, locale: Locale) -> str:
    return clip(
        f"*{request.reference}* · {escape(request.vendor_name)} · {money(request.amount, locale)} · "
        f"{day(request.due_date, locale)}\n{t(locale, f'status.{request.status}')}",
        3000,
    )


def build_home(
    *, mine: list[PaymentRequest], waiting: list[PaymentRequest], command: str, locale: Locale, tz: ZoneInfo
) -> View:
    blocks: list[Block] = [
        HeaderBlock(text=t(locale, "home.title")),
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "home.how_to", command=command))]),
    ]
    for title, requests in (("home.waiting", waiting), ("home.mine", mine)):
        blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, title)}*"))]
        if not requests:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t(locale, "home.none"))]))
        blocks += [SectionBlock(text=MarkdownTextObject(text=_line(r, locale))) for r in requests[:MAX_LISTED]]
    return View(type="home", blocks=blocks)
