"""``python -m bot check --contaazul``: the read-only calls Aprova relies on, made against each connected company,
each reported with whether its answer has the shape Aprova reads. The first thing to run on a real account.

Nothing is written to Conta Azul: the company, the financial accounts, the expense categories, the cost centers, a
supplier search and a payable search, through the same client (and its limits) that posts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from bot.wiring import build_contaazul
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.connector import PAYABLE_REFUSED_TYPES, stored_connections
from ledger.errors import GatewayError
from ledger.ports import Books

SEARCH_WINDOW = timedelta(days=30)


class Unusable(Exception):
    """Conta Azul answered, but not with what Aprova needs; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class CallResult:
    call: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"  {'✓' if self.ok else '✗'} {self.call}: {self.detail}"


async def _company(books: Books, today: date) -> str:
    company = await books.connected_company()
    if not company.name:
        raise Unusable("no razao_social nor nome_fantasia, which Aprova shows as the company's name")
    return company.name


async def _accounts(books: Books, today: date) -> str:
    accounts = await books.financial_accounts()
    if any(not a.id for a in accounts):
        raise Unusable("an account without its id")
    usable = [a for a in accounts if a.type not in PAYABLE_REFUSED_TYPES]
    if not usable:
        raise Unusable("no active account takes payables: create one in Conta Azul (every payable needs one)")
    default = next((a.name for a in usable if a.default), None)
    return f"{len(usable)} for payables, default {default or 'not marked: choose one with /contaazul account'}"


async def _categories(books: Books, today: date) -> str:
    categories = await books.categories("DESPESA")
    if any(not c.id or not c.name for c in categories):
        raise Unusable("a category without its id or name (Aprova matches categories by name)")
    if not categories:
        raise Unusable("no expense category: create them in Conta Azul (the API cannot)")
    return f"{len(categories)} expense categories"


async def _cost_centers(books: Books, today: date) -> str:
    centers = await books.cost_centers()
    if any(not c.id or not c.name for c in centers):
        raise Unusable("a cost center without its id or name")
    return f"{len(centers)} (new ones are created when a request names them)"


async def _suppliers(books: Books, today: date) -> str:
    people = await books.search_people("", "Fornecedor", limit=20)
    if any(not p.id or not p.name for p in people):
        raise Unusable("a person without id or name")
    return f"{len(people)} found on the first page"


async def _payables(books: Books, today: date) -> str:
    entries = await books.search_entries("payable", today - SEARCH_WINDOW, today + SEARCH_WINDOW)
    if any(not e.id or e.due_date is None or e.total is None for e in entries):
        raise Unusable("an installment without id, data_vencimento or total (Aprova reconciles by them)")
    return f"{len(entries)} due within {SEARCH_WINDOW.days} days of today"


CALLS: tuple[tuple[str, Callable[[Books, date], Awaitable[str]]], ...] = (
    ("connected company", _company),
    ("financial accounts", _accounts),
    ("categories", _categories),
    ("cost centers", _cost_centers),
    ("supplier search", _suppliers),
    ("payable search", _payables),
)


async def _call(name: str, call: Callable[[Books, date], Awaitable[str]], books: Books, today: date) -> CallResult:
    try:
        return CallResult(name, True, await call(books, today))
    except Unusable as exc:
        return CallResult(name, False, str(exc))
    except GatewayError as exc:
        status = f"HTTP {exc.status}" if exc.status else exc.code
        return CallResult(name, False, f"Conta Azul refused or failed ({status}): {exc}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return CallResult(name, False, f"the answer does not have the shape Aprova reads ({type(exc).__name__}: {exc})")


async def probe_contaazul(settings: Settings, engine: AsyncEngine) -> tuple[list[str], bool]:
    """The report's lines, and whether every call of every connected company answered as Aprova needs."""
    session_factory = db.create_session_factory(engine)
    clock = SystemClock(settings.timezone)
    books = build_contaazul(settings, clock, session_factory)
    if books is None:
        return ["Conta Azul is not configured: set CONTAAZUL_CLIENT_ID and CONTAAZUL_CLIENT_SECRET"], False
    lines: list[str] = []
    healthy = True
    try:
        connections = await stored_connections(session_factory, books.cipher)
        if not connections:
            return ["No workspace has connected Conta Azul yet: a finance admin runs /contaazul connect"], False
        for connection in connections:
            lines.append(f"Conta Azul for workspace {connection.team_id} ({connection.company_name}), read-only:")
            if not connection.readable:
                lines.append(
                    "  ✗ tokens: APROVA_ENCRYPTION_KEY cannot decrypt them → put back the key they were encrypted "
                    "with, or /contaazul connect again"
                )
                healthy = False
                continue
            client = books.client(connection.team_id)
            for name, call in CALLS:
                result = await _call(name, call, client, clock.today())
                lines.append(str(result))
                healthy = healthy and result.ok
    finally:
        await books.aclose()
    return lines, healthy
