"""Surfaces of the Conta Azul connection: /contaazul replies, the account picker, the OAuth callback page."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.fields import clip, escape
from bot.blocks.i18n import Locale, moment, t
from bot.ids import ActionId, CallbackId
from ledger.contaazul.models import FinancialAccount
from ledger.contaazul.oauth import ConnectionInfo
from ledger.errors import InvalidSubmission
from ledger.validation import parse_document

Message = tuple[str, list[Block]]
Access = Literal["ok", "reconnect", "error"]
ACCOUNT_BLOCK = "account"
MAX_OPTIONS = 100  # Slack's limit for a static select


def build_connect_message(url: str, *, locale: Locale) -> Message:
    text = t(locale, "ca.connect.text")
    return text, [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(
            elements=[
                ButtonElement(
                    action_id=ActionId.CONNECT_LINK.value, text=t(locale, "ca.connect.button"), url=url, style="primary"
                )
            ]
        ),
    ]


def company_line(info: ConnectionInfo, *, locale: Locale) -> str:
    """Company name, its CNPJ, and the default account, for the "connected" confirmation."""
    document = ""
    if info.company_document:
        try:
            document = f" ({parse_document(info.company_document).formatted})"
        except ValueError:
            document = f" ({escape(info.company_document)})"
    account = escape(info.default_account_name) if info.default_account_name else t(locale, "ca.no_account")
    return t(locale, "ca.connected", company=escape(info.company_name), document=document, account=account)


def build_status_message(
    info: ConnectionInfo | None, *, access: Access, error: str = "", locale: Locale, tz: ZoneInfo
) -> Message:
    if info is None:
        text = t(locale, "ca.not_connected")
        return text, [SectionBlock(text=MarkdownTextObject(text=text))]
    access_text = {
        "ok": t(locale, "ca.status.tokens_ok"),
        "reconnect": t(locale, "ca.status.tokens_reconnect"),
        "error": t(locale, "ca.status.tokens_error", error=escape(error)),
    }[access]
    fields = [
        (t(locale, "ca.status.company"), escape(info.company_name)),
        (
            t(locale, "ca.status.connected_by"),
            t(locale, "ca.status.by", user=info.connected_by, when=moment(info.connected_at, locale, tz)),
        ),
        (
            t(locale, "ca.status.account"),
            escape(info.default_account_name) if info.default_account_name else t(locale, "ca.no_account"),
        ),
        (t(locale, "ca.status.tokens"), access_text),
    ]
    title = t(locale, "ca.status.title")
    return f"{title}: {info.company_name}", [
        HeaderBlock(text=PlainTextObject(text=title)),
        SectionBlock(fields=[MarkdownTextObject(text=clip(f"*{k}*\n{v}", 2000)) for k, v in fields]),
    ]


def build_account_loading_modal(*, locale: Locale) -> View:
    """Opened at once (the trigger id lasts 3 s), then replaced when Conta Azul answers."""
    return View(
        type="modal",
        callback_id=CallbackId.ACCOUNT_MODAL.value,
        title=PlainTextObject(text=t(locale, "ca.account.title")),
        close=PlainTextObject(text=t(locale, "modal.cancel")),
        blocks=[SectionBlock(text=MarkdownTextObject(text=t(locale, "ca.account.loading")))],
    )


def build_account_modal(
    accounts: Sequence[FinancialAccount], *, current_id: str | None, locale: Locale, notice: str | None = None
) -> View:
    """The account picker; ``notice`` (or no account at all) shows a message instead."""
    title = PlainTextObject(text=t(locale, "ca.account.title"))
    close = PlainTextObject(text=t(locale, "modal.cancel"))
    if notice is not None or not accounts:
        return View(
            type="modal",
            callback_id=CallbackId.ACCOUNT_MODAL.value,
            title=title,
            close=close,
            blocks=[SectionBlock(text=MarkdownTextObject(text=notice or t(locale, "ca.account.none")))],
        )
    options = [Option(value=a.id, text=clip(a.name, 75)) for a in accounts[:MAX_OPTIONS]]
    initial = next((o for o, a in zip(options, accounts, strict=False) if a.id == current_id), None)
    if initial is None:
        initial = next((o for o, a in zip(options, accounts, strict=False) if a.default), None)
    return View(
        type="modal",
        callback_id=CallbackId.ACCOUNT_MODAL.value,
        title=title,
        submit=PlainTextObject(text=t(locale, "ca.account.save")),
        close=close,
        blocks=[
            InputBlock(
                block_id=ACCOUNT_BLOCK,
                label=t(locale, "ca.account.label"),
                element=StaticSelectElement(action_id=ActionId.FIELD.value, options=options, initial_option=initial),
            )
        ],
    )


def parse_account_modal(values: dict[str, Any]) -> tuple[str, str]:
    """(account id, account name) picked in the modal."""
    option = (values.get(ACCOUNT_BLOCK, {}).get(ActionId.FIELD.value) or {}).get("selected_option") or {}
    account_id, name = option.get("value"), (option.get("text") or {}).get("text")
    if not isinstance(account_id, str) or not isinstance(name, str):
        raise InvalidSubmission({ACCOUNT_BLOCK: "required"})
    return account_id, name


CALLBACK_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.3rem}h1.ok{color:#1d6b4f}h1.failed{color:#a33a2b}"
)
# Nothing on Aprova's OAuth pages may load, run, submit, or be framed; only their one inline style applies.
CALLBACK_PAGE_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(CALLBACK_PAGE_STYLE.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def build_callback_page(message_key: str, *, locale: Locale, success: bool, **params: str) -> str:
    """The small HTML page the admin's browser shows after Conta Azul redirects back (send it with
    ``CALLBACK_PAGE_CSP``)."""
    title = html.escape(t(locale, "page.title"))
    message = html.escape(t(locale, message_key, **params)).replace("`", "")
    return f"""<!doctype html>
<html lang="{"pt-BR" if locale == "pt_BR" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>{CALLBACK_PAGE_STYLE}</style></head>
<body><h1 class="{"ok" if success else "failed"}">{"✅" if success else "⚠️"} {title}</h1><p>{message}</p></body></html>
"""
