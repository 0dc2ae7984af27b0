"""What the periodic jobs read and change: reminders, escalation, the daily digest, expiring connections, and the
purge of bookkeeping rows.

Every instance of Aprova runs the same schedule, so each change here is safe to attempt twice at once:
a reminder or an escalation is a compare-and-set on its step (``... WHERE reminded_at IS NULL``), and a
once-a-day job first inserts its ``JobRun`` row — only the instance whose insert succeeds goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.clock import BRAZIL
from ledger.contaazul.oauth import STATUS_ACTIVE, STATUS_NEEDS_RECONNECT
from ledger.domain import RequestKind, RequestStatus, StepStatus
from ledger.models import (
    ApprovalStep,
    AuditEvent,
    ContaAzulConnection,
    JobRun,
    OAuthState,
    PaymentRequest,
    ProcessedDelivery,
)
from ledger.notifications import NotificationEvent, notify
from ledger.ports import Clock
from ledger.read_models import RequestView, StepView

SessionFactory = async_sessionmaker[AsyncSession]

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class DueStep:
    """An open approval step that has waited long enough for a reminder or an escalation."""

    request: RequestView
    step: StepView
    waiting: timedelta  # since the step was opened


@dataclass(frozen=True, slots=True)
class Digest:
    """One team's day in numbers, for the finance channel. Money is ``Decimal`` BRL."""

    team_id: str
    day: date
    pending_count: int
    pending_total: Decimal
    awaiting_posting_count: int  # approved, not yet in Conta Azul
    awaiting_posting_total: Decimal
    posted_count: int  # posted to Conta Azul during ``day``
    posted_total: Decimal
    rejected_count: int  # rejected during ``day``
    rejected_total: Decimal
    receivables_posted_count: int  # receivables (won deals…) posted during ``day``; the rest counts payables only
    receivables_posted_total: Decimal
    failed_references: tuple[str, ...]  # postings that failed and wait for an admin's Retry
    generated_at: datetime


async def claim_run(session_factory: SessionFactory, *, clock: Clock, name: str, run_key: str, owner: str) -> bool:
    """Insert the ``(name, run_key)`` row; True only for the one caller whose insert succeeded."""
    try:
        async with session_factory.begin() as session:
            session.add(JobRun(name=name, run_key=run_key, owner=owner, started_at=clock.now()))
    except IntegrityError:
        return False
    return True


# How long bookkeeping rows stay. A delivery's replay key must outlive every retry of it (Slack's within the hour,
# a signed CRM request within its 5-minute window); a state outlives its 10-minute link so a late click is told
# "expired" rather than "unknown"; a job run outlives any day a digest could still be claimed for.
DELIVERY_KEYS_KEPT = timedelta(days=1)
OAUTH_STATES_KEPT = timedelta(days=1)  # after they expire
JOB_RUNS_KEPT = timedelta(days=30)


async def purge_bookkeeping(session_factory: SessionFactory, *, clock: Clock) -> dict[str, int]:
    """Delete replay keys, OAuth states and job runs nothing needs any more; safe on every instance at once.

    Returns:
        How many rows went, by table.
    """
    now = clock.now()
    purges = {
        "processed_deliveries": delete(ProcessedDelivery).where(
            ProcessedDelivery.received_at < now - DELIVERY_KEYS_KEPT
        ),
        "oauth_states": delete(OAuthState).where(OAuthState.expires_at < now - OAUTH_STATES_KEPT),
        "job_runs": delete(JobRun).where(JobRun.started_at < now - JOB_RUNS_KEPT),
    }
    async with session_factory.begin() as session:
        return {table: _rowcount(await session.execute(purge)) for table, purge in purges.items()}


