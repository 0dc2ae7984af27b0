"""App Home: a person's own requests and the ones waiting for them."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import build_home
from bot.handlers.common import deps_of
from bot.settings import Settings
from ledger import flows


async def handle_home_opened(event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    deps = deps_of(context)
    user_id, team_id = event["user"], context.team_id or ""
    view = build_home(
        mine=await flows.recent_requests(deps.session_factory, team_id=team_id, requester_id=user_id),
        waiting=await flows.waiting_for(deps.session_factory, team_id=team_id, approver_id=user_id),
        command=deps.settings.payment_commands[0],
        locale=await deps.people.get(client, user_id),
        tz=deps.settings.timezone,
    )
    await client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, settings: Settings) -> None:
    app.event("app_home_opened")(handle_home_opened)
