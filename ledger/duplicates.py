"""Possible duplicates of a payment request: earlier requests in Aprova, and open payables already in Conta Azul.

They are stored with the request as structured data (JSON), never as sentences: each reader sees them in their own
language (``bot.blocks.fields``). Older requests stored a sentence; :func:`decode` keeps it as it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.contaazul.connector import ContaAzul
from ledger.domain import RequestDraft
from ledger.errors import GatewayError
from ledger.names import name_key

log = logging.getLogger(__name__)

BOOKS_CHECK_SECONDS = 1.5  # Slack waits 3 s for the submission's answer: a slow Conta Azul must not lose it
MAX_KEPT = 20


@dataclass(frozen=True, slots=True)
class PossibleDuplicate:
    """An earlier request (``reference``), or an entry in Conta Azul (its ``description``, ``amount``, ``due``);
    ``text`` only for what older versions stored as a sentence."""

    reference: str | None = None
    description: str | None = None
    amount: Decimal | None = None
    due: date | None = None
    text: str | None = None


def encode_duplicates(found: list[PossibleDuplicate]) -> str | None:
    """The column's value: a JSON list (amounts as text, dates ISO), or None when there is nothing to flag."""
    if not found:
        return None
    items = [
        {k: (str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v) for k, v in d.items()}
        for d in (asdict(item) for item in found[:MAX_KEPT])
    ]
    return json.dumps([{k: v for k, v in item.items() if v is not None} for item in items], ensure_ascii=False)


def decode_duplicates(stored: str | None) -> list[PossibleDuplicate]:
    """Back from the column (or a modal's metadata); a sentence stored by an older version is kept whole."""
    if not stored:
        return []
    try:
        items = json.loads(stored)
    except ValueError:
        return [PossibleDuplicate(text=stored)]
    if not isinstance(items, list):
        return [PossibleDuplicate(text=stored)]
    return [_item(raw) for raw in items[:MAX_KEPT] if isinstance(raw, dict)]


def _item(raw: dict[str, Any]) -> PossibleDuplicate:
    amount, due = raw.get("amount"), raw.get("due")
    return PossibleDuplicate(
        reference=str(raw["reference"]) if raw.get("reference") else None,
        description=str(raw["description"])[:60] if raw.get("description") else None,
        amount=Decimal(str(amount)) if amount else None,
        due=date.fromisoformat(str(due)) if due else None,
        text=str(raw["text"])[:300] if raw.get("text") else None,
    )


async def in_books(books: ContaAzul | None, *, team_id: str, draft: RequestDraft) -> list[PossibleDuplicate]:
    """Open payables in Conta Azul due the same day, for the same amount and vendor — within a short budget, and
    nothing when Conta Azul is not connected, slow or failing (the check must never hold the submission)."""
    if books is None or await books.connection(team_id) is None:
        return []
    try:
        entries = await asyncio.wait_for(
            books.client(team_id).search_entries("payable", draft.due_date, draft.due_date), BOOKS_CHECK_SECONDS
        )
    except (TimeoutError, GatewayError) as exc:
        log.info("skipped the duplicate check in conta azul: %s", type(exc).__name__)
        return []
    vendor = name_key(draft.vendor_name)
    return [
        PossibleDuplicate(description=e.description[:60], amount=draft.amount, due=draft.due_date)
        for e in entries
        if e.total == draft.amount and e.person_name and name_key(e.person_name) == vendor and e.status != "QUITADO"
    ]
