"""Slack listeners: thin glue that acks, parses with ``bot.blocks``, calls ``ledger.flows`` and notifies."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.errors import Listeners
from bot.handlers import (
    approvals,
    contaazul,
    history,
    home,
    live_lists,
    payment_request,
    posting,
    receivables,
    rules,
)
from bot.settings import Settings


def register_handlers(bolt_app: AsyncApp, settings: Settings) -> None:
    app = Listeners(bolt_app)
    payment_request.register(app, settings)
    approvals.register(app, settings)
    home.register(app, settings)
    contaazul.register(app, settings)
    live_lists.register(app, settings)
    posting.register(app, settings)
    receivables.register(app, settings)
    history.register(app, settings)
    rules.register(app, settings)
