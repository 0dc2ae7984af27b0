"""The App Home tab, per person: what waits for my approval (with the buttons), my requests, and for finance admins
the Conta Azul connection, failed postings with Retry, and this month's totals by category and cost center.

Slack allows 100 blocks in a Home tab: the lists are paged (``PAGE_SIZE`` each) and the totals capped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.fields import StepRef, clip, decision_value, escape
from bot.blocks.i18n import Locale, day, money, t
from bot.blocks.request_messages import mentions
from bot.blocks.rules import build_rules_section
from bot.ids import ActionId
from ledger.contaazul.oauth import ConnectionInfo
from ledger.domain import RequestStatus, StepStatus
from ledger.read_models import DelegationView, RequestView
from ledger.rules import Rules

MAX_LISTED = 10  # my requests; with the rest, kept under Slack's 100-block limit
PAGE_SIZE = 8  # requests waiting for me, each a section and its buttons
MAX_FAILED = 5
MAX_TOTALS = 8


@dataclass(frozen=True, slots=True)
class AdminPanel:
    """What a finance admin sees first: is Conta Azul usable, what failed, where the month's money goes."""

    connection: ConnectionInfo | None
    contaazul_configured: bool
    failed: list[tuple[RequestView, str]] = field(default_factory=list)  # request, reason in words
    month: date | None = None
    by_category: list[tuple[str, int, Decimal]] = field(default_factory=list)
    by_cost_center: list[tuple[str, int, Decimal]] = field(default_factory=list)
    receivables: tuple[int, Decimal] = (0, Decimal("0.00"))
    rules: Rules | None = None
    delegations: list[DelegationView] = field(default_factory=list)


def page_value(page: int) -> str:
    return json.dumps({"waiting_page": page})


def parse_page(value: str | None) -> int:
    try:
        page = json.loads(value or "{}").get("waiting_page", 0)
    except (ValueError, AttributeError):
        return 0
    return page if isinstance(page, int) and 0 <= page < 10_000 else 0


def _line(request: RequestView, locale: Locale) -> str:
    text = (
        f"*{request.reference}* · {escape(request.vendor_name)} · {money(request.amount, locale)} · "
        f"{day(request.due_date, locale)}\n{t(locale, f'status.{request.status}')}"
    )
    open_step = next((s for s in request.steps if s.status == StepStatus.OPEN), None)
    if open_step is not None and request.status == RequestStatus.PENDING:
        text += " · " + t(locale, "home.next", step=escape(open_step.name), approvers=mentions(open_step.approvers))
    if request.contaazul_id:
        text += " · " + t(locale, "tracking.contaazul_id", id=escape(request.contaazul_id))
    return clip(text, 3000)


def _waiting(requests: list[RequestView], page: int, locale: Locale) -> list[Block]:
    pages = max(1, -(-len(requests) // PAGE_SIZE))
    page = min(page, pages - 1)
    blocks: list[Block] = []
    for request in requests[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        position = request.current_step or 0
        ref = decision_value(request, position)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_line(request, locale))))
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        action_id=ActionId.APPROVE.value, text=t(locale, "button.approve"), value=ref, style="primary"
                    ),
                    ButtonElement(
                        action_id=ActionId.REJECT.value, text=t(locale, "button.reject"), value=ref, style="danger"
                    ),
                    ButtonElement(
                        action_id=ActionId.HISTORY.value,
                        text=t(locale, "button.history"),
                        value=StepRef(request.id).encode(),
                    ),
                ]
            )
        )
    if pages > 1:
        buttons = []
        if page > 0:
            buttons.append(
                ButtonElement(
                    action_id=ActionId.HOME_PAGE_BACK.value, text=t(locale, "home.previous"), value=page_value(page - 1)
                )
            )
        if page < pages - 1:
            buttons.append(
                ButtonElement(
                    action_id=ActionId.HOME_PAGE.value, text=t(locale, "home.more"), value=page_value(page + 1)
                )
            )
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=t(locale, "home.page", page=page + 1, pages=pages, count=len(requests)))
                ]
            )
        )
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def _admin(panel: AdminPanel, locale: Locale, tz: ZoneInfo) -> list[Block]:
    if not panel.contaazul_configured:
        status = t(locale, "home.ca.not_configured")
    elif panel.connection is None:
        status = t(locale, "home.ca.not_connected")
    elif panel.connection.needs_reconnect:
        status = t(locale, "home.ca.reconnect", company=escape(panel.connection.company_name))
    else:
        account = escape(panel.connection.default_account_name or t(locale, "home.ca.no_account"))
        status = t(locale, "home.ca.connected", company=escape(panel.connection.company_name), account=account)
    blocks: list[Block] = [
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, 'home.admin')}*\n{status}")),
    ]
    if panel.failed:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, 'home.failed', count=len(panel.failed))}*"))
        )
        for request, reason in panel.failed[:MAX_FAILED]:
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(text=clip(f"{_line(request, locale)}\n{reason}", 3000)),
                    accessory=ButtonElement(
                        action_id=ActionId.RETRY_POSTING.value,
                        text=t(locale, "button.retry"),
                        value=StepRef(request.id).encode(),
                        style="primary",
                    ),
                )
            )
        if len(panel.failed) > MAX_FAILED:
            more = t(locale, "home.list_more", count=len(panel.failed) - MAX_FAILED)
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    if panel.month is not None:
        month = panel.month.strftime("%m/%Y")
        for key, totals in (("home.by_category", panel.by_category), ("home.by_cost_center", panel.by_cost_center)):
            lines = [
                f"{escape(name)}: {money(total, locale)} ({count})" for name, count, total in totals[:MAX_TOTALS]
            ] or [t(locale, "home.none")]
            if len(totals) > MAX_TOTALS:
                lines.append(t(locale, "home.list_more", count=len(totals) - MAX_TOTALS))
            text = f"*{t(locale, key, month=month)}*\n" + "\n".join(lines)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))))
        count, total = panel.receivables
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=t(locale, "home.receivables", count=count, total=money(total, locale)))
                ]
            )
        )
    if panel.rules is not None:
        blocks += [DividerBlock(), *build_rules_section(panel.rules, panel.delegations, locale=locale, tz=tz)]
    return blocks


def build_home(
    *,
    mine: list[RequestView],
    waiting: list[RequestView],
    command: str,
    locale: Locale,
    tz: ZoneInfo,
    admin: AdminPanel | None = None,
    page: int = 0,
) -> View:
    blocks: list[Block] = [
        HeaderBlock(text=t(locale, "home.title")),
        ContextBlock(elements=[MarkdownTextObject(text=t(locale, "home.how_to", command=command))]),
    ]
    if admin is not None:
        blocks += _admin(admin, locale, tz)
    blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, 'home.waiting')}*"))]
    if waiting:
        blocks += _waiting(waiting, page, locale)
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t(locale, "home.none"))]))
    blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=f"*{t(locale, 'home.mine')}*"))]
    if not mine:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t(locale, "home.none"))]))
    blocks += [SectionBlock(text=MarkdownTextObject(text=_line(r, locale))) for r in mine[:MAX_LISTED]]
    return View(type="home", blocks=blocks)
