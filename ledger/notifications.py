"""The notification outbox: what people must be told after a change, stored in the change's own transaction.

A use case adds an event (``submitted``, ``decided``…) with :func:`notify`; the Slack layer's delivery worker claims
events (:func:`claim`), renders and sends their messages, and settles each claimed event in one transaction
(:func:`settle`): sent, due again later, or given up, with what was sent so far. A process that dies between the
commit and the messages leaves the event pending under a lease that runs out; the next worker takes it ``resumed`` and
looks for the messages the dead one may have sent before sending them.

One request's events go out in the order they happened: an event is claimed only when every earlier event of its
request is closed (the tracking message exists before its thread replies; "approved" comes after "your turn").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.db import Statements, writing_statements
from ledger.models import ApprovalMessage, Notification, PaymentRequest, table_of
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
    leased_until: datetime | None = None  # the claim's lease: past it, another worker may take the event over
    # An earlier attempt's worker stopped before it could say what it had sent: any message not in ``progress`` may
    # be in Slack already.
    resumed: bool = False

    @classmethod
    def from_row(cls, row: Notification | Row[*tuple[Any, ...]], *, resumed: bool = False) -> NotificationView:
        return cls(
            id=row.id,
            team_id=row.team_id,
            request_id=row.request_id,
            event=NotificationEvent(row.event),
            payload=dict(row.payload or {}),
            progress=dict(row.progress or {}),
            attempts=row.attempts,
            created_at=row.created_at,
            leased_until=row.lease_expires_at,
            resumed=resumed,
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """An event given to a worker as it is stored (:func:`notify`): ``owner`` holds it until ``until``, as if it
    had claimed it, and is handed it in memory, sparing it the claim and the read-back."""

    owner: str
    until: datetime


@dataclass
class Outcome:
    """How one claimed event ended this time, written by :func:`settle`.

    ``status`` DONE (sent), DEAD (given up) or PENDING (due again at ``due_at``); ``progress`` what was sent so far;
    ``tracking`` and ``approval_messages`` the messages the request keeps (to update them later), written with it.
    """

    notification_id: int
    status: NotificationStatus
    progress: dict[str, Any]
    due_at: datetime | None = None
    error: str | None = None
    tracking: tuple[int, str, str] | None = None  # request id, channel, ts
    approval_messages: list[tuple[int, str, str, str]] = field(default_factory=list)  # step id, approver, channel, ts


async def notify(
    runner: Statements,
    *,
    team_id: str,
    request_id: int | None,
    event: NotificationEvent,
    now: datetime,
    lease: Lease | None = None,
    **payload: Any,
) -> NotificationView:
    """Add an event to the outbox inside the caller's transaction: it is sent if, and only if, the change commits.

    With a ``lease`` it is stored already taken by that worker (the caller hands it over once committed); a worker
    that never sends it leaves it to be taken over when the lease runs out, as with any claim."""
    row = await runner.execute(
        _ADD,
        {
            "team_id": team_id,
            "request_id": request_id,
            "event": event.value,
            "payload": payload,
            "status": NotificationStatus.PENDING.value,
            "attempts": 0 if lease is None else 1,
            "next_attempt_at": now,
            "lease_owner": None if lease is None else lease.owner,
            "lease_expires_at": None if lease is None else lease.until,
            "progress": {},
            "created_at": now,
            "updated_at": now,
        },
    )
    return NotificationView.from_row(row.one())


# The worker's statements, built once: building and keying a statement costs more than SQLite running it.
_NOTIFICATIONS = table_of(Notification)
_N = _NOTIFICATIONS.c
_REQUESTS = table_of(PaymentRequest)
_APPROVAL_MESSAGES = table_of(ApprovalMessage)
_EARLIER = _NOTIFICATIONS.alias("earlier").c
_CLOSED = _NOTIFICATIONS.alias("closed").c
_LEASE_FREE = or_(_N.lease_expires_at.is_(None), _N.lease_expires_at <= bindparam("now"))
_VIEWED = (
    _N.id,
    _N.team_id,
    _N.request_id,
    _N.event,
    _N.payload,
    _N.progress,
    _N.attempts,
    _N.created_at,
    _N.lease_expires_at,
)
_ADD = insert(_NOTIFICATIONS).returning(*_VIEWED)  # a plain statement: written at once, not at the session's flush
_DUE = (
    select(_N.id, _N.lease_owner)
    .where(
        _N.status == NotificationStatus.PENDING.value,
        _N.next_attempt_at <= bindparam("now"),
        _LEASE_FREE,
        or_(
            _N.request_id.is_(None),
            ~exists().where(
                _EARLIER.request_id == _N.request_id,
                _EARLIER.id < _N.id,
                _EARLIER.status == NotificationStatus.PENDING.value,
            ),
        ),
    )
    .order_by(_N.id)
    .limit(bindparam("limit"))
)
_DUE_SKIP_LOCKED = _DUE.with_for_update(skip_locked=True)  # PostgreSQL: instances share the work, not queue for it
_TAKE = (
    update(_NOTIFICATIONS)
    .where(_N.id.in_(bindparam("ids", expanding=True)), _LEASE_FREE)  # still free: a compare-and-set
    .values(
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("until"),
        attempts=_N.attempts + 1,
        updated_at=bindparam("now"),
    )
    .returning(*_VIEWED)
)
_SETTLE = (
    update(_NOTIFICATIONS)
    .where(_N.id == bindparam("notification_id"), _N.lease_owner == bindparam("owner"))  # still ours
    .values(
        status=bindparam("new_status"),
        progress=bindparam("new_progress"),
        lease_owner=None,
        lease_expires_at=None,
        last_error=bindparam("error"),
        updated_at=bindparam("now"),
        # Due again at ``due`` when given, else as it was.
        next_attempt_at=func.coalesce(bindparam("due", type_=_N.next_attempt_at.type), _N.next_attempt_at),
    )
)
_KEEP_TRACKING = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request_id"))
    .values(tracking_channel=bindparam("channel"), tracking_ts=bindparam("ts"))
)
_KEEP_APPROVAL_MESSAGES = insert(_APPROVAL_MESSAGES)
_FOLLOWED = select(
    exists().where(
        _N.request_id.in_(select(_CLOSED.request_id).where(_CLOSED.id.in_(bindparam("closed", expanding=True)))),
        _N.status == NotificationStatus.PENDING.value,
    )
)


_UNSENT_OF = select(
    exists().where(_N.request_id == bindparam("request_id"), _N.status == NotificationStatus.PENDING.value)
)


async def has_unsent_events(session: AsyncSession, request_id: int) -> bool:
    """Whether an event of the request is still to be sent (or being sent), in the caller's transaction."""
    return bool(await session.scalar(_UNSENT_OF, {"request_id": request_id}))


