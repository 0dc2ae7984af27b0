"""A request's History button, and ``/pagamento export <month>``: the traceability finance needs at monthly close."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.export import build_audit_csv, build_requests_csv, parse_month
from bot.blocks.fields import StepRef, is_person
from bot.blocks.history import build_history_modal
from bot.blocks.i18n import t
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import ActionId
from bot.middleware import Actor, tell, with_request_ref
from bot.settings import Settings
from ledger import may_see

log = logging.getLogger(__name__)


async def handle_history(
    ack: AsyncAck, body: dict[str, Any], ref: StepRef, actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """Open the audit trail in a modal right away (the trigger id is good for 3 seconds)."""
    await ack()
    request = await deps.ledger.request(ref.request_id)
    if request.team_id != actor.team_id or not may_see(request, actor.user_id, is_finance_admin=actor.is_admin):
        log.info("refused the history of %s to %s", request.reference, actor.user_id)
        await tell(client, actor, t(actor.locale, "notice.history_not_allowed", reference=request.reference))
        return
    events = await deps.ledger.history(request.id)
    view = build_history_modal(request, events, locale=actor.locale, tz=deps.settings.timezone)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def export_month(client: AsyncWebClient, deps: Deps, actor: Actor, *, command: str, text: str) -> None:
    """Upload the month's requests and their audit trail as two CSV files, in the admin's DM."""
    locale = actor.locale
    first_day = parse_month(text, today=deps.clock.today())
    if first_day is None:
        await tell(client, actor, t(locale, "export.bad_month", command=command))
        return
    requests, trails = await deps.ledger.month(actor.team_id, first_day)
    people = {r.requester_id for r in requests} | {s.decided_by for r in requests for s in r.steps if s.decided_by}
    people |= {e.actor_id for events in trails.values() for e in events if e.actor_id}
    names = {p: await deps.people.name(client, p) for p in sorted(people) if is_person(p)}
    tz, month = deps.settings.timezone, first_day.strftime("%Y-%m")
    try:
        dm = (await client.conversations_open(users=actor.user_id))["channel"]["id"]
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
        log.error("could not upload the %s export for %s: %s", month, actor.user_id, error)
        await tell(client, actor, t(locale, "export.failed", error=error))
        return
    await deps.ledger.audit(actor.team_id, actor_id=actor.user_id, action="exported", month=month)
    log.info("exported %s (%s requests) for %s", month, len(requests), actor.user_id)


def register(app: Listeners, settings: Settings) -> None:
    app.action(ActionId.HISTORY.value, middleware=[with_request_ref()])(handle_history)
