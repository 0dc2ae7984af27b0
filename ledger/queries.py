"""Queries: what people look at (their requests, what waits for them, a month's close, possible duplicates).

Read-only, each in its own short session; the use cases that change anything are in :mod:`ledger.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, cast, exists, func, select, type_coerce, union
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from ledger.db import Statements
from ledger.domain import RequestDraft, RequestKind, RequestStatus, StepStatus
from ledger.models import ApprovalStep, AuditEvent, Money, PaymentRequest, table_of
from ledger.names import name_key
from ledger.read_models import AuditEntry, RequestView

SessionFactory = async_sessionmaker[AsyncSession]


async def recent_requests(
    session_factory: SessionFactory, *, team_id: str, requester_id: str, limit: int = 10
) -> list[RequestView]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.team_id == team_id, PaymentRequest.requester_id == requester_id)
            .order_by(PaymentRequest.id.desc())
            .limit(limit)
        )
        return [RequestView.from_row(r) for r in rows]


async def waiting_for(
    session_factory: SessionFactory, *, team_id: str, approver_id: str, limit: int = 20
) -> list[RequestView]:
    """Pending requests whose open step ``approver_id`` may decide, oldest first — filtered by the database, so a
    Home tab costs the same with ten pending requests or ten thousand."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(PaymentRequest)
            .join(
                ApprovalStep,
                (ApprovalStep.request_id == PaymentRequest.id) & (ApprovalStep.status == StepStatus.OPEN.value),
            )
            .where(
                PaymentRequest.team_id == team_id,
                PaymentRequest.status == RequestStatus.PENDING.value,
                _names(session, ApprovalStep.approvers, approver_id),
            )
            .order_by(PaymentRequest.id)
            .limit(limit)
        )
        return [RequestView.from_row(r) for r in rows]


def _names(session: AsyncSession, approvers: InstrumentedAttribute[Any], person: str) -> ColumnElement[bool]:
    """``person`` is in the JSON list ``approvers`` (the JSON functions differ per database)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(approvers, JSONB).contains([person])
    listed = func.json_each(approvers).table_valued("value")
    return exists(select(1).select_from(listed).where(listed.c.value == person))


def _in_month(team_id: str, first_day: date) -> list[ColumnElement[bool]]:
    next_month = date(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)
    return [
        PaymentRequest.team_id == team_id,
        PaymentRequest.competence_date >= first_day,
        PaymentRequest.competence_date < next_month,
    ]


async def requests_of_month(session_factory: SessionFactory, *, team_id: str, first_day: date) -> list[RequestView]:
    """Payables and receivables whose competence date falls in the month of ``first_day``: the monthly close."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(PaymentRequest)
            .where(*_in_month(team_id, first_day))
            .order_by(PaymentRequest.kind, PaymentRequest.reference)
        )
        return [RequestView.from_row(r) for r in rows]


Total = tuple[str | None, int, Decimal]  # (name, how many, how much)


@dataclass(frozen=True, slots=True)
class MonthTotals:
    """Where the month's money goes (requests not rejected or cancelled), largest totals first."""

    month: date
    by_category: list[Total]
    by_cost_center: list[Total]  # None: no cost center
    receivables: tuple[int, Decimal]


async def month_totals(session_factory: SessionFactory, *, team_id: str, first_day: date) -> MonthTotals:
    """Summed by the database, so the Home tab costs the same with ten requests or ten thousand."""
    live = [
        *_in_month(team_id, first_day),
        PaymentRequest.status.notin_([RequestStatus.REJECTED, RequestStatus.CANCELLED]),
    ]
    count, total = func.count(), type_coerce(func.coalesce(func.sum(PaymentRequest.amount), 0), Money)

    async def grouped(session: AsyncSession, column: InstrumentedAttribute[Any]) -> list[Total]:
        rows = await session.execute(
            select(column, count, total).where(*live, PaymentRequest.kind == RequestKind.PAYABLE).group_by(column)
        )
        return sorted(((name, int(n), amount) for name, n, amount in rows), key=lambda t: (-t[2], t[0] or ""))

    async with session_factory() as session:
        by_category = await grouped(session, PaymentRequest.category)
        by_cost_center = await grouped(session, PaymentRequest.cost_center)
        receivables = (
            await session.execute(select(count, total).where(*live, PaymentRequest.kind == RequestKind.RECEIVABLE))
        ).one()
    return MonthTotals(first_day, by_category, by_cost_center, (int(receivables[0]), receivables[1]))


