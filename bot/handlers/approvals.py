"""Approve, Reject (with a reason) and Cancel buttons."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
from bot.blocks.reject_modal import build_notice_modal, build_reject_modal, parse_reject_modal
from bot.blocks.request_modal import field_errors
from bot.handlers.common import deps_of, explain_error, tell
from bot.handlers.home import from_home, publish_home
from bot.ids import ActionId, CallbackId
from bot.notifier import Notifier
from bot.settings import Settings
from ledger import flows
from ledger.errors import InvalidSubmission, LedgerError, RequestNotFound

log = logging.getLogger(__name__)


def _step_ref(value: str | None) -> StepRef | None:
    try:
        return StepRef.decode(value or "")
    except ValueError:
        log.warning("ignoring a button with an unknown value: %r", (value or "")[:80])
        return None


async def handle_approve(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps = deps_of(context)
    ref = _step_ref(action.get("value"))
    if ref is None or ref.step is None:
        await tell(client, deps, body, RequestNotFound(), request_id=None)
        return
    try:
        decided = await flows.decide(
            deps.session_factory,
            clock=deps.clock,
            request_id=ref.request_id,
            step_position=ref.step,
            actor_id=body["user"]["id"],
            approve=True,
            on_final_approval=deps.on_final_approval,
            approval_round=ref.round,
            seen_digest=ref.digest,
        )
    except LedgerError as exc:
        await tell(client, deps, body, exc, request_id=ref.request_id)
        return
    log.info("request %s step %s approved by %s", decided.request.reference, ref.step, body["user"]["id"])
    if decided.final:
        deps.wake_poster()
    await Notifier(client, deps).request_decided(decided)
    if from_home(body):
        await publish_home(client, deps, user_id=body["user"]["id"], team_id=decided.request.team_id)


async def handle_reject_click(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Check the clicker may decide before asking for a reason, so nobody types one in vain."""
    await ack()
    deps = deps_of(context)
    ref = _step_ref(action.get("value"))
    if ref is None or ref.step is None:
        await tell(client, deps, body, RequestNotFound(), request_id=None)
        return
    try:
        request = await flows.check_can_decide(
            deps.session_factory,
            request_id=ref.request_id,
            step_position=ref.step,
            actor_id=body["user"]["id"],
            approval_round=ref.round,
            seen_digest=ref.digest,
        )
    except LedgerError as exc:
        await tell(client, deps, body, exc, request_id=ref.request_id)
        return
    locale = await deps.people.get(client, body["user"]["id"])
    view = build_reject_modal(
        request, ref.step, locale=locale, from_home=from_home(body), round_=ref.round, digest=ref.digest
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def handle_reject_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    deps = deps_of(context)
    user_id = body["user"]["id"]
    locale = await deps.people.get(client, user_id)
    ref = _step_ref(view.get("private_metadata"))
    if ref is None or ref.step is None:
        await ack(response_action="clear")
        return
    try:
        reason = parse_reject_modal(view["state"]["values"])
    except InvalidSubmission as exc:
        await ack(response_action="errors", errors=field_errors(exc, locale))
        return
    try:
        decided = await flows.decide(
            deps.session_factory,
            clock=deps.clock,
            request_id=ref.request_id,
            step_position=ref.step,
            actor_id=user_id,
            approve=False,
            reason=reason,
            approval_round=ref.round,
            seen_digest=ref.digest,
        )
    except LedgerError as exc:
        text = await explain_error(client, deps, exc, user_id=user_id, request_id=ref.request_id)
        await ack(response_action="update", view=build_notice_modal(text, locale=locale))
        return
    await ack()
    log.info("request %s rejected by %s", decided.request.reference, user_id)
    await Notifier(client, deps).request_decided(decided)
    if '"h": 1' in (view.get("private_metadata") or ""):
        await publish_home(client, deps, user_id=user_id, team_id=decided.request.team_id)


async def handle_cancel(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps = deps_of(context)
    ref = _step_ref(action.get("value"))
    if ref is None:
        await tell(client, deps, body, RequestNotFound(), request_id=None)
        return
    try:
        request = await flows.cancel(
            deps.session_factory, clock=deps.clock, request_id=ref.request_id, actor_id=body["user"]["id"]
        )
    except LedgerError as exc:
        await tell(client, deps, body, exc, request_id=ref.request_id)
        return
    log.info("request %s cancelled by its requester", request.reference)
    await Notifier(client, deps).request_cancelled(request)


def register(app: AsyncApp, settings: Settings) -> None:
    app.action(ActionId.APPROVE.value)(handle_approve)
    app.action(ActionId.REJECT.value)(handle_reject_click)
    app.view(CallbackId.REJECT_MODAL.value)(handle_reject_submission)
    app.action(ActionId.CANCEL.value)(handle_cancel)
