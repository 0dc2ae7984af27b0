"""The App Home tab, drawn afresh for one person: their requests, what waits for them, and for finance admins the
state of the books. Opened from the Home listeners, and refreshed after an action taken in the tab."""

from __future__ import annotations

import logging
from datetime import date

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import AdminPanel, build_home
from bot.blocks.i18n import t
from bot.blocks.posting_messages import failure_reason
from bot.deps import Deps
from bot.middleware import Actor

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
