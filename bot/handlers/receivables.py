"""``/contaazul receivable``: a finance admin posts a receivable by hand, through the same flow as won deals."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import t
from bot.blocks.receivable_modal import parse_receivable_modal
from bot.blocks.reject_modal import build_notice_modal
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import CallbackId
from bot.middleware import Actor, require_finance_admin
from bot.people import SlackDirectory
from bot.settings import Settings

log = logging.getLogger(__name__)


async def handle_receivable_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """Validate, store (approved, or pending when receivables need approval) and hand over to the posting worker."""
    if deps.contaazul is None:  # the modal is only offered with Conta Azul configured: a replayed payload
        await ack(
            response_action="update", view=build_notice_modal(t(actor.locale, "ca.not_configured"), locale=actor.locale)
        )
        return
    planned = parse_receivable_modal(view["state"]["values"], today=deps.clock.today(), submission_key=view["id"])
    steps = []
    if deps.receivables is not None and deps.receivables.require_approval:
        steps = await deps.ledger.plan(
            actor.team_id, draft=planned.draft, requester_id=actor.user_id, directory=SlackDirectory(client)
        )
    submitted = await deps.ledger.submit_receivable(
        actor.team_id, requester_id=actor.user_id, planned=planned, steps=steps
    )
    await ack()
    if submitted.created:
        log.info("receivable %s entered by %s", submitted.request.reference, actor.user_id)
        deps.wake_deliveries()
        deps.wake_poster()


def register(app: Listeners, settings: Settings) -> None:
    app.view(CallbackId.RECEIVABLE_MODAL.value, middleware=[require_finance_admin("receivable")])(
        handle_receivable_submission
    )
