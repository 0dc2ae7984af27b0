"""App Home: a person's own requests, the ones waiting for them, and for finance admins the state of the books."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import AdminPanel, build_home, parse_page
from bot.blocks.i18n import t
from bot.blocks.posting_messages import failure_reason
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import ActionId
from bot.middleware import Actor
from bot.settings import Settings

log = logging.getLogger(__name__)


async def publish_home(client: AsyncWebClient, deps: Deps, actor: Actor, *, page: int = 0) -> None:
    """Render the person's Home tab afresh (after opening it, paging, or deciding from it)."""
    view = build_home(
        mine=await deps.ledger.requests_of(actor.team_id, actor.user_id),
        waiting=await deps.ledger.waiting_for(actor.team_id, actor.user_id),
        command=deps.settings.payment_commands[0],
        locale=actor.locale,
        tz=deps.settings.timezone,
        admin=await admin_panel(deps, actor) if actor.is_admin else None,
        page=page,
    )
    try:
        await client.views_publish(user_id=actor.user_id, view=view)
    except SlackApiError as exc:
        log.warning("could not publish the home tab of %s: %s", actor.user_id, exc.response.get("error"))


async def admin_panel(deps: Deps, actor: Actor) -> AdminPanel:
    today = deps.clock.today()
    totals = await deps.ledger.month_totals(actor.team_id, date(today.year, today.month, 1))
    no_cost_center = t(actor.locale, "home.no_cost_center")
    return AdminPanel(
        connection=await deps.contaazul.connection(actor.team_id) if deps.contaazul is not None else None,
        contaazul_configured=deps.contaazul is not None,
        failed=[
            (request, failure_reason(request, posting, locale=actor.locale))
            for request, posting in await deps.ledger.failed_postings(actor.team_id)
        ],
        month=totals.month,
        by_category=[(name or "", n, total) for name, n, total in totals.by_category],
        by_cost_center=[(name or no_cost_center, n, total) for name, n, total in totals.by_cost_center],
        receivables=totals.receivables,
        rules=await deps.ledger.rules(actor.team_id),
        delegations=await deps.ledger.delegations(actor.team_id),
    )


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
