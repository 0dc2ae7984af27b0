"""Posting approved requests to Conta Azul exactly once: a transactional outbox and the worker that drains it.

The final approval writes a ``Posting`` row in its own transaction. Workers (any number, in any process)
claim due rows with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers), then:

1. reconcile first whenever an earlier attempt may have reached Conta Azul (``create_sent_at`` is set, or an
   async protocol is known): an entry carrying our reference is adopted, never created again;
2. resolve the vendor (by CPF/CNPJ, else exact name; created when missing), the cost center (created when
   missing) and the category (exact name; never created — a missing one is a permanent failure);
3. commit ``create_sent_at`` *before* the create call, so a crash or timeout after it is reconciled later.

Retryable failures (429, 5xx, timeouts) back off with jitter and honour Retry-After; permanent ones (a 4xx, a
missing category, no connection, no financial account) stop, mark the request ``post_failed`` and wait for an
admin's Retry. Every write that finishes an attempt is a compare-and-set on the lease, so a worker that lost
its lease changes nothing.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.contaazul.client import (
    PAYMENT_METHODS,
    CategoryKind,
    ContaAzulClient,
    EntryDraft,
    EntryKind,
    Profile,
    ProtocolPending,
)
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.oauth import ConnectionNeedsReconnect, NotConnected
from ledger.domain import RequestStatus
from ledger.errors import PermanentGatewayError, RetryableGatewayError, StaleDecision
from ledger.flows import change_status
from ledger.models import AuditEvent, PaymentRequest, Posting
from ledger.ports import Clock
from ledger.receivables import split_installments

log = logging.getLogger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]
Outcome = Literal["posted", "failed", "retrying"]


class PostingStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PostingRefused(PermanentGatewayError):
    """A rule of ours or of the books stops the posting; ``code`` names it for people."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.code = code


@dataclass(frozen=True, slots=True)
class PostingResult:
    """What one attempt did, for the Slack layer to tell people."""

    request: PaymentRequest
    posting: Posting
    outcome: Outcome

    @property
    def error_code(self) -> str | None:
        return self.posting.error_code


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter between ``base`` and ``cap``."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=15)

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> timedelta:
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(0, attempt - 1))
        seconds = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)


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


