"""A request's History button, and ``/pagamento export <month>``: the traceability finance needs at monthly close."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
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


def register(app: Listeners, settings: Settings) -> None:
    app.action(ActionId.HISTORY.value, middleware=[with_request_ref()])(handle_history)
