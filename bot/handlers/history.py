"""A request's History button, and ``/pagamento export <month>``: the traceability finance needs at monthly close."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.export import build_audit_csv, build_requests_csv, parse_month
from bot.blocks.fields import StepRef, is_person
from bot.blocks.history import build_history_modal
from bot.blocks.i18n import t
from bot.deps import Deps
from bot.handlers.common import deps_of, ephemeral, is_finance_admin
from bot.ids import ActionId
from bot.settings import Settings
from ledger import flows, queries
from ledger.access import may_see_without_admin
from ledger.errors import RequestNotFound
from ledger.read_models import RequestView

log = logging.getLogger(__name__)


async def may_see(client: AsyncWebClient, deps: Deps, request: RequestView, user_id: str) -> bool:
    """The requester, anyone asked to approve it, and the finance admins."""
    return may_see_without_admin(request, user_id) or await is_finance_admin(client, deps, user_id)


async def handle_history(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Open the audit trail in a modal right away (the trigger id is good for 3 seconds)."""
    await ack()
    deps = deps_of(context)
    user_id = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or user_id
    try:
        request = await flows.get_request(
            deps.session_factory, request_id=StepRef.decode(action.get("value") or "").request_id
        )
    except (ValueError, RequestNotFound):
        log.warning("ignoring a History button with an unknown value")
        return
    locale = await deps.people.get(client, user_id)
    if request.team_id != (context.team_id or request.team_id) or not await may_see(client, deps, request, user_id):
        log.info("refused the history of %s to %s", request.reference, user_id)
        await ephemeral(
            client,
            channel=channel,
            user_id=user_id,
            text=t(locale, "notice.history_not_allowed", reference=request.reference),
        )
        return
    events = await flows.audit_trail(deps.session_factory, request_id=request.id)
    view = build_history_modal(request, events, locale=locale, tz=deps.settings.timezone)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def export_month(client: AsyncWebClient, deps: Deps, body: dict[str, Any], text: str) -> None:
    """Upload the month's requests and their audit trail as two CSV files, in the admin's DM."""
    user_id, team_id = body["user_id"], body["team_id"]
    channel = body.get("channel_id") or user_id
    locale = await deps.people.get(client, user_id)
    command = body.get("command") or deps.settings.payment_commands[0]
    if not await is_finance_admin(client, deps, user_id):
        log.info("refused an export to non-admin %s", user_id)
        await ephemeral(client, channel=channel, user_id=user_id, text=t(locale, "export.not_admin"))
        return
    first_day = parse_month(text, today=deps.clock.today())
    if first_day is None:
        await ephemeral(client, channel=channel, user_id=user_id, text=t(locale, "export.bad_month", command=command))
        return
    requests = await queries.requests_of_month(deps.session_factory, team_id=team_id, first_day=first_day)
    trails = await queries.audit_trails(deps.session_factory, request_ids=[r.id for r in requests])
    people = {r.requester_id for r in requests} | {s.decided_by for r in requests for s in r.steps if s.decided_by}
    people |= {e.actor_id for events in trails.values() for e in events if e.actor_id}
    names = {p: await deps.people.name(client, p) for p in sorted(people) if is_person(p)}
    tz, month = deps.settings.timezone, first_day.strftime("%Y-%m")
    try:
        dm = (await client.conversations_open(users=user_id))["channel"]["id"]
        await client.files_upload_v2(
            channel=dm,
            initial_comment=t(locale, "export.comment", month=first_day.strftime("%m/%Y"), count=len(requests)),
            file_uploads=[
                {
                    "content": build_requests_csv(requests, names=names, locale=locale, tz=tz),
                    "filename": f"aprova-{month}-pedidos.csv",
                    "title": f"Aprova {month} — pedidos",
                },
                {
                    "content": build_audit_csv(requests, trails, names=names, locale=locale, tz=tz),
                    "filename": f"aprova-{month}-historico.csv",
                    "title": f"Aprova {month} — histórico",
                },
            ],
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        log.error("could not upload the %s export for %s: %s", month, user_id, error)
        await ephemeral(client, channel=channel, user_id=user_id, text=t(locale, "export.failed", error=error))
        return
    await flows.audit(
        deps.session_factory, clock=deps.clock, team_id=team_id, actor_id=user_id, action="exported", month=month
    )
    log.info("exported %s (%s requests) for %s", month, len(requests), user_id)


def register(app: AsyncApp, settings: Settings) -> None:
    app.action(ActionId.HISTORY.value)(handle_history)