async def claim(
    session_factory: SessionFactory, *, clock: Clock, owner: str, lease: timedelta, limit: int = 20
) -> list[NotificationView]:
    """Lease up to ``limit`` due events, oldest first, at most one per request (the earliest still open)."""
    now = clock.now()
    async with session_factory.begin() as session:
        postgresql = session.get_bind().dialect.name == "postgresql"
        due = (await session.execute(_DUE_SKIP_LOCKED if postgresql else _DUE, {"now": now, "limit": limit})).all()
        if not due:
            return []
        # A lease that ran out still naming its owner: that worker stopped without settling (released leases are
        # cleared).
        resumed = {row.id for row in due if row.lease_owner is not None}
        taken = await session.execute(
            _TAKE, {"ids": [row.id for row in due], "now": now, "owner": owner, "until": now + lease}
        )
        return sorted(
            (NotificationView.from_row(row, resumed=row.id in resumed) for row in taken), key=lambda view: view.id
        )


@dataclass(frozen=True)
class Settled:
    lost: list[int]  # events whose lease had gone to another worker: their outcome was not written
    followed: bool  # a closed event has a later one of its request waiting: it can be claimed now


async def settle(session_factory: SessionFactory, *, clock: Clock, owner: str, outcomes: Sequence[Outcome]) -> Settled:
    """Write how claimed events ended, all in one transaction (the worker that took a lost one over goes on from
    what it finds)."""
    if not outcomes:
        return Settled([], followed=False)
    now = clock.now()
    lost = []
    async with writing_statements(session_factory) as connection:  # plain statements: no Session (see ledger.db)
        for outcome in outcomes:
            result = await connection.execute(
                _SETTLE,
                {
                    "notification_id": outcome.notification_id,
                    "owner": owner,
                    "new_status": outcome.status.value,
                    "new_progress": outcome.progress,
                    "error": outcome.error[:200] if outcome.error else None,
                    "now": now,
                    "due": outcome.due_at,
                },
            )
            if not getattr(result, "rowcount", 0):
                lost.append(outcome.notification_id)
                continue
            if outcome.tracking is not None:
                request_id, channel, ts = outcome.tracking
                await connection.execute(_KEEP_TRACKING, {"request_id": request_id, "channel": channel, "ts": ts})
            if outcome.approval_messages:
                await connection.execute(
                    _KEEP_APPROVAL_MESSAGES,
                    [
                        {"step_id": step_id, "approver_id": approver, "channel": channel, "ts": ts}
                        for step_id, approver, channel, ts in outcome.approval_messages
                    ],
                )
        closed = [o.notification_id for o in outcomes if o.status is not NotificationStatus.PENDING]
        closed = [notification_id for notification_id in closed if notification_id not in lost]
        followed = bool(closed) and bool(await connection.scalar(_FOLLOWED, {"closed": closed}))
    return Settled(lost, followed)


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
