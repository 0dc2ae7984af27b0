"""``/contaazul connect | status | account | disconnect | receivable``: finance admins manage the Conta Azul link
(and post a receivable by hand)."""

from __future__ import annotations

import logging
from typing import Any, Literal
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncAck
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.contaazul import (
    build_account_loading_modal,
    build_account_modal,
    build_connect_message,
    build_status_message,
    parse_account_modal,
)
from bot.blocks.i18n import t
from bot.blocks.notices import explain
from bot.blocks.receivable_modal import build_receivable_modal
from bot.deps import Deps
from bot.errors import Listeners
from bot.ids import ActionId, CallbackId
from bot.middleware import Actor, require_finance_admin, tell
from bot.notifier import alert_needs_reconnect
from bot.settings import Settings
from ledger import (
    ConnectionNeedsReconnect,
    GatewayError,
    InvalidSubmission,
    NotAllowed,
    RevokeOutcome,
    TokensUnreadable,
)

log = logging.getLogger(__name__)
SUBCOMMANDS = ("connect", "status", "account", "disconnect", "receivable")
# What the admin reads after /contaazul disconnect, by how the revocation at Conta Azul went.
DISCONNECTED: dict[RevokeOutcome, str] = {
    "revoked": "ca.disconnected",
    "unavailable": "ca.disconnected.unavailable",
    "failed": "ca.disconnected.failed",
    "not_connected": "ca.not_connected",
}


async def handle_contaazul_command(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    await ack()
    words = (body.get("text") or "").split()
    action = words[0].lower() if words else "status"
    if action not in SUBCOMMANDS:
        await tell(client, actor, t(actor.locale, "ca.help"))
        return
    if not actor.is_admin:
        raise NotAllowed("not_an_admin", task="contaazul")
    books = deps.contaazul
    if books is None:
        await tell(client, actor, t(actor.locale, "ca.not_configured"))
    elif action == "connect":
        state = await books.begin_connection(team_id=actor.team_id, user_id=actor.user_id)
        url = f"{deps.settings.oauth_start_url}?{urlencode({'state': state})}"
        await tell(client, actor, *build_connect_message(url, locale=actor.locale))
    elif action == "status":
        await tell(client, actor, *await _status(client, deps, actor))
    elif action == "disconnect":
        revocation = await deps.ledger.disconnect(actor.team_id, actor_id=actor.user_id)
        log.info("team %s disconnected conta azul (by %s): %s", actor.team_id, actor.user_id, revocation.outcome)
        await tell(client, actor, t(actor.locale, DISCONNECTED[revocation.outcome], error=revocation.error))
    elif action == "receivable":
        if refusal := await open_receivable_modal(client, deps, actor, body["trigger_id"]):
            await tell(client, actor, refusal)
    else:
        await _open_account_picker(client, deps, actor, body["trigger_id"])


async def _status(client: AsyncWebClient, deps: Deps, actor: Actor) -> tuple[str, list[Any]]:
    books = deps.contaazul
    assert books is not None
    info = await books.connection(actor.team_id)
    access: Literal["ok", "reconnect", "error"] = "ok"
    error, unreadable = "", False
    if info is not None:
        try:
            await books.client(actor.team_id).connected_company()
        except ConnectionNeedsReconnect:
            access = "reconnect"
            await alert_needs_reconnect(client, deps, actor.team_id)
            unreadable = not await books.tokens_readable(actor.team_id)  # not Conta Azul's doing: a replaced key
        except GatewayError as exc:
            access, error = "error", exc.code if exc.status is None else f"HTTP {exc.status}"
        info = await books.connection(actor.team_id)
    text, blocks = build_status_message(
        info,
        access=access,
        error=error,
        locale=actor.locale,
        tz=deps.settings.timezone,
    )
    if unreadable:
        text = explain(TokensUnreadable(), request=None, locale=actor.locale)
        blocks = [SectionBlock(text=MarkdownTextObject(text=text)), *blocks]
    return text, blocks


async def _open_account_picker(client: AsyncWebClient, deps: Deps, actor: Actor, trigger_id: str) -> None:
    """Open a modal at once, then fill it from Conta Azul: the trigger id would expire while we wait."""
    books = deps.contaazul
    assert books is not None
    locale = actor.locale
    opened = await client.views_open(trigger_id=trigger_id, view=build_account_loading_modal(locale=locale))
    view_id = opened["view"]["id"]
    info = await books.connection(actor.team_id)
    if info is None:
        notice = t(locale, "ca.not_connected")
        await client.views_update(
            view_id=view_id, view=build_account_modal([], current_id=None, locale=locale, notice=notice)
        )
        return
    try:
        accounts = await books.payable_accounts(actor.team_id)
    except GatewayError as exc:
        if isinstance(exc, ConnectionNeedsReconnect):
            await alert_needs_reconnect(client, deps, actor.team_id)
        notice = t(locale, "ca.account.unavailable", error=exc.code)
        await client.views_update(
            view_id=view_id, view=build_account_modal([], current_id=None, locale=locale, notice=notice)
        )
        return
    await client.views_update(
        view_id=view_id,
        view=build_account_modal(accounts, current_id=info.default_account_id, locale=locale),
    )


async def open_receivable_modal(client: AsyncWebClient, deps: Deps, actor: Actor, trigger_id: str) -> str | None:
    """Open the modal, or say why not (the caller has checked the person is a finance admin)."""
    assert deps.contaazul is not None
    connection = await deps.contaazul.connection(actor.team_id)
    if connection is None or connection.needs_reconnect:
        return t(actor.locale, "notice.receivable_not_connected")
    await client.views_open(
        trigger_id=trigger_id, view=build_receivable_modal(locale=actor.locale, today=deps.clock.today())
    )
    return None


async def handle_account_submission(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, deps: Deps, client: AsyncWebClient
) -> None:
    try:
        account_id, name = parse_account_modal(view["state"]["values"])
    except InvalidSubmission:
        await ack(response_action="errors", errors={"account": t(actor.locale, "error.required")})
        return
    if deps.contaazul is None:  # the picker is only offered with Conta Azul configured: a replayed payload
        await ack(response_action="errors", errors={"account": t(actor.locale, "ca.not_configured")})
        return
    await deps.ledger.set_default_account(
        actor.team_id, actor_id=actor.user_id, account_id=account_id, account_name=name
    )
    await ack()
    await client.chat_postMessage(channel=actor.user_id, text=t(actor.locale, "ca.account.saved", account=name))


async def handle_connect_link(ack: AsyncAck) -> None:
    """The connect button is a link the browser opens; Slack still sends the click, which wants only an ack."""
    await ack()


def register(app: Listeners, settings: Settings) -> None:
    app.command("/contaazul")(handle_contaazul_command)
    app.action(ActionId.CONNECT_LINK.value)(handle_connect_link)
    app.view(CallbackId.ACCOUNT_MODAL.value, middleware=[require_finance_admin("contaazul", field="account")])(
        handle_account_submission
    )