class PostingWorker:
    """Drains the outbox. Safe to run in several processes against one PostgreSQL database."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        clock: Clock,
        books: ContaAzul | None,
        owner: str,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 20,
        concurrency: int = 8,
        max_attempts: int = 12,
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._books = books
        self.owner = owner
        self._lease = lease
        self._batch_size = batch_size
        self._concurrency = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._creation_locks: dict[str, asyncio.Lock] = {}

    async def drain(self, *, max_batches: int = 1000) -> list[PostingResult]:
        """Process every posting that is due now, batch after batch."""
        results: list[PostingResult] = []
        for _ in range(max_batches):
            batch = await self.run_once()
            if not batch:
                break
            results.extend(batch)
        return results

    async def run_once(self) -> list[PostingResult]:
        claimed = await self._claim()
        results = await asyncio.gather(*(self._attempt(posting_id) for posting_id in claimed))
        return [r for r in results if r is not None]

    async def next_due(self) -> datetime | None:
        """When the earliest pending posting becomes due (for the caller's sleep)."""
        async with self._session_factory() as session:
            return await session.scalar(
                select(Posting.next_attempt_at)
                .where(Posting.status == PostingStatus.PENDING.value)
                .order_by(Posting.next_attempt_at)
                .limit(1)
            )

    async def _claim(self) -> list[int]:
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            query = (
                select(Posting)
                .where(
                    or_(
                        and_(Posting.status == PostingStatus.PENDING.value, Posting.next_attempt_at <= now),
                        # A worker that died mid-attempt: its lease ran out, someone else takes over.
                        and_(Posting.status == PostingStatus.RUNNING.value, Posting.lease_expires_at <= now),
                    )
                )
                .order_by(Posting.next_attempt_at, Posting.id)
                .limit(self._batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            postings = list(await session.scalars(query))
            for posting in postings:
                posting.status = PostingStatus.RUNNING.value
                posting.lease_owner = self.owner
                posting.lease_expires_at = now + self._lease
                posting.attempts += 1
                posting.updated_at = now
            return [p.id for p in postings]

    async def _attempt(self, posting_id: int) -> PostingResult | None:
        async with self._concurrency:
            async with self._session_factory() as session:
                posting = await session.get(Posting, posting_id)
                request = await session.get(PaymentRequest, posting.request_id) if posting else None
            if posting is None or request is None or posting.lease_owner != self.owner:
                return None
            try:
                await self._start(request)
                contaazul_id = await self._post(posting, request)
            except ProtocolPending as exc:
                return await self._retry(posting, request, exc, protocol_id=exc.params.get("protocol_id"))
            except RetryableGatewayError as exc:
                if posting.attempts >= self._max_attempts:
                    refused = PostingRefused("unavailable", f"gave up after {posting.attempts} attempts: {exc}")
                    return await self._fail(posting, request, refused)
                return await self._retry(posting, request, exc)
            except PermanentGatewayError as exc:
                return await self._fail(posting, request, exc)
            except StaleDecision:
                log.info("posting %s: request %s is no longer to be posted", posting.id, request.reference)
                await self._finish_cancelled(posting)
                return None
            return await self._succeed(posting, request, contaazul_id)

    async def _start(self, request: PaymentRequest) -> None:
        """approved → posting on the first attempt (a retry after post_failed is already ``posting``)."""
        if request.status == RequestStatus.POSTING:
            return
        if request.status != RequestStatus.APPROVED:
            raise StaleDecision(f"request is {request.status}", status=request.status)
        async with self._session_factory.begin() as session:
            session.add(request)
            if not await change_status(
                session, request, expected=RequestStatus.APPROVED, new=RequestStatus.POSTING, now=self._clock.now()
            ):
                raise StaleDecision("request changed before posting", status=request.status)

    async def _post(self, posting: Posting, request: PaymentRequest) -> str:
        if self._books is None:
            raise PostingRefused("not_configured", "Conta Azul is not configured (CONTAAZUL_CLIENT_ID/SECRET)")
        connection = await self._books.connection(request.team_id)
        if connection is None:
            raise PostingRefused("not_connected", "no Conta Azul connection for this team")
        if connection.needs_reconnect:
            raise PostingRefused("needs_reconnect", "the Conta Azul connection must be renewed")
        if not connection.default_account_id:
            raise PostingRefused("no_account", "no default financial account chosen (/contaazul account)")
        client = self._books.client(request.team_id)

        adopted = await self._reconcile(client, posting, request)
        if adopted is not None:
            return adopted

        receivable = posting.kind == "receivable"
        category_kind: CategoryKind = "RECEITA" if receivable else "DESPESA"
        category = await client.find_category(request.category, category_kind, confirm_miss=True)
        if category is None:
            raise PostingRefused(
                "category_missing", f"category {request.category!r} does not exist in Conta Azul", name=request.category
            )
        async with self._creating(request.team_id):
            person_id = await self._counterparty(client, request, "Cliente" if receivable else "Fornecedor")
            cost_center_id = await self._cost_center(client, request.cost_center) if request.cost_center else None
        installments = split_installments(request.amount, request.due_date, request.installments)
        draft = EntryDraft(
            description=f"{request.description} — {request.vendor_name}",
            amount=request.amount,
            competence_date=request.competence_date,
            due_date=request.due_date,
            person_id=person_id,
            account_id=connection.default_account_id,
            category_id=category.id,
            cost_center_id=cost_center_id,
            payment_method=PAYMENT_METHODS[request.payment_method],
            external_reference=request.reference,
            notes=_notes(request),
            installments=installments if len(installments) > 1 else (),
        )
        await self._mark_sent(posting)
        created = await (client.create_receivable(draft) if receivable else client.create_payable(draft))
        return created.id

    def _creating(self, team_id: str) -> asyncio.Lock:
        """One find-or-create at a time per team in this process, so parallel attempts never create a vendor or
        cost center twice; across processes, the loser of a create race adopts the winner's (see below)."""
        lock = self._creation_locks.get(team_id)
        if lock is None:
            lock = self._creation_locks[team_id] = asyncio.Lock()
        return lock

    async def _counterparty(self, client: ContaAzulClient, request: PaymentRequest, profile: Profile) -> str:
        """The supplier's (or customer's) id: found by CPF/CNPJ, else exact name; created when missing."""
        document, name = request.vendor_document, request.vendor_name
        person = await client.find_person(document, name, profile)
        if person is not None:
            return person.id
        try:
            return (await client.create_person(name, document, profile, email=request.counterparty_email)).id
        except ValueError as exc:
            raise PostingRefused("vendor_invalid", str(exc)) from exc
        except PermanentGatewayError:
            # Another instance created it a moment ago and Conta Azul refused a second one: use that one.
            person = await client.find_person(document, name, profile)
            if person is not None:
                return person.id
            # Or it exists with the other profile (a supplier who is also a customer): add ours to it.
            other: Profile = "Fornecedor" if profile == "Cliente" else "Cliente"
            person = await client.find_person(document, name, other)
            if person is None:
                raise
            log.info("%s: %s gets the %s profile in Conta Azul", request.reference, person.id, profile)
            return (await client.add_profile(person, profile)).id

    async def _cost_center(self, client: ContaAzulClient, name: str) -> str:
        """The cost center's id, created when Conta Azul has none with this exact name."""
        center = await client.find_cost_center(name, confirm_miss=True)
        if center is not None:
            return center.id
        try:
            return (await client.create_cost_center(name)).id
        except PermanentGatewayError:
            center = await client.find_cost_center(name, confirm_miss=True)
            if center is None:
                raise
            return center.id

    async def _reconcile(self, client: ContaAzulClient, posting: Posting, request: PaymentRequest) -> str | None:
        """An earlier attempt may have created the entry: find it by protocol or by our reference."""
        kind: EntryKind = "receivable" if posting.kind == "receivable" else "payable"
        if posting.protocol_id:
            return await client.resolve_protocol(
                posting.protocol_id, kind=kind, due_date=request.due_date, reference=request.reference
            )
        if posting.create_sent_at is None:
            return None
        found = await client.find_entry_by_reference(kind, request.reference, *_due_window(request.due_date))
        if found is None:
            return None
        detail = await client.installment(found.id)  # the search lists installments; we keep the entry's id
        log.info("posting %s: adopted entry %s already in Conta Azul", request.reference, detail.event_id or found.id)
        return detail.event_id or found.id

    async def _mark_sent(self, posting: Posting) -> None:
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(session, posting, create_sent_at=now, updated_at=now):
                raise StaleDecision("lease lost before the create call")
        posting.create_sent_at = now

    async def _succeed(self, posting: Posting, request: PaymentRequest, contaazul_id: str) -> PostingResult | None:
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(
                session,
                posting,
                status=PostingStatus.DONE.value,
                contaazul_id=contaazul_id,
                error_code=None,
                error_detail=None,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            ):
                return None
            session.add(request)
            await change_status(
                session,
                request,
                expected=RequestStatus.POSTING,
                new=RequestStatus.POSTED,
                now=now,
                contaazul_id=contaazul_id,
                posted_at=now,
            )
            _audit(
                session, request, "posted", now, contaazul_id=contaazul_id, attempt=posting.attempts, worker=self.owner
            )
        posting.status, posting.contaazul_id = PostingStatus.DONE.value, contaazul_id
        log.info("posted %s to conta azul as %s (attempt %s)", request.reference, contaazul_id, posting.attempts)
        return PostingResult(request, posting, "posted")

    async def _fail(
        self, posting: Posting, request: PaymentRequest, error: PermanentGatewayError
    ) -> PostingResult | None:
        now = self._clock.now()
        code = _failure_code(error)
        detail = _detail(error)
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(
                session,
                posting,
                status=PostingStatus.FAILED.value,
                error_code=code,
                error_detail=detail,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            ):
                return None
            session.add(request)
            await change_status(
                session, request, expected=RequestStatus.POSTING, new=RequestStatus.POST_FAILED, now=now
            )
            _audit(session, request, "post_failed", now, code=code, detail=detail, attempt=posting.attempts)
        posting.status, posting.error_code, posting.error_detail = PostingStatus.FAILED.value, code, detail
        log.warning("posting %s failed for good (%s): %s", request.reference, code, detail)
        return PostingResult(request, posting, "failed")

    async def _retry(
        self,
        posting: Posting,
        request: PaymentRequest,
        error: RetryableGatewayError,
        *,
        protocol_id: str | None = None,
    ) -> PostingResult | None:
        now = self._clock.now()
        when = now + self._backoff.delay(posting.attempts, self._rng, error.retry_after)
        values: dict[str, Any] = {
            "status": PostingStatus.PENDING.value,
            "next_attempt_at": when,
            "error_code": "retrying",
            "error_detail": _detail(error),
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if protocol_id:
            values["protocol_id"] = protocol_id
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(session, posting, **values):
                return None
            _audit(session, request, "post_attempt_failed", now, detail=_detail(error), attempt=posting.attempts)
        log.info("posting %s will retry at %s: %s", request.reference, when.isoformat(), _detail(error))
        for key, value in values.items():
            setattr(posting, key, value)
        return PostingResult(request, posting, "retrying")

    async def _finish_cancelled(self, posting: Posting) -> None:
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            await self._update_if_mine(
                session,
                posting,
                status=PostingStatus.FAILED.value,
                error_code="not_postable",
                lease_owner=None,
                lease_expires_at=None,
                announced_at=now,  # nothing to tell: the request went another way
                updated_at=now,
            )

    async def _update_if_mine(self, session: AsyncSession, posting: Posting, **values: Any) -> bool:
        """Compare-and-set on the lease: a worker whose lease was taken over writes nothing."""
        result = await session.execute(
            update(Posting)
            .where(
                Posting.id == posting.id,
                Posting.status == PostingStatus.RUNNING.value,
                Posting.lease_owner == self.owner,
                Posting.attempts == posting.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        mine: bool = result.rowcount == 1  # type: ignore[attr-defined]
        if not mine:
            log.warning("posting %s: lease lost to another worker; leaving it to them", posting.id)
        return mine


async def retry_posting(
    session_factory: SessionFactory, *, clock: Clock, request_id: int, actor_id: str
) -> PaymentRequest:
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
        posting.status = PostingStatus.PENDING.value
        posting.attempts = 0
        posting.next_attempt_at = now
        posting.error_code = posting.error_detail = None
        posting.announced_at = posting.announce_lease_until = None  # the next outcome is news again
        posting.updated_at = now
        _audit(session, request, "post_retry_requested", now, actor_id=actor_id)
    return request


async def claim_announcements(
    session_factory: SessionFactory, *, clock: Clock, lease: timedelta = timedelta(minutes=2), limit: int = 50
) -> list[PostingResult]:
    """Finished postings whose outcome Slack has not been told yet, each claimed for this caller.

    A claim is a compare-and-set on ``announce_lease_until``, so two instances never tell the same outcome; a
    caller that dies before :func:`mark_announced` lets the lease run out and someone else tells it (at least
    once, then).
    """
    now = clock.now()
    unannounced = and_(
        Posting.status.in_([PostingStatus.DONE.value, PostingStatus.FAILED.value]),
        Posting.announced_at.is_(None),
        or_(Posting.announce_lease_until.is_(None), Posting.announce_lease_until <= now),
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
            claimed.append(PostingResult(request, posting, outcome))
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


async def posting_for(session_factory: SessionFactory, *, request_id: int) -> Posting | None:
    async with session_factory() as session:
        return await session.scalar(select(Posting).where(Posting.request_id == request_id))


async def failed_postings(session_factory: SessionFactory, *, team_id: str) -> Sequence[Posting]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(Posting).where(Posting.team_id == team_id, Posting.status == PostingStatus.FAILED.value)
        )
        return list(rows)


def _failure_code(error: PermanentGatewayError) -> str:
    """The reason in a word the Slack layer explains to people."""
    if isinstance(error, NotConnected):
        return "not_connected"
    if isinstance(error, ConnectionNeedsReconnect):
        return "needs_reconnect"
    if isinstance(error, PostingRefused):
        return error.code
    return "rejected"


def _due_window(due: date) -> tuple[date, date]:
    """Search the entry's due date; a day either side absorbs time-zone rounding in the ERP."""
    return due - timedelta(days=1), due + timedelta(days=1)


def _notes(request: PaymentRequest) -> str:
    parts = [f"Aprova {request.reference}"]
    if request.invoice_number:
        parts.append(f"NF {request.invoice_number}")
    if request.payment_code:
        parts.append(f"Pagamento: {request.payment_code}")
    if request.notes:
        parts.append(request.notes)
    return " | ".join(parts)[:1000]


def _detail(error: Exception) -> str:
    status = getattr(error, "status", None)
    text = str(error)
    return (f"HTTP {status}: {text}" if status else text)[:500]


def _audit(session: AsyncSession, request: PaymentRequest, action: str, now: datetime, **detail: Any) -> None:
    actor = detail.pop("actor_id", None)
    session.add(
        AuditEvent(
            team_id=request.team_id,
            request_id=request.id,
            actor_id=actor,
            action=action,
            detail={k: v for k, v in detail.items() if v is not None},
            created_at=now,
        )
    )
