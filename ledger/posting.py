"""Posting approved requests to Conta Azul exactly once: a transactional outbox and the worker that drains it.

The final approval writes a ``Posting`` row in its own transaction. Workers (any number, in any process)
claim due rows with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers), then:

1. check the approval: the request's terms (``ledger.terms``) must have the fingerprint every step approved, and
   the entry is built from those terms only — what is posted is what was approved, or nothing is posted;
2. reconcile first whenever an earlier attempt may have reached Conta Azul (``create_sent_at`` is set, or an
   async protocol is known): an entry whose description ends with our exact reference token, for the same
   amount and counterparty, is adopted, never created again; one that carries our token but differs stops the
   posting for a person to look; after an unknown outcome nothing is re-sent until two leases have passed;
3. resolve the vendor (by CPF/CNPJ, else exact name; created when missing), the cost center (created when
   missing) and the category (exact name; never created — a missing one is a permanent failure);
4. renew the lease and commit ``create_sent_at`` *before* the create call, which must then be sent and answered
   well within the lease (a wait for the rate limit or a Retry-After that would outlast it raises instead), so
   no other worker can take the job over while a create is in flight;
5. after the create, check that the entry shows the supplier (or customer) that was sent: when it does not, the
   posting is done all the same, with an audit event and a warning for finance in its announcement. A create
   Conta Azul accepted without naming the entry is found by our reference at once, or left to a person: it is
   never sent again on its own.

What steps 2, 3 and 5 ask of Conta Azul is :class:`ledger.booking.BooksGateway`'s; this module owns the outbox rows,
their leases and the request's status.

Retryable failures (429, 5xx, timeouts) back off with jitter and honour Retry-After; permanent ones (a 4xx, a
missing category, no connection, no financial account) stop, mark the request ``post_failed`` and wait for an
admin's Retry. Every write that finishes an attempt is a compare-and-set on the lease, so a worker that lost
its lease changes nothing. Anything unexpected ends the attempt as ``post_failed`` ("internal") with finance told,
and a protocol Conta Azul never resolves ends as "unconfirmed" after a bound: no job is ever left stuck.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.booking import BooksGateway, Posted
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.models import PAYMENT_METHODS, CategoryKind, EntryDraft, EntryKind, Profile
from ledger.domain import RequestKind, RequestStatus, StepStatus
from ledger.errors import (
    EntryUnidentified,
    GatewayError,
    PermanentGatewayError,
    PostingRefused,
    ProtocolPending,
    RetryableGatewayError,
    StaleDecision,
)
from ledger.flows import add_audit, change_status
from ledger.models import PaymentRequest, Posting
from ledger.outbox import COUNTERPARTY_MISMATCH, PostingResult, PostingStatus, SessionFactory
from ledger.ports import Clock
from ledger.receivables import split_installments
from ledger.terms import ApprovalTerms

log = logging.getLogger(__name__)


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
        unconfirmed_after: timedelta = timedelta(hours=24),
    ) -> None:
        """A worker named ``owner`` (its leases carry the name).

        Raises:
            ValueError: The lease does not outlast three Conta Azul request timeouts: a create could then still
                be in flight when another worker takes the job over.
        """
        request_timeout = books.request_timeout if books is not None else timedelta(0)
        if lease < 3 * request_timeout:
            raise ValueError(
                f"the posting lease ({lease}) must be at least 3 × the request timeout ({request_timeout})"
            )
        self._session_factory = session_factory
        self._clock = clock
        self._books = books
        self.owner = owner
        self._lease = lease
        # No create leaves later than this before the lease ends, so its answer (or timeout) comes within the lease.
        self._send_margin = request_timeout + lease / 10
        self._unconfirmed_after = unconfirmed_after
        # After a create whose answer never came, "not found" only counts once the server had time to finish it.
        self._gateway = BooksGateway(clock=clock, settle=2 * lease)
        self._batch_size = batch_size
        self._concurrency = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._rng = rng or random.Random()

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
                posted = await self._post(posting, request)
            except ProtocolPending as exc:
                if self._unconfirmed(posting):
                    unconfirmed = PostingRefused(
                        "unconfirmed",
                        f"Conta Azul has not confirmed protocol {exc.protocol_id} since "
                        f"{posting.create_sent_at}: check Conta Azul before retrying",
                        protocol_id=exc.protocol_id,
                    )
                    return await self._fail(posting, request, unconfirmed, protocol_id=exc.protocol_id)
                return await self._retry(posting, request, exc, protocol_id=exc.protocol_id)
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
            except Exception as exc:  # a bug or a broken environment: a person is told, the job is never left stuck
                log.exception("posting %s: unexpected error", request.reference)
                internal = PostingRefused("internal", f"unexpected error ({type(exc).__name__}); see the logs")
                return await self._fail(posting, request, internal)
            return await self._succeed(posting, request, posted)

    def _unconfirmed(self, posting: Posting) -> bool:
        """A protocol pending for longer than the bound: a person must look in Conta Azul."""
        sent = posting.create_sent_at
        return sent is not None and self._clock.now() - sent >= self._unconfirmed_after

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

    async def _post(self, posting: Posting, request: PaymentRequest) -> Posted:
        if self._books is None:
            raise PostingRefused("not_configured", "Conta Azul is not configured (CONTAAZUL_CLIENT_ID/SECRET)")
        connection = await self._books.connection(request.team_id)
        if connection is None:
            raise PostingRefused("not_connected", "no Conta Azul connection for this team")
        if connection.needs_reconnect:
            raise PostingRefused("needs_reconnect", "the Conta Azul connection must be renewed")
        terms = approved_terms(request)
        account_id = terms.financial_account_id or connection.default_account_id
        if not account_id:
            raise PostingRefused("no_account", "no default financial account chosen (/contaazul account)")
        client = self._books.client(request.team_id)
        receivable = terms.kind == RequestKind.RECEIVABLE
        profile: Profile = "Cliente" if receivable else "Fornecedor"

        installments = split_installments(terms.amount, terms.due_date, terms.installments)
        first = installments[0]
        adopted = await self._gateway.reconcile(client, posting, request, terms, profile, first=first)
        if adopted is not None:
            return adopted

        category_kind: CategoryKind = "RECEITA" if receivable else "DESPESA"
        category = await client.find_category(terms.category, category_kind, confirm_miss=True)
        if category is None:
            raise PostingRefused(
                "category_missing", f"category {terms.category!r} does not exist in Conta Azul", name=terms.category
            )
        person_id, cost_center_id = await self._gateway.find_or_create(client, request, terms, profile)
        draft = EntryDraft(
            description=f"{request.description} — {terms.vendor_name}",
            amount=terms.amount,
            competence_date=terms.competence_date,
            due_date=terms.due_date,
            person_id=person_id,
            account_id=account_id,
            category_id=category.id,
            cost_center_id=cost_center_id,
            payment_method=PAYMENT_METHODS[terms.payment_method],
            external_reference=request.reference,
            notes=_notes(request, terms),
            installments=installments if len(installments) > 1 else (),
        )
        send_by = await self._mark_sent(posting)
        try:
            created = await (
                client.create_receivable(draft, send_by=send_by)
                if receivable
                else client.create_payable(draft, send_by=send_by)
            )
        except EntryUnidentified:
            return await self._gateway.adopt_unidentified(client, request, terms, profile, first=first)
        except GatewayError as exc:
            if _nothing_created(exc):
                posting.create_sent_at = None  # the next attempt needs no reconciliation (saved with the outcome)
            raise
        kind: EntryKind = "receivable" if receivable else "payable"
        return await self._gateway.verified(
            client, kind, request.reference, first[0], created.id, sent=person_id, reported=created.counterparty
        )

    async def _mark_sent(self, posting: Posting) -> datetime:
        """Renew the lease and record that a create is about to leave; returns the last moment it may leave."""
        now = self._clock.now()
        expires = now + self._lease
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(
                session, posting, create_sent_at=now, lease_expires_at=expires, updated_at=now
            ):
                raise StaleDecision("lease lost before the create call")
        posting.create_sent_at, posting.lease_expires_at = now, expires
        return expires - self._send_margin

    async def _succeed(self, posting: Posting, request: PaymentRequest, posted: Posted) -> PostingResult | None:
        now = self._clock.now()
        contaazul_id = posted.entry_id
        shown = posted.counterparty_shown
        # A done posting keeps what finance must check in Conta Azul where a failed one keeps why it failed.
        warning, detail = (COUNTERPARTY_MISMATCH, shown.name or shown.id or "") if shown else (None, None)
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(
                session,
                posting,
                status=PostingStatus.DONE.value,
                contaazul_id=contaazul_id,
                error_code=warning,
                error_detail=detail,
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
            add_audit(
                session,
                request,
                None,
                "posted",
                now,
                contaazul_id=contaazul_id,
                attempt=posting.attempts,
                worker=self.owner,
                fingerprint=request.terms_digest,
            )
            if shown is not None:
                add_audit(
                    session,
                    request,
                    None,
                    COUNTERPARTY_MISMATCH,
                    now,
                    contaazul_id=contaazul_id,
                    sent=posted.counterparty_sent,
                    shown=shown.id,
                )
        posting.status, posting.contaazul_id = PostingStatus.DONE.value, contaazul_id
        posting.error_code, posting.error_detail = warning, detail
        log.info("posted %s to conta azul as %s (attempt %s)", request.reference, contaazul_id, posting.attempts)
        return PostingResult.from_rows(request, posting, "posted")

    async def _fail(
        self, posting: Posting, request: PaymentRequest, error: PermanentGatewayError, *, protocol_id: str | None = None
    ) -> PostingResult | None:
        now = self._clock.now()
        code = error.code  # one word the Slack layer explains to people
        detail = _detail(error)
        values: dict[str, Any] = {"create_sent_at": posting.create_sent_at}
        if protocol_id:
            values["protocol_id"] = protocol_id
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
                **values,
            ):
                return None
            session.add(request)
            # An unexpected error may come before the request left "approved"; it ends post_failed all the same.
            expected = RequestStatus.APPROVED if request.status == RequestStatus.APPROVED else RequestStatus.POSTING
            await change_status(session, request, expected=expected, new=RequestStatus.POST_FAILED, now=now)
            add_audit(session, request, None, "post_failed", now, code=code, detail=detail, attempt=posting.attempts)
        posting.status, posting.error_code, posting.error_detail = PostingStatus.FAILED.value, code, detail
        log.warning("posting %s failed for good (%s): %s", request.reference, code, detail)
        return PostingResult.from_rows(request, posting, "failed")

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
            "create_sent_at": posting.create_sent_at,
            "updated_at": now,
        }
        if protocol_id:
            values["protocol_id"] = protocol_id
        async with self._session_factory.begin() as session:
            if not await self._update_if_mine(session, posting, **values):
                return None
            add_audit(
                session, request, None, "post_attempt_failed", now, detail=_detail(error), attempt=posting.attempts
            )
        log.info("posting %s will retry at %s: %s", request.reference, when.isoformat(), _detail(error))
        for key, value in values.items():
            setattr(posting, key, value)
        return PostingResult.from_rows(request, posting, "retrying")

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


def approved_terms(request: PaymentRequest) -> ApprovalTerms:
    """The request's terms, if and only if they are exactly what every approval recorded.

    Raises:
        PostingRefused: ``not_approved`` — the terms differ from the fingerprint approved (or nobody approved).
    """
    terms = ApprovalTerms.of(request)
    digest = terms.digest()
    if request.terms_digest != digest:
        raise PostingRefused("not_approved", f"{request.reference}: the request changed after it was fingerprinted")
    unapproved = [s.name for s in request.steps if s.status != StepStatus.APPROVED or s.approved_digest != digest]
    if unapproved:
        raise PostingRefused("not_approved", f"{request.reference}: not approved as it stands by {unapproved}")
    if not request.steps and request.kind != RequestKind.RECEIVABLE:
        raise PostingRefused("not_approved", f"{request.reference}: a payable without any approval")
    return terms


def _nothing_created(error: GatewayError) -> bool:
    """Whether a failed create certainly made nothing (refused, throttled, never sent), so no reconciliation."""
    if isinstance(error, ProtocolPending) or error.params.get("outcome_unknown"):
        return False
    return True


def _notes(request: PaymentRequest, terms: ApprovalTerms) -> str:
    parts = [f"Aprova {request.reference}", f"Aprovação {terms.digest()[:8].upper()}"]
    if terms.invoice_number:
        parts.append(f"NF {terms.invoice_number}")
    if terms.payment_code:
        parts.append(f"Pagamento: {terms.payment_code}")
    if request.notes:
        parts.append(request.notes)
    return " | ".join(parts)[:1000]


def _detail(error: Exception) -> str:
    status = getattr(error, "status", None)
    text = str(error)
    return (f"HTTP {status}: {text}" if status else text)[:500]
