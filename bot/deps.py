"""Long-lived dependencies, handed to every listener through the Bolt context (built in ``bot.wiring``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.i18n import Locale
from bot.people import People
from bot.settings import Settings
from ledger.contaazul.connector import ContaAzul
from ledger.ports import Clock
from ledger.receivables import ReceivableRules
from ledger.use_cases import Ledger


@dataclass
class Deps:
    settings: Settings
    ledger: Ledger  # the use cases
    people: People
    # Nudges the posting worker so a final approval is posted at once rather than at its next poll.
    wake_poster: Callable[[], None] = field(default=lambda: None)
    # Nudges the delivery worker so what a change must tell goes out at once rather than at its next poll.
    wake_deliveries: Callable[[], None] = field(default=lambda: None)
    # How won deals become receivables (APROVA_RECEIVABLES_FILE); None turns the deal webhooks off.
    receivables: ReceivableRules | None = None
    team_id: str | None = None  # the workspace this Aprova serves, once Slack has said it (auth.test)

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.ledger.session_factory

    @property
    def clock(self) -> Clock:
        return self.ledger.clock

    @property
    def contaazul(self) -> ContaAzul | None:
        """None when Conta Azul is not configured (no client id/secret): requests are typed, never posted."""
        return self.ledger.books

    @property
    def default_locale(self) -> Locale:
        return "en" if self.settings.default_locale == "en" else "pt_BR"
