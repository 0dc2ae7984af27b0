"""The finance admins' Retry button on a failed posting."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
from bot.blocks.i18n import t
from bot.blocks.posting_messages import build_finance_failure
from bot.deps import Deps
from bot.errors import Listeners
from bot.home_tab import publish_home
from bot.ids import ActionId
from bot.middleware import Actor, require_finance_admin, tell, with_request_ref
from bot.settings import Settings
from ledger import StaleDecision

log = logging.getLogger(__name__)


async def handle_retry_posting(
    ack: AsyncAck, body: dict[str, Any], ref: StepRef, actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    await ack()
    try:
        request = await deps.ledger.retry_posting(ref.request_id, actor_id=actor.user_id)
    except StaleDecision:
        current = await deps.ledger.request(ref.request_id)
        status = t(actor.locale, f"status.{current.status}")
        await tell(client, actor, t(actor.locale, "notice.retry_stale", reference=current.reference, status=status))
        return
    log.info("posting of %s retried by %s", request.reference, actor.user_id)
    deps.wake_poster()
    posting = await deps.ledger.posting(request.id)
    message = body.get("message") or {}
    if posting is not None and message.get("ts") and actor.channel_id:
        text, blocks = build_finance_failure(
            request,
            posting,
            locale=actor.locale,
            retried_by=actor.user_id,
            retried_at=deps.clock.now(),
            tz=deps.settings.timezone,
        )
        try:
            await client.chat_update(channel=actor.channel_id, ts=message["ts"], text=text, blocks=blocks)
        except SlackApiError as exc:
            log.warning("could not update the failure notice: %s", exc.response.get("error"))
    deps.wake_deliveries()
    if actor.in_home:
        await publish_home(client, deps, actor)


def register(app: Listeners, settings: Settings) -> None:
    app.action(ActionId.RETRY_POSTING.value, middleware=[require_finance_admin("retry"), with_request_ref()])(
        handle_retry_posting
    )
