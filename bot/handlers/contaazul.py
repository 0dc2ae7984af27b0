"""``/contaazul connect | status | account | disconnect | receivable``: finance admins manage the Conta Azul link
(and post a receivable by hand)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.contaazul import (
    build_account_loading_modal,
    build_account_modal,
    build_connect_message,
    build_status_message,
    parse_account_modal,
)
from bot.blocks.i18n import Locale, t
from bot.deps import Deps
from bot.handlers.common import deps_of, ephemeral, is_finance_admin, team_of
from bot.handlers.receivables import open_receivable_modal
from bot.ids import CallbackId
from bot.notifier import alert_needs_reconnect
from bot.settings import Settings
from ledger import flows
from ledger.contaazul.connector import PAYABLE_REFUSED_TYPES, ContaAzul
from ledger.errors import ConnectionNeedsReconnect, GatewayError, InvalidSubmission

log = logging.getLogger(__name__)
SUBCOMMANDS = ("connect", "status", "account", "disconnect", "receivable")


async def handle_contaazul_command(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    deps = deps_of(context)
    user_id, team_id = body["user_id"], team_of(body, context)
    channel = body.get("channel_id") or user_id
    locale = await deps.people.get(client, user_id)
    words = (body.get("text") or "").split()
    action = words[0].lower() if words else "status"

    async def reply(text: str, blocks: Any = None) -> None:
        await ephemeral(client, channel=channel, user_id=user_id, text=text, blocks=blocks)

    if action not in SUBCOMMANDS:
        await reply(t(locale, "ca.help"))
        return
    if not await is_finance_admin(client, deps, user_id):
        log.info("refused /contaazul %s for non-admin %s", action, user_id)
        await reply(t(locale, "ca.not_admin"))
        return
    if deps.contaazul is None:
        await reply(t(locale, "ca.not_configured"))
        return
    books = deps.contaazul
    if action == "connect":
        url = await books.authorization_url(team_id=team_id, user_id=user_id)
        text, blocks = build_connect_message(url, locale=locale)
        await reply(text, blocks)
    elif action == "status":
        await reply(*await _status(client, deps, books, team_id, locale))
    elif action == "disconnect":
        await books.disconnect(team_id)
        await flows.audit(
            deps.session_factory, clock=deps.clock, team_id=team_id, actor_id=user_id, action="contaazul_disconnected"
        )
        log.info("team %s disconnected conta azul (by %s)", team_id, user_id)
        await reply(t(locale, "ca.disconnected"))
    elif action == "receivable":
        refusal = await open_receivable_modal(client, deps, body, team_id, locale)
        if refusal:
            await reply(refusal)
    else:
        await _open_account_picker(client, deps, books, body, team_id, locale)


async def _status(
    client: AsyncWebClient, deps: Deps, books: ContaAzul, team_id: str, locale: Locale
) -> tuple[str, list[Any]]:
    info = await books.connection(team_id)
    access, error = "ok", ""
    if info is not None:
        try:
            await books.client(team_id).connected_company()
        except ConnectionNeedsReconnect:
            access = "reconnect"
            await alert_needs_reconnect(client, deps, team_id)
        except GatewayError as exc:
            access, error = "error", exc.code if exc.status is None else f"HTTP {exc.status}"
        info = await books.connection(team_id)
    return build_status_message(info, access=access, error=error, locale=locale, tz=deps.settings.timezone)  # type: ignore[arg-type]


async def _open_account_picker(
    client: AsyncWebClient, deps: Deps, books: ContaAzul, body: dict[str, Any], team_id: str, locale: Locale
) -> None:
    """Open a modal at once, then fill it from Conta Azul: the trigger id would expire while we wait."""
    opened = await client.views_open(trigger_id=body["trigger_id"], view=build_account_loading_modal(locale=locale))
    view_id = opened["view"]["id"]
    info = await books.connection(team_id)
    if info is None:
        notice = t(locale, "ca.not_connected")
        await client.views_update(
            view_id=view_id, view=build_account_modal([], current_id=None, locale=locale, notice=notice)
        )
        return
    try:
        accounts = await books.client(team_id).financial_accounts()
    except GatewayError as exc:
        if isinstance(exc, ConnectionNeedsReconnect):
            await alert_needs_reconnect(client, deps, team_id)
        notice = t(locale, "ca.account.unavailable", error=exc.code)
        await client.views_update(
            view_id=view_id, view=build_account_modal([], current_id=None, locale=locale, notice=notice)
        )
        return
    payable_accounts = [a for a in accounts if a.type not in PAYABLE_REFUSED_TYPES]
    await client.views_update(
        view_id=view_id,
        view=build_account_modal(payable_accounts, current_id=info.default_account_id, locale=locale),
    )


async def handle_account_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    deps = deps_of(context)
    user_id, team_id = body["user"]["id"], team_of(body, context)
    locale = await deps.people.get(client, user_id)
    if deps.contaazul is None or not await is_finance_admin(client, deps, user_id):
        await ack(response_action="errors", errors={"account": t(locale, "ca.not_admin")})
        return
    try:
        account_id, name = parse_account_modal(view["state"]["values"])
    except InvalidSubmission:
        await ack(response_action="errors", errors={"account": t(locale, "error.required")})
        return
    await deps.contaazul.set_default_account(team_id=team_id, account_id=account_id, account_name=name)
    await ack()
    await flows.audit(
        deps.session_factory,
        clock=deps.clock,
        team_id=team_id,
        actor_id=user_id,
        action="contaazul_account_set",
        account_id=account_id,
        account_name=name,
    )
    await client.chat_postMessage(channel=user_id, text=t(locale, "ca.account.saved", account=name))


def register(app: AsyncApp, settings: Settings) -> None:
    app.command("/contaazul")(handle_contaazul_command)
    app.view(CallbackId.ACCOUNT_MODAL.value)(handle_account_submission)