async def due_reminders(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    remind_after: timedelta,
    escalate_after: timedelta,
    team_id: str | None = None,
) -> tuple[list[DueStep], list[DueStep]]:
    """Open steps of pending requests to remind (not reminded yet) and to escalate (not escalated yet).

    Returns:
        ``(to_remind, to_escalate)``, oldest request first; a step may be in both.
    """
    now = clock.now()
    async with session_factory() as session:
        rows = await session.scalars(
            select(PaymentRequest)
            .join(
                ApprovalStep,
                and_(ApprovalStep.request_id == PaymentRequest.id, ApprovalStep.status == StepStatus.OPEN.value),
            )
            .where(
                PaymentRequest.status == RequestStatus.PENDING.value,
                PaymentRequest.team_id == team_id if team_id is not None else true(),
                ApprovalStep.opened_at <= now - min(remind_after, escalate_after),
                or_(ApprovalStep.reminded_at.is_(None), ApprovalStep.escalated_at.is_(None)),
            )
            .order_by(PaymentRequest.id)
        )
        requests = [RequestView.from_row(r) for r in rows]
    to_remind: list[DueStep] = []
    to_escalate: list[DueStep] = []
    for request in requests:
        step = next(s for s in request.steps if s.status == StepStatus.OPEN)
        assert step.opened_at is not None  # the query compared it
        waiting = now - step.opened_at
        if waiting >= remind_after and step.reminded_at is None:
            to_remind.append(DueStep(request, step, waiting))
        if waiting >= escalate_after and step.escalated_at is None:
            to_escalate.append(DueStep(request, step, waiting))
    return to_remind, to_escalate


