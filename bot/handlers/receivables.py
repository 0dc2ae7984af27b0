"""``/contaazul receivable``: a finance admin posts a receivable by hand, through the same flow as won deals."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import Locale, t
from bot.blocks.notices import explain
from bot.blocks.receivable_modal import build_receivable_modal, parse_receivable_modal
from bot.blocks.reject_modal import build_notice_modal
from bot.blocks.request_modal import field_errors
from bot.deps import Deps
from bot.handlers.common import deps_of, is_finance_admin, team_of
from bot.ids import CallbackId
from bot.notifier import Notifier
from bot.people import SlackDirectory
from bot.settings import Settings
from ledger.errors import InvalidSubmission, PolicyError
from ledger.receivables import record_receivable

log = logging.getLogger(__name__)


async def open_receivable_modal(
    client: AsyncWebClient, deps: Deps, body: dict[str, Any], team_id: str, locale: Locale
) -> str | None:
    """Open the modal, or say why not (the caller has checked the person is a finance admin)."""
    assert deps.contaazul is not None
    connection = await deps.contaazul.connection(team_id)
    if connection is None or connection.needs_reconnect:
        return t(locale, "notice.receivable_not_connected")
    await client.views_open(
        trigger_id=body["trigger_id"], view=build_receivable_modal(locale=locale, today=deps.clock.today())
    )
    return None


async def handle_receivable_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Validate, store (approved, or pending when receivables need approval) and hand over to the posting worker."""
    deps = deps_of(context)
    user_id, team_id = body["user"]["id"], team_of(body, context)
    locale = await deps.people.get(client, user_id)
    if deps.contaazul is None or not await is_finance_admin(client, deps, user_id):
        log.info("refused a receivable from non-admin %s", user_id)
        await ack(
            response_action="update", view=build_notice_modal(t(locale, "notice.receivable_not_admin"), locale=locale)
        )
        return
    try:
        planned = parse_receivable_modal(view["state"]["values"], today=deps.clock.today(), submission_key=view["id"])
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    steps = []
    if deps.receivables is not None and deps.receivables.require_approval:
        draft = planned.draft
        try:
            steps = await deps.plan(team_id, draft=draft, requester_id=user_id, directory=SlackDirectory(client))
        except PolicyError as exc:
            log.error("no approval path for a receivable by %s: %s", user_id, exc)
            text = explain(exc, request=None, locale=locale, tz=deps.settings.timezone)
            await ack(response_action="update", view=build_notice_modal(text, locale=locale))
            return
    submitted = await record_receivable(
        deps.session_factory,
        clock=deps.clock,
        team_id=team_id,
        requester_id=user_id,
        planned=planned,
        steps=steps,
        on_final_approval=deps.on_final_approval,
    )
    await ack()
    if submitted.created:
        log.info("receivable %s entered by %s", submitted.request.reference, user_id)
        await Notifier(client, deps).request_submitted(submitted.request)
        deps.wake_poster()


def register(app: AsyncApp, settings: Settings) -> None:
    app.view(CallbackId.RECEIVABLE_MODAL.value)(handle_receivable_submission)
