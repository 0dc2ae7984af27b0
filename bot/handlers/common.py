"""Helpers the listeners share: reaching the deps, telling one person why something did not happen."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.notices import explain
from bot.deps import Deps
from ledger import flows
from ledger.errors import LedgerError, RequestNotFound
from ledger.read_models import RequestView

log = logging.getLogger(__name__)


def deps_of(context: AsyncBoltContext) -> Deps:
    deps = context["deps"]
    assert isinstance(deps, Deps)
    return deps


def team_of(body: dict[str, Any], context: AsyncBoltContext) -> str:
    """The workspace a request came from (slash commands name it ``team_id``, interactions ``team.id``)."""
    return context.team_id or body.get("team_id") or (body.get("team") or {}).get("id") or ""


async def explain_error(
    client: AsyncWebClient, deps: Deps, error: LedgerError, *, user_id: str, request_id: int | None
) -> str:
    """The refusal in the person's language, naming the request when there is one."""
    request: RequestView | None = None
    if request_id is not None:
        try:
            request = await flows.get_request(deps.session_factory, request_id=request_id)
        except RequestNotFound:
            request = None
    locale = await deps.people.get(client, user_id)
    return explain(error, request=request, locale=locale, tz=deps.settings.timezone)


async def tell(
    client: AsyncWebClient,
    deps: Deps,
    body: dict[str, Any],
    error: LedgerError,
    *,
    request_id: int | None,
) -> None:
    """An ephemeral reply where the person clicked, explaining a refused action."""
    user_id = body["user"]["id"]
    text = await explain_error(client, deps, error, user_id=user_id, request_id=request_id)
    log.info("refused %s for %s on request %s: %s", body.get("type"), user_id, request_id, error.code)
    channel = (body.get("channel") or {}).get("id")
    try:
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        else:  # clicked in the Home tab or a modal: no conversation to whisper in, so their DM with Aprova
            await client.chat_postMessage(channel=user_id, text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s why (%s): %s", user_id, error.code, exc.response.get("error"))


async def is_finance_admin(client: AsyncWebClient, deps: Deps, user_id: str) -> bool:
    """Listed in APROVA_FINANCE_ADMINS, or a Slack workspace admin or owner."""
    if user_id in deps.settings.finance_admins:
        return True
    return (await deps.people.profile(client, user_id)).is_workspace_admin


async def ephemeral(client: AsyncWebClient, *, channel: str, user_id: str, text: str, blocks: Any = None) -> None:
    try:
        await client.chat_postEphemeral(channel=channel, user=user_id, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.warning("could not reply to %s: %s", user_id, exc.response.get("error"))