async def mark_reminded(session_factory: SessionFactory, *, clock: Clock, step_id: int, hours: int) -> bool:
    """Compare-and-set ``reminded_at``; True for the one caller that should send the reminder."""
    now = clock.now()
    async with session_factory.begin() as session:
        result = await session.execute(
            update(ApprovalStep)
            .where(
                ApprovalStep.id == step_id,
                ApprovalStep.status == StepStatus.OPEN.value,
                ApprovalStep.reminded_at.is_(None),
            )
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return False
        await _audit_and_notify(session, step_id, "reminded", now, hours=hours)
    return True


async def escalate(
    session_factory: SessionFactory, *, clock: Clock, step_id: int, fallback: tuple[str, ...], hours: int
) -> list[str] | None:
    """Add the fallback approvers to an open step, once (compare-and-set on ``escalated_at``).

    The requester, people already on the step and anyone who holds or decided another step of the request are
    never added: one person decides a request once. The step is marked escalated even when nobody is left to
    add, so it is not looked at again.

    Returns:
        The approvers added, or None when another caller escalated first or there was nobody to add.
    """
    now = clock.now()
    async with session_factory.begin() as session:
        found = (
            await session.execute(
                select(ApprovalStep.request_id, ApprovalStep.approvers, PaymentRequest.requester_id)
                .join(PaymentRequest, PaymentRequest.id == ApprovalStep.request_id)
                .where(ApprovalStep.id == step_id)
            )
        ).one_or_none()
        if found is None:
            return None
        approvers: list[str] = list(found.approvers)
        others = await session.execute(
            select(ApprovalStep.approvers, ApprovalStep.decided_by).where(
                ApprovalStep.request_id == found.request_id, ApprovalStep.id != step_id
            )
        )
        excluded = {found.requester_id, *approvers}
        for other_approvers, decided_by in others:
            excluded.update(other_approvers)
            if decided_by:
                excluded.add(decided_by)
        added = [p for p in dict.fromkeys(fallback) if p not in excluded]
        result = await session.execute(
            update(ApprovalStep)
            .where(
                ApprovalStep.id == step_id,
                ApprovalStep.status == StepStatus.OPEN.value,
                ApprovalStep.escalated_at.is_(None),
            )
            .values(escalated_at=now, approvers=approvers + added)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return None
        # Nobody left to add: audited, and nobody to tell.
        await _audit_and_notify(session, step_id, "escalated", now, hours=hours, tell=bool(added), added=added)
    return added or None


async def daily_digest(
    session_factory: SessionFactory, *, clock: Clock, team_id: str, day: date, tz: ZoneInfo = BRAZIL
) -> Digest:
    """The team's numbers: what is pending or waiting to be posted now, and what was posted or rejected on ``day``.

    ``day`` is a business date in ``tz``; it runs from midnight to midnight there.
    """
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    team = and_(PaymentRequest.team_id == team_id, PaymentRequest.kind == RequestKind.PAYABLE)
    receivables = and_(PaymentRequest.team_id == team_id, PaymentRequest.kind == RequestKind.RECEIVABLE)
    async with session_factory() as session:
        pending = await _count_and_total(session, team, PaymentRequest.status == RequestStatus.PENDING.value)
        awaiting = await _count_and_total(
            session, team, PaymentRequest.status.in_([RequestStatus.APPROVED.value, RequestStatus.POSTING.value])
        )
        posted_on_day = and_(
            PaymentRequest.status == RequestStatus.POSTED.value,
            PaymentRequest.posted_at >= start,
            PaymentRequest.posted_at < end,
        )
        posted = await _count_and_total(session, team, posted_on_day)
        rejected = await _count_and_total(
            session,
            team,
            PaymentRequest.status == RequestStatus.REJECTED.value,
            PaymentRequest.decided_at >= start,
            PaymentRequest.decided_at < end,
        )
        received = await _count_and_total(session, receivables, posted_on_day)
        failed = await session.scalars(
            select(PaymentRequest.reference)
            .where(PaymentRequest.team_id == team_id, PaymentRequest.status == RequestStatus.POST_FAILED.value)
            .order_by(PaymentRequest.id)
        )
        failed_references = tuple(failed)
    return Digest(
        team_id=team_id,
        day=day,
        pending_count=pending[0],
        pending_total=pending[1],
        awaiting_posting_count=awaiting[0],
        awaiting_posting_total=awaiting[1],
        posted_count=posted[0],
        posted_total=posted[1],
        rejected_count=rejected[0],
        rejected_total=rejected[1],
        receivables_posted_count=received[0],
        receivables_posted_total=received[1],
        failed_references=failed_references,
        generated_at=clock.now(),
    )


async def digest_teams(session_factory: SessionFactory) -> list[str]:
    """Teams with at least one request: the ones a digest is about."""
    async with session_factory() as session:
        rows = await session.scalars(select(PaymentRequest.team_id).distinct().order_by(PaymentRequest.team_id))
        return list(rows)


async def connections_expiring(session_factory: SessionFactory, *, clock: Clock, within: timedelta) -> list[str]:
    """Teams whose active Conta Azul access token expires within ``within`` (or already has)."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(ContaAzulConnection.team_id)
            .where(
                ContaAzulConnection.status == STATUS_ACTIVE,
                ContaAzulConnection.access_expires_at <= clock.now() + within,
            )
            .order_by(ContaAzulConnection.team_id)
        )
        return list(rows)


async def reconnects_untold(session_factory: SessionFactory) -> list[str]:
    """Teams whose Conta Azul connection must be renewed and whose admins were not alerted yet (marked so by
    ``python -m bot rotate-key``, or by a process that stopped before telling them)."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(ContaAzulConnection.team_id)
            .where(
                ContaAzulConnection.status == STATUS_NEEDS_RECONNECT,
                ContaAzulConnection.needs_reconnect_alerted_at.is_(None),
            )
            .order_by(ContaAzulConnection.team_id)
        )
        return list(rows)


async def _count_and_total(session: AsyncSession, *conditions: Any) -> tuple[int, Decimal]:
    row = (await session.execute(select(func.count(), func.sum(PaymentRequest.amount)).where(*conditions))).one()
    count, total = row
    return int(count), ZERO if total is None else Decimal(total).quantize(ZERO)


async def _audit_and_notify(
    session: AsyncSession, step_id: int, action: str, now: datetime, *, hours: int, tell: bool = True, **detail: Any
) -> None:
    """The step's audit event and the notification that tells people, in the step change's transaction."""
    found = (
        await session.execute(
            select(PaymentRequest.id, PaymentRequest.team_id, ApprovalStep.name, ApprovalStep.position)
            .join(ApprovalStep, ApprovalStep.request_id == PaymentRequest.id)
            .where(ApprovalStep.id == step_id)
        )
    ).one()
    session.add(
        AuditEvent(
            team_id=found.team_id,
            request_id=found.id,
            actor_id=None,
            action=action,
            detail={"step": found.name, **detail},
            created_at=now,
        )
    )
    if not tell:
        return
    event = NotificationEvent.REMINDED if action == "reminded" else NotificationEvent.ESCALATED
    await notify(
        session,
        team_id=found.team_id,
        request_id=found.id,
        event=event,
        now=now,
        step=found.position,
        hours=hours,
        **detail,
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
