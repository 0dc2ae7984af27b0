"""The notification outbox: what people must be told after a change, stored in the change's own transaction.

A use case adds an event (``submitted``, ``decided``…) with :func:`notify`; the Slack layer's delivery worker claims
events (:func:`claim`), renders and sends their messages, remembers each message sent (:func:`record_progress`) and
closes the event (:func:`finish`), or tries again later (:func:`retry_later`) or gives up (:func:`give_up`).
A process that dies between the commit and the messages leaves the event pending, and the next worker sends it.

One request's events go out in the order they happened: an event is claimed only when every earlier event of its
request is closed (the tracking message exists before its thread replies; "approved" comes after "your turn").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from ledger.models import Notification
from ledger.ports import Clock

SessionFactory = async_sessionmaker[AsyncSession]


class NotificationEvent(enum.StrEnum):
    SUBMITTED = "submitted"  # the tracking message, then the first step's approvers
    DECIDED = "decided"  # the decided step's messages, the tracking message, a thread reply, the next approvers
    CANCELLED = "cancelled"
    EDITED = "edited"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    TRACKING = "tracking"  # the tracking message redrawn (a Retry)


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"  # retried for too long: left for the operator (logged and audited)


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    team_id: str
    request_id: int | None
    event: NotificationEvent
    payload: dict[str, Any]
    progress: dict[str, Any]  # message key → what was sent ({"channel", "ts"}), or why it could not be
    attempts: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: Notification) -> NotificationView:
        return cls(
            id=row.id,
            team_id=row.team_id,
            request_id=row.request_id,
            event=NotificationEvent(row.event),
            payload=dict(row.payload or {}),
            progress=dict(row.progress or {}),
            attempts=row.attempts,
            created_at=row.created_at,
        )


def notify(
    session: AsyncSession,
    *,
    team_id: str,
    request_id: int | None,
    event: NotificationEvent,
    now: datetime,
    **payload: Any,
) -> None:
    """Add an event to the outbox inside the caller's transaction: it is sent if, and only if, the change commits."""
    session.add(
        Notification(
            team_id=team_id,
            request_id=request_id,
            event=event.value,
            payload=payload,
            status=NotificationStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            progress={},
            created_at=now,
            updated_at=now,
        )
    )


def _lease_free(now: datetime) -> Any:
    return or_(Notification.lease_expires_at.is_(None), Notification.lease_expires_at <= now)


def _claimable(now: datetime) -> list[Any]:
    earlier = aliased(Notification)
    waits_for_earlier = exists().where(
        earlier.request_id == Notification.request_id,
        earlier.id < Notification.id,
        earlier.status == NotificationStatus.PENDING.value,
    )
    return [
        Notification.status == NotificationStatus.PENDING.value,
        Notification.next_attempt_at <= now,
        _lease_free(now),
        or_(Notification.request_id.is_(None), ~waits_for_earlier),
    ]


async def claim(
    session_factory: SessionFactory, *, clock: Clock, owner: str, lease: timedelta, limit: int = 20
) -> list[NotificationView]:
    """Lease up to ``limit`` due events, oldest first, at most one per request (the earliest still open)."""
    now = clock.now()
    async with session_factory.begin() as session:
        query = select(Notification.id).where(*_claimable(now)).order_by(Notification.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # instances share the work instead of queueing
        ids = list(await session.scalars(query))
        if not ids:
            return []
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), _lease_free(now))  # still free: a compare-and-set, whatever the database
            .values(
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=Notification.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = await session.scalars(
            select(Notification)
            .where(Notification.id.in_(ids), Notification.lease_owner == owner, Notification.lease_expires_at > now)
            .order_by(Notification.id)
        )
        return [NotificationView.from_row(row) for row in rows]


async def record_progress(
    session_factory: SessionFactory, *, clock: Clock, notification_id: int, owner: str, key: str, value: Any
) -> bool:
    """Remember one message of the event (sent, looked for, or refused for good); False if the lease was lost."""
    async with session_factory.begin() as session:
        row = await session.get(Notification, notification_id, with_for_update=True)
        if row is None or row.lease_owner != owner:
            return False
        row.progress = {**(row.progress or {}), key: value}
        row.updated_at = clock.now()
    return True


async def finish(session_factory: SessionFactory, *, clock: Clock, notification_id: int, owner: str) -> None:
    await _close(session_factory, clock, notification_id, owner, status=NotificationStatus.DONE, error=None)


async def give_up(
    session_factory: SessionFactory, *, clock: Clock, notification_id: int, owner: str, error: str
) -> None:
    await _close(session_factory, clock, notification_id, owner, status=NotificationStatus.DEAD, error=error)


async def retry_later(
    session_factory: SessionFactory, *, clock: Clock, notification_id: int, owner: str, at: datetime, error: str
) -> None:
    """Release the lease; the event is due again at ``at`` (Slack's Retry-After, or a backoff)."""
    async with session_factory.begin() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.lease_owner == owner)
            .values(
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=at,
                last_error=error[:200],
                updated_at=clock.now(),
            )
            .execution_options(synchronize_session=False)
        )


async def _close(
    session_factory: SessionFactory,
    clock: Clock,
    notification_id: int,
    owner: str,
    *,
    status: NotificationStatus,
    error: str | None,
) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.lease_owner == owner)
            .values(
                status=status.value,
                lease_owner=None,
                lease_expires_at=None,
                last_error=error[:200] if error else None,
                updated_at=clock.now(),
            )
            .execution_options(synchronize_session=False)
        )


async def pending_count(session_factory: SessionFactory) -> int:
    """Events not sent yet (for health checks and tests)."""
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.status == NotificationStatus.PENDING.value)
        )
        return int(count or 0)


async def purge_sent(session_factory: SessionFactory, *, before: datetime) -> int:
    """Forget events sent before ``before`` (the audit trail keeps what happened)."""
    async with session_factory.begin() as session:
        result = await session.execute(
            delete(Notification)
            .where(and_(Notification.status == NotificationStatus.DONE.value, Notification.updated_at < before))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
