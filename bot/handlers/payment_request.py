"""``/pagamento``: open the request modal, then validate and store what was submitted."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.notices import explain
from bot.blocks.reject_modal import build_notice_modal
from bot.blocks.request_modal import build_request_modal, field_errors, parse_request_modal
from bot.handlers.common import deps_of
from bot.handlers.history import export_month
from bot.ids import CallbackId
from bot.notifier import Notifier
from bot.people import SlackDirectory
from bot.settings import Settings
from ledger import flows
from ledger.errors import InvalidSubmission, PolicyError

log = logging.getLogger(__name__)


async def handle_payment_command(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Open the modal right away: the trigger id is only good for 3 seconds. ``export <month>`` exports instead."""
    await ack()
    deps = deps_of(context)
    words = (body.get("text") or "").split(maxsplit=1)
    if words and words[0].lower() in ("export", "exportar"):
        await export_month(client, deps, body, words[1] if len(words) > 1 else "")
        return
    locale = await deps.people.get(client, body["user_id"])
    live = False
    if deps.contaazul is not None:
        connection = await deps.contaazul.connection(context.team_id or body["team_id"])
        live = connection is not None and not connection.needs_reconnect
    await client.views_open(
        trigger_id=body["trigger_id"], view=build_request_modal(locale=locale, today=deps.clock.today(), live=live)
    )


async def handle_request_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Validate every field, plan the approval steps and store the request before closing the modal."""
    deps = deps_of(context)
    user_id = body["user"]["id"]
    locale = await deps.people.get(client, user_id)
    try:
        draft = parse_request_modal(view["state"]["values"], today=deps.clock.today())
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc.errors, locale))
        return
    try:
        steps = await deps.policy.plan(
            amount=draft.amount,
            category=draft.category,
            cost_center=draft.cost_center,
            requester_id=user_id,
            directory=SlackDirectory(client),
        )
    except PolicyError as exc:
        log.error("no approval path for a request by %s: %s", user_id, exc)
        text = explain(exc, request=None, locale=locale, tz=deps.settings.timezone)
        await ack(response_action="update", view=build_notice_modal(text, locale=locale))
        return
    submitted = await flows.submit_request(
        deps.session_factory,
        clock=deps.clock,
        team_id=context.team_id or body["team"]["id"],
        requester_id=user_id,
        submission_key=view["id"],
        draft=draft,
        steps=steps,
    )
    await ack()
    if submitted.created:
        log.info("request %s submitted by %s", submitted.request.reference, user_id)
        await Notifier(client, deps).request_submitted(submitted.request)


def register(app: AsyncApp, settings: Settings) -> None:
    for command in settings.payment_commands:
        app.command(command)(handle_payment_command)
    app.view(CallbackId.REQUEST_MODAL.value)(handle_request_submission)
