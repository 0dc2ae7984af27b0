"""Long-lived dependencies, handed to every listener through the Bolt context (built in ``bot.wiring``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.i18n import Locale
from bot.people import People
from bot.settings import Settings
from ledger import RequestView
from ledger.contaazul.connector import ContaAzul
from ledger.flows import Decided, Submitted
from ledger.notifications import Lease, NotificationView
from ledger.ports import Clock
from ledger.receivables import ReceivableRules
from ledger.use_cases import Ledger


class Answering:
    """The Slack requests being answered right now (until their ack). Background work lets them go first: an answer
    has 3 seconds, a message or a posting can wait a moment."""

    def __init__(self) -> None:
        self._count = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        self._count += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._quiet.set()

    async def quiet(self, longest: float) -> bool:
        """Return when no request is being answered (True), or after ``longest`` seconds (False: background work
        never starves, but should take a small bite)."""
        if self._quiet.is_set():
            return True
        try:
            await asyncio.wait_for(self._quiet.wait(), longest)
        except TimeoutError:
            return False
        return True


class Handover(Protocol):
    """This process's delivery worker, as a listener sees it: an event stored leased to it is handed over."""

    def lease(self) -> Lease: ...

    def hand_over(self, event: NotificationView, request: RequestView) -> None: ...


@dataclass
class Deps:
    settings: Settings
    ledger: Ledger  # the use cases
    people: People
    # Nudges the posting worker so a final approval is posted at once rather than at its next poll.
    wake_poster: Callable[[], None] = field(default=lambda: None)
    # Nudges the delivery worker so what a change must tell goes out at once rather than at its next poll.
    wake_deliveries: Callable[[], None] = field(default=lambda: None)
    # The same worker, to which a new request's (or a decision's) event is leased in the change's own transaction and
    # handed once the person is answered: it sends it without claiming it or reading the request back (None: claimed
    # as usual).
    deliveries: Handover | None = None
    # How won deals become receivables (APROVA_RECEIVABLES_FILE); None turns the deal webhooks off.
    receivables: ReceivableRules | None = None
    team_id: str | None = None  # the workspace this Aprova serves, once Slack has said it (auth.test)
    answering: Answering = field(default_factory=Answering)

    def delivery_lease(self) -> Lease | None:
        return None if self.deliveries is None else self.deliveries.lease()

    def deliver(self, changed: Submitted | Decided) -> None:
        """What a submission or a decision must tell, sent now: handed to the worker it was leased to, else the
        worker woken."""
        if changed.handed is not None and self.deliveries is not None:
            self.deliveries.hand_over(changed.handed, changed.request)
        else:
            self.wake_deliveries()

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
