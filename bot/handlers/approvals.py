"""Approve, Reject (with a reason) and Cancel buttons."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
from bot.blocks.reject_modal import build_reject_modal, parse_reject_modal
from bot.deps import Deps
from bot.errors import Listeners
from bot.home_tab import publish_home
from bot.ids import ActionId, CallbackId
from bot.middleware import Actor, with_request_ref
from bot.settings import Settings

log = logging.getLogger(__name__)


async def handle_approve(ack: AsyncAck, ref: StepRef, actor: Actor, deps: Deps, client: AsyncWebClient) -> None:
    await ack()
    assert ref.step is not None
    decided = await deps.ledger.decide(
        ref.request_id,
        step=ref.step,
        actor_id=actor.user_id,
        approve=True,
        approval_round=ref.round,
        seen_digest=ref.digest,
        lease=deps.delivery_lease(),
    )
    log.info("request %s step %s approved by %s", decided.request.reference, ref.step, actor.user_id)
    if decided.final:
        deps.wake_poster()
    deps.deliver(decided)
    if actor.in_home:
        await publish_home(client, deps, actor)


async def handle_reject_click(
    ack: AsyncAck, body: dict[str, Any], ref: StepRef, actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    """Check the clicker may decide before asking for a reason, so nobody types one in vain."""
    await ack()
    assert ref.step is not None
    request = await deps.ledger.check_can_decide(
        ref.request_id, step=ref.step, actor_id=actor.user_id, approval_round=ref.round, seen_digest=ref.digest
    )
    view = build_reject_modal(
        request, ref.step, locale=actor.locale, from_home=actor.in_home, round_=ref.round, digest=ref.digest
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def handle_reject_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    try:
        ref = StepRef.decode(view.get("private_metadata") or "")
    except ValueError:
        ref = None
    if ref is None or ref.step is None:
        await ack(response_action="clear")
        return
    reason = parse_reject_modal(view["state"]["values"])  # InvalidSubmission: the field's error, by the error handler
    decided = await deps.ledger.decide(
        ref.request_id,
        step=ref.step,
        actor_id=actor.user_id,
        approve=False,
        reason=reason,
        approval_round=ref.round,
        seen_digest=ref.digest,
        lease=deps.delivery_lease(),
    )
    await ack()
    log.info("request %s rejected by %s", decided.request.reference, actor.user_id)
    deps.deliver(decided)
    if '"h": 1' in (view.get("private_metadata") or ""):
        await publish_home(client, deps, actor)


async def handle_cancel(ack: AsyncAck, ref: StepRef, actor: Actor, deps: Deps, client: AsyncWebClient) -> None:
    await ack()
    request = await deps.ledger.cancel(ref.request_id, actor_id=actor.user_id)
    log.info("request %s cancelled by its requester", request.reference)
    deps.wake_deliveries()


def register(app: Listeners, settings: Settings) -> None:
    decision = [with_request_ref(step_required=True)]
    app.action(ActionId.APPROVE.value, middleware=decision)(handle_approve)
    app.action(ActionId.REJECT.value, middleware=decision)(handle_reject_click)
    app.view(CallbackId.REJECT_MODAL.value)(handle_reject_submission)
    app.action(ActionId.CANCEL.value, middleware=[with_request_ref()])(handle_cancel)