async def audit_trails(session_factory: SessionFactory, *, request_ids: list[int]) -> dict[int, list[AuditEntry]]:
    """Each request's audit events, oldest first."""
    trails: dict[int, list[AuditEntry]] = {request_id: [] for request_id in request_ids}
    async with session_factory() as session:
        for start in range(0, len(request_ids), 500):  # keeps the IN list well under every database's limits
            rows = await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.request_id.in_(request_ids[start : start + 500]))
                .order_by(AuditEvent.id)
            )
            for event in rows:
                trails[event.request_id or 0].append(AuditEntry.from_row(event))
    return trails


DUPLICATE_WINDOW_DAYS = 90


# Built once (a submission runs it before it is answered): only what the comparison reads. A condition whose value
# is missing compares with NULL, which matches nothing. Two searches, each on its own index, rather than one OR: the
# OR made the database walk every live request of the team, a cost that grew with the backlog.
_R = table_of(PaymentRequest).c
_LIVE_PAYABLES = (
    _R.team_id == bindparam("team_id"),
    _R.kind == RequestKind.PAYABLE.value,
    _R.status != RequestStatus.REJECTED.value,
    _R.status != RequestStatus.CANCELLED.value,
    _R.created_at >= bindparam("since"),
)
_COMPARED = (
    _R.id,
    _R.reference,
    _R.vendor_document,
    _R.vendor_name,
    _R.amount_cents.label("amount"),
    _R.due_date,
    _R.invoice_number,
)
_LOOK_ALIKES = union(
    select(*_COMPARED).where(
        *_LIVE_PAYABLES,
        _R.vendor_document == bindparam("vendor_document"),
        _R.amount_cents == bindparam("amount"),
        _R.due_date == bindparam("due_date"),
    ),
    select(*_COMPARED).where(*_LIVE_PAYABLES, _R.invoice_number == bindparam("invoice_number")),
).order_by("id")


async def look_alikes(runner: Statements, *, team_id: str, draft: RequestDraft, today: date) -> list[str]:
    """References of live payment requests (not rejected or cancelled) from the last 90 days that look like this
    one: the same vendor document, amount and due date, or the same NF number from the same vendor."""
    if not draft.vendor_document and not draft.invoice_number:
        return []
    since = datetime.combine(today - timedelta(days=DUPLICATE_WINDOW_DAYS), time.min, tzinfo=UTC)
    parameters = {
        "team_id": team_id,
        "since": since,
        "vendor_document": draft.vendor_document or None,
        "amount": draft.amount,
        "due_date": draft.due_date,
        "invoice_number": draft.invoice_number or None,
    }
    found = (await runner.execute(_LOOK_ALIKES, parameters)).all()
    same_vendor = {draft.vendor_document} if draft.vendor_document else set()
    return [
        r.reference
        for r in found
        # The same NF number only counts for the same vendor (by document, else by name).
        if (
            draft.vendor_document
            and r.vendor_document == draft.vendor_document
            and r.amount == draft.amount
            and r.due_date == draft.due_date
        )
        or (
            r.invoice_number == draft.invoice_number
            and (r.vendor_document in same_vendor or name_key(r.vendor_name) == name_key(draft.vendor_name))
        )
    ]


async def requests_with_status(
    session_factory: SessionFactory, *, team_id: str, status: RequestStatus, limit: int = 50
) -> list[RequestView]:
    """The team's requests in one status, oldest first."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.team_id == team_id, PaymentRequest.status == status.value)
            .order_by(PaymentRequest.id)
            .limit(limit)
        )
        return [RequestView.from_row(r) for r in rows]
