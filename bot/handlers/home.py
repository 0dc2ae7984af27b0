"""App Home: a person's own requests, the ones waiting for them, and for finance admins the state of the books."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import AdminPanel, build_home, parse_page
from bot.blocks.i18n import Locale, t
from bot.blocks.posting_messages import failure_reason
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import ActionId
from bot.middleware import Actor
from bot.settings import Settings
from ledger import queries, rules
from ledger.domain import RequestKind, RequestStatus
from ledger.read_models import RequestView

log = logging.getLogger(__name__)
ENDED = (RequestStatus.REJECTED, RequestStatus.CANCELLED)


async def publish_home(client: AsyncWebClient, deps: Deps, actor: Actor, *, page: int = 0) -> None:
    """Render the person's Home tab afresh (after opening it, paging, or deciding from it)."""
    team_id, user_id = actor.team_id, actor.user_id
    admin = await admin_panel(deps, team_id, actor.locale) if actor.is_admin else None
    view = build_home(
        mine=await queries.recent_requests(deps.session_factory, team_id=team_id, requester_id=user_id),
        waiting=await queries.waiting_for(deps.session_factory, team_id=team_id, approver_id=user_id, limit=200),
        command=deps.settings.payment_commands[0],
        locale=actor.locale,
        tz=deps.settings.timezone,
        admin=admin,
        page=page,
    )
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        log.warning("could not publish the home tab of %s: %s", user_id, exc.response.get("error"))


async def admin_panel(deps: Deps, team_id: str, locale: Locale) -> AdminPanel:
    connection = await deps.contaazul.connection(team_id) if deps.contaazul is not None else None
    failed = []
    for request in await queries.requests_with_status(
        deps.session_factory, team_id=team_id, status=RequestStatus.POST_FAILED
    ):
        posting = await deps.ledger.posting(request.id)
        if posting is not None:
            failed.append((request, failure_reason(request, posting, locale=locale)))
    today = deps.clock.today()
    month = date(today.year, today.month, 1)
    live = [
        r
        for r in await queries.requests_of_month(deps.session_factory, team_id=team_id, first_day=month)
        if r.status not in ENDED
    ]
    payables = [r for r in live if r.kind == RequestKind.PAYABLE]
    receivables = [r for r in live if r.kind == RequestKind.RECEIVABLE]
    return AdminPanel(
        connection=connection,
        contaazul_configured=deps.contaazul is not None,
        failed=failed,
        month=month,
        by_category=_totals(payables, lambda r: r.category),
        by_cost_center=_totals(payables, lambda r: r.cost_center or t(locale, "home.no_cost_center")),
        receivables=(len(receivables), sum((r.amount for r in receivables), Decimal("0.00"))),
        rules=await deps.ledger.rules(team_id),
        delegations=await rules.delegations(deps.session_factory, team_id=team_id, on_or_after=today),
    )


def _totals(requests: list[RequestView], key: Any) -> list[tuple[str, int, Decimal]]:
    """(name, count, total) per key, largest total first."""
    sums: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal("0.00")])
    for request in requests:
        entry = sums[key(request)]
        entry[0] += 1
        entry[1] += request.amount
    return sorted(((name, n, total) for name, (n, total) in sums.items()), key=lambda item: (-item[2], item[0]))


async def handle_home_opened(event: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient) -> None:
    if event.get("tab", "home") == "home":
        await publish_home(client, deps, actor)


async def handle_home_page(
    ack: AsyncAck, action: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    await ack()
    await publish_home(client, deps, actor, page=parse_page(action.get("value")))


def register(app: Listeners, settings: Settings) -> None:
    app.event("app_home_opened")(handle_home_opened)
    app.action(ActionId.HOME_PAGE.value)(handle_home_page)
    app.action(ActionId.HOME_PAGE_BACK.value)(handle_home_page)
