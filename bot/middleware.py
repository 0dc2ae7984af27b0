"""What every listener needs before it runs, put in the Bolt context once: who acts (``actor``), the request a
button names (``ref``), and the finance-admin gate. Listeners name what they need as arguments
(``handle_approve(ack, ref, actor, deps, client)``) and stay glue.

Listener middleware that refuses answers Slack itself (an ack, or the modal's errors) and tells the person why;
the listener then does not run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.fields import StepRef
from bot.blocks.i18n import Locale
from bot.blocks.notices import explain
from bot.blocks.reject_modal import build_notice_modal
from bot.deps import Deps
from ledger.errors import LedgerError, NotAllowed, RequestNotFound

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[None]]
Middleware = Callable[..., Awaitable[BoltResponse | None]]


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind a Slack request."""

    user_id: str
    team_id: str
    locale: Locale
    is_admin: bool  # a finance admin: listed in APROVA_FINANCE_ADMINS, or a Slack workspace admin or owner
    channel_id: str | None  # the conversation they acted in; None in the Home tab or a modal
    in_home: bool  # clicked in their Home tab (which is then refreshed after the action)


async def actor_of(deps: Deps, client: AsyncWebClient, body: dict[str, Any], context: AsyncBoltContext) -> Actor:
    assert context.user_id is not None
    team_id = context.team_id or body.get("team_id") or (body.get("team") or {}).get("id") or deps.team_id or ""
    profile = await deps.people.profile(client, context.user_id)
    view = body.get("view") or {}
    return Actor(
        user_id=context.user_id,
        team_id=team_id,
        locale=profile.locale,
        is_admin=context.user_id in deps.settings.finance_admins or profile.is_workspace_admin,
        channel_id=(body.get("channel") or {}).get("id") or body.get("channel_id"),
        in_home=view.get("type") == "home",
    )


async def provide_actor(client: AsyncWebClient, body: dict[str, Any], context: AsyncBoltContext, next: Next) -> None:
    """Global middleware: every request from a person carries its ``actor``."""
    deps = context["deps"]
    if context.user_id and isinstance(deps, Deps):
        context["actor"] = await actor_of(deps, client, body, context)
    await next()


def require_finance_admin(task: str, *, field: str | None = None) -> Middleware:
    """Listener middleware: only finance admins get past; others are told they may not ``task`` (a catalogue key
    under ``notice.not_an_admin.``). In a modal, the refusal goes under ``field`` when given, else replaces it."""

    async def only_finance_admins(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, next: Next
    ) -> BoltResponse | None:
        actor: Actor = context["actor"]
        if actor.is_admin:
            await next()
            return None
        log.info("refused %s to %s: not a finance admin", task, actor.user_id)
        text = explain(NotAllowed("not_an_admin", task=task), request=None, locale=actor.locale)
        if body.get("type") == "view_submission":
            return modal_refusal(text, actor.locale, field=field)
        await ack()
        await tell(client, actor, text)
        return BoltResponse(status=200, body="")

    return only_finance_admins


def with_request_ref(*, step_required: bool = False) -> Middleware:
    """Listener middleware: decode the request (and step) a button names into ``ref``; a value that does not
    decode (a stale or forged button) is answered "request not found" and goes no further."""

    async def decode_request_ref(
        ack: Any, action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, next: Next
    ) -> BoltResponse | None:
        value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
        try:
            ref = StepRef.decode(value)
        except ValueError:
            ref = None
        if ref is not None and (ref.step is not None or not step_required):
            context["ref"] = ref
            await next()
            return None
        log.warning("ignoring a %s button with an unknown value: %r", action.get("action_id"), value[:80])
        actor: Actor = context["actor"]
        await ack()
        await tell(client, actor, explain(RequestNotFound(), request=None, locale=actor.locale))
        return BoltResponse(status=200, body="")

    return decode_request_ref


def modal_refusal(text: str, locale: Locale, *, field: str | None = None) -> BoltResponse:
    """The answer to a modal submission that is refused: the reason under ``field``, or the modal replaced by it."""
    if field is not None:
        return modal_answer({"response_action": "errors", "errors": {field: text}})
    return modal_answer({"response_action": "update", "view": build_notice_modal(text, locale=locale).to_dict()})


def modal_answer(answer: dict[str, Any]) -> BoltResponse:
    """A view submission's answer given as the HTTP response (what ``ack(response_action=…)`` would send)."""
    return BoltResponse(status=200, body=json.dumps(answer), headers={"content-type": "application/json"})


async def tell(client: AsyncWebClient, actor: Actor, text: str, blocks: Any = None) -> None:
    """A reply only the person sees: ephemeral where they acted, else (Home tab, modal) in their DM with Aprova."""
    try:
        if actor.channel_id:
            await client.chat_postEphemeral(channel=actor.channel_id, user=actor.user_id, text=text, blocks=blocks)
        else:
            await client.chat_postMessage(channel=actor.user_id, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.warning("could not reply to %s: %s", actor.user_id, exc.response.get("error"))


async def explain_refusal(deps: Deps, actor: Actor, error: LedgerError, *, request_id: int | None) -> str:
    """The refusal in the person's language, naming the request when there is one."""
    request = None
    if request_id is not None:
        try:
            request = await deps.ledger.request(request_id)
        except RequestNotFound:
            request = None
    return explain(error, request=request, locale=actor.locale, tz=deps.settings.timezone)
