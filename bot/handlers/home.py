"""App Home: a person's own requests, the ones waiting for them, and for finance admins the state of the books."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import parse_page
from bot.deps import Deps
from bot.errors import Listeners
from bot.home_tab import publish_home
from bot.ids import ActionId
from bot.middleware import Actor
from bot.settings import Settings

log = logging.getLogger(__name__)


async def handle_home_opened(event: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient) -> None:
    if event.get("tab", "home") == "home":
        await publish_home(client, deps, actor)


async def handle_home_page(
    ack: AsyncAck, action: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    await ack()
    await publish_home(client, deps, actor, page=parse_page(action.get("value")))


def register(app: Listeners, settings: Settings) -> None:
    app.event("app_home_opened")(handle_home_opened)
    app.action(ActionId.HOME_PAGE.value)(handle_home_page)
    app.action(ActionId.HOME_PAGE_BACK.value)(handle_home_page)
