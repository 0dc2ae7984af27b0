"""``/pagamento export <month>``: the month's requests and their audit trail as two CSV files in the admin's DM,
for the monthly close."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.export import build_audit_csv, build_requests_csv, parse_month
from bot.blocks.fields import is_person
from bot.blocks.i18n import t
from bot.deps import Deps
from bot.middleware import Actor, tell

log = logging.getLogger(__name__)


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
