"""The finance admins' Retry button on a failed posting."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
from bot.blocks.i18n import t
from bot.blocks.posting_messages import build_finance_failure
from bot.handlers.common import deps_of, ephemeral, is_finance_admin
from bot.handlers.home import from_home, publish_home
from bot.ids import ActionId
from bot.notifier import Notifier
from bot.settings import Settings
from ledger import flows, outbox
from ledger.errors import StaleDecision

log = logging.getLogger(__name__)


async def handle_retry_posting(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps = deps_of(context)
    user_id = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or user_id
    locale = await deps.people.get(client, user_id)
    if not await is_finance_admin(client, deps, user_id):
        await ephemeral(client, channel=channel, user_id=user_id, text=t(locale, "notice.retry_not_admin"))
        return
    try:
        ref = StepRef.decode(action.get("value") or "")
    except ValueError:
        log.warning("ignoring a Retry button with an unknown value")
        return
    try:
        request = await outbox.retry_posting(
            deps.session_factory, clock=deps.clock, request_id=ref.request_id, actor_id=user_id
        )
    except StaleDecision:
        current = await flows.get_request(deps.session_factory, request_id=ref.request_id)
        text = t(
            locale, "notice.retry_stale", reference=current.reference, status=t(locale, f"status.{current.status}")
        )
        await ephemeral(client, channel=channel, user_id=user_id, text=text)
        return
    log.info("posting of %s retried by %s", request.reference, user_id)
    deps.wake_poster()
    posting = await outbox.posting_for(deps.session_factory, request_id=request.id)
    message = body.get("message") or {}
    if posting is not None and message.get("ts"):
        text, blocks = build_finance_failure(
            request, posting, locale=locale, retried_by=user_id, retried_at=deps.clock.now(), tz=deps.settings.timezone
        )
        try:
            await client.chat_update(channel=channel, ts=message["ts"], text=text, blocks=blocks)
        except SlackApiError as exc:
            log.warning("could not update the failure notice: %s", exc.response.get("error"))
    await Notifier(client, deps).refresh_tracking(request)
    if from_home(body):
        await publish_home(client, deps, user_id=user_id, team_id=request.team_id)


def register(app: AsyncApp, settings: Settings) -> None:
    app.action(ActionId.RETRY_POSTING.value)(handle_retry_posting)
