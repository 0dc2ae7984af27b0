"""Slack listeners: thin glue that acks, parses with ``bot.blocks``, calls a ``Ledger`` use case and notifies."""

from __future__ import annotations

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


def register_handlers(app: Listeners, settings: Settings) -> None:
    payment_request.register(app, settings)
    approvals.register(app, settings)
    home.register(app, settings)
    contaazul.register(app, settings)
    live_lists.register(app, settings)
    posting.register(app, settings)
    receivables.register(app, settings)
    history.register(app, settings)
    rules.register(app, settings)
