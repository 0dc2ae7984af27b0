"""The posting outbox: the job a final approval writes in its own transaction, an admin's Retry, and the
announcements of outcomes. The worker that drains it is :mod:`ledger.posting`."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.domain import RequestStatus
from ledger.errors import (
    StaleDecision,
)
from ledger.flows import add_audit, change_status
from ledger.models import Notification, PaymentRequest, Posting
from ledger.notifications import NotificationEvent, NotificationStatus, notify
from ledger.ports import Clock
from ledger.read_models import PostingView, RequestView

log = logging.getLogger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]
Outcome = Literal["posted", "failed", "retrying"]
# A done posting whose entry shows another supplier or customer than the one sent (the one shown in error_detail):
# posted all the same, and finance told to fix it in Conta Azul.
COUNTERPARTY_MISMATCH = "counterparty_mismatch"


class PostingStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PostingResult:
    """What one attempt did, for the Slack layer to tell people."""

    request: RequestView
    posting: PostingView
    outcome: Outcome

    @classmethod
    def from_rows(cls, request: PaymentRequest, posting: Posting, outcome: Outcome) -> PostingResult:
        """The result as the Slack layer reads it: copies of both rows as they stand now."""
        return cls(RequestView.from_row(request), PostingView.from_row(posting), outcome)

    @property
    def error_code(self) -> str | None:
        return self.posting.error_code


async def enqueue_posting(session: AsyncSession, request: PaymentRequest) -> None:
    """The final-approval hook: the posting job is written in the approval's own transaction."""
    session.add(
        Posting(
            request_id=request.id,
            team_id=request.team_id,
            kind=request.kind,
            reference=request.reference,
            status=PostingStatus.PENDING.value,
            attempts=0,
            next_attempt_at=request.updated_at,
            created_at=request.updated_at,
            updated_at=request.updated_at,
        )
    )


async def retry_posting(
    session_factory: SessionFactory, *, clock: Clock, request_id: int, actor_id: str
) -> RequestView:
    """An admin's Retry after fixing the cause: post_failed → posting, and the job is due now.

    Raises:
        StaleDecision: The request is not ``post_failed`` (someone retried already, or it was posted).
    """
    now = clock.now()
    async with session_factory.begin() as session:
        request = await session.get(PaymentRequest, request_id)
        posting = await session.scalar(select(Posting).where(Posting.request_id == request_id))
        if request is None or posting is None or request.status != RequestStatus.POST_FAILED:
            status = request.status if request else None
            raise StaleDecision("nothing to retry", status=status, actor_id=request.decided_by if request else None)
        if not await change_status(
            session, request, expected=RequestStatus.POST_FAILED, new=RequestStatus.POSTING, now=now
        ):
            raise StaleDecision("someone retried first", status=RequestStatus.POSTING.value)
        if posting.error_code == "unconfirmed" and posting.protocol_id:
            # The admin looked in Conta Azul: reconcile by our reference (which finds the entry if the protocol
            # ever made one) and post anew otherwise, instead of following the same silent protocol again.
            add_audit(session, request, None, "protocol_abandoned", now, protocol_id=posting.protocol_id)
            posting.protocol_id = None
        posting.status = PostingStatus.PENDING.value
        posting.attempts = 0
        posting.next_attempt_at = now
        posting.error_code = posting.error_detail = None
        posting.announced_at = posting.announce_lease_until = None  # the next outcome is news again
        posting.updated_at = now
        add_audit(session, request, actor_id, "post_retry_requested", now)
        await notify(session, team_id=request.team_id, request_id=request.id, event=NotificationEvent.TRACKING, now=now)
    return RequestView.from_row(request)


async def claim_announcements(
    session_factory: SessionFactory, *, clock: Clock, lease: timedelta = timedelta(minutes=2), limit: int = 50
) -> list[PostingResult]:
    """Finished postings whose outcome Slack has not been told yet, each claimed for this caller.

    A claim is a compare-and-set on ``announce_lease_until``, so two instances never tell the same outcome; a
    caller that dies before :func:`mark_announced` lets the lease run out and someone else tells it (at least
    once, then). An outcome waits for the request's notifications still unsent: "posted" comes after "approved".
    """
    now = clock.now()
    unannounced = and_(
        Posting.status.in_([PostingStatus.DONE.value, PostingStatus.FAILED.value]),
        Posting.announced_at.is_(None),
        or_(Posting.announce_lease_until.is_(None), Posting.announce_lease_until <= now),
        ~exists().where(
            Notification.request_id == Posting.request_id,
            Notification.status == NotificationStatus.PENDING.value,
        ),
    )
    async with session_factory() as session:
        candidates = list(
            await session.scalars(select(Posting.id).where(unannounced).order_by(Posting.id).limit(limit))
        )
    claimed: list[PostingResult] = []
    for posting_id in candidates:
        async with session_factory.begin() as session:
            result = await session.execute(
                update(Posting)
                .where(Posting.id == posting_id, unannounced)
                .values(announce_lease_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            posting = await session.get(Posting, posting_id)
            request = await session.get(PaymentRequest, posting.request_id) if posting else None
        if posting is not None and request is not None:
            outcome: Outcome = "posted" if posting.status == PostingStatus.DONE else "failed"
            claimed.append(PostingResult.from_rows(request, posting, outcome))
    return claimed


async def mark_announced(session_factory: SessionFactory, *, clock: Clock, posting_id: int) -> None:
    """Slack has been told this posting's outcome."""
    async with session_factory.begin() as session:
        await session.execute(
            update(Posting)
            .where(Posting.id == posting_id, Posting.announced_at.is_(None))
            .values(announced_at=clock.now(), announce_lease_until=None)
            .execution_options(synchronize_session=False)
        )


async def postings_for(session_factory: SessionFactory, *, request_ids: Sequence[int]) -> dict[int, PostingView]:
    """The postings of these requests, by request id, in one query."""
    if not request_ids:
        return {}
    async with session_factory() as session:
        rows = await session.scalars(select(Posting).where(Posting.request_id.in_(set(request_ids))))
        return {row.request_id: PostingView.from_row(row) for row in rows}


async def posting_for(session_factory: SessionFactory, *, request_id: int) -> PostingView | None:
    async with session_factory() as session:
        posting = await session.scalar(select(Posting).where(Posting.request_id == request_id))
        return None if posting is None else PostingView.from_row(posting)
