"""Type-ahead lists of the request modal, answered from Conta Azul (cached) within Slack's 3 seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.models.blocks import Option
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import Locale
from bot.blocks.live_lists import category_options, cost_center_options, vendor_options
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import ActionId
from bot.middleware import Actor
from bot.notifier import alert_needs_reconnect
from bot.settings import Settings
from ledger import Books, ConnectionNeedsReconnect, GatewayError

log = logging.getLogger(__name__)

# Slack waits 3 s for options; leave room for the round trip back.
OPTIONS_BUDGET_SECONDS = 2.5

OptionsSource = Callable[[Books, str, Locale], Awaitable[list[Option]]]


async def _categories(books: Books, typed: str, locale: Locale) -> list[Option]:
    return category_options(await books.categories("DESPESA"), typed)


async def _revenue_categories(books: Books, typed: str, locale: Locale) -> list[Option]:
    return category_options(await books.categories("RECEITA"), typed)


async def _customers(books: Books, typed: str, locale: Locale) -> list[Option]:
    return vendor_options(
        await books.search_people(typed, profile="Cliente"), typed, locale=locale, new_key="options.new_customer"
    )


async def _cost_centers(books: Books, typed: str, locale: Locale) -> list[Option]:
    return cost_center_options(await books.cost_centers(), typed, locale=locale)


async def _vendors(books: Books, typed: str, locale: Locale) -> list[Option]:
    return vendor_options(await books.search_people(typed, profile="Fornecedor"), typed, locale=locale)


def _listener(source: OptionsSource) -> Callable[..., Awaitable[None]]:
    async def handle_options(
        ack: AsyncAck, body: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
    ) -> None:
        team_id = actor.team_id
        typed = str(body.get("value") or "")
        options: list[Option] = []
        if deps.contaazul is not None:
            try:
                options = await asyncio.wait_for(
                    source(deps.contaazul.client(team_id), typed, actor.locale), OPTIONS_BUDGET_SECONDS
                )
            except TimeoutError:
                log.warning("conta azul too slow for %s options; answering empty", body.get("action_id"))
            except ConnectionNeedsReconnect:
                await ack(options=[])
                await alert_needs_reconnect(client, deps, team_id)
                return
            except GatewayError as exc:
                log.warning("conta azul lookup for %s failed: %s", body.get("action_id"), exc)
        await ack(options=[o.to_dict() for o in options])

    return handle_options


def register(app: Listeners, settings: Settings) -> None:
    app.options(ActionId.CATEGORY_OPTIONS.value)(_listener(_categories))
    app.options(ActionId.COST_CENTER_OPTIONS.value)(_listener(_cost_centers))
    app.options(ActionId.VENDOR_OPTIONS.value)(_listener(_vendors))
    app.options(ActionId.REVENUE_CATEGORY_OPTIONS.value)(_listener(_revenue_categories))
    app.options(ActionId.CUSTOMER_OPTIONS.value)(_listener(_customers))
