"""Use cases: submit, decide, cancel. Each opens its own short transaction; no Slack, no network.

Every status change is a compare-and-set on ``(id, status, version)``: of two simultaneous clicks exactly
one wins, and the other gets ``StaleDecision`` describing what won.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from ledger.db import Statements, dialect_of, writing_statements
from ledger.domain import PlannedStep, RequestDraft, RequestKind, RequestStatus, StepStatus
from ledger.errors import NotAllowed, RequestNotFound, StaleDecision
from ledger.models import (
    ApprovalMessage,
    ApprovalStep,
    AuditEvent,
    ContaAzulConnection,
    PaymentRequest,
    ProcessedDelivery,
    ReferenceCounter,
    column_names,
    plain_columns,
    table_of,
)
from ledger.notifications import Lease, NotificationEvent, NotificationView, has_unsent_events, notify
from ledger.payment_code import check_payment_code
from ledger.ports import Clock
from ledger.read_models import AuditEntry, MessageView, RequestView, StepView
from ledger.terms import digest_of, short_digest

SessionFactory = async_sessionmaker[AsyncSession]
# Called inside the final-approval transaction; the posting outbox hooks in here.
FinalApprovalHook = Callable[[AsyncSession, PaymentRequest], Awaitable[None]]

REFERENCE_PREFIX = "PAG"
RECEIVABLE_PREFIX = "REC"


@dataclass(frozen=True, slots=True)
class Submitted:
    request: RequestView
    created: bool  # False when this submission had already been stored (a repeated delivery)
    # The event telling of it, stored leased to the worker the submission named: to be handed to it once answered.
    handed: NotificationView | None = None


@dataclass(frozen=True, slots=True)
class DecisionNote:
    """A decision as it is told afterwards (stored with its notification: later changes do not rewrite it)."""

    step_position: int
    step: str
    approved: bool
    actor: str
    reason: str | None
    next_position: int | None  # the step now open, if the request goes on
    next_step: str | None


@dataclass(frozen=True, slots=True)
class Decided:
    request: RequestView
    step: StepView  # the step just decided
    next_step: StepView | None  # the step now open, if the request goes on
    # The event telling of it, stored leased to the worker the decision named: to be handed to it once answered.
    handed: NotificationView | None = None

    @property
    def final(self) -> bool:
        return self.next_step is None

    @property
    def note(self) -> DecisionNote:
        return DecisionNote(
            step_position=self.step.position,
            step=self.step.name,
            approved=self.step.status == StepStatus.APPROVED,
            actor=self.step.decided_by or "",
            reason=self.step.reason,
            next_position=None if self.next_step is None else self.next_step.position,
            next_step=None if self.next_step is None else self.next_step.name,
        )


async def submit_request(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    team_id: str,
    requester_id: str,
    submission_key: str,
    draft: RequestDraft,
    steps: list[PlannedStep],
    kind: RequestKind = RequestKind.PAYABLE,
    source: str = "slack",
    counterparty_email: str | None = None,
    installments: int = 1,
    on_final_approval: FinalApprovalHook | None = None,
    possible_duplicates: str | None = None,
    delivery_key: str | None = None,
    lease: Lease | None = None,
) -> Submitted:
    """Store a request with its approval steps and an audit event, once per ``submission_key``.

    A receivable may have no steps: it is stored approved, and ``on_final_approval`` (the posting outbox) runs in
    the same transaction, as for a final approval. ``delivery_key`` (a signed webhook's replay key) is claimed in
    that transaction too, so a delivery refused before anything was stored can be sent again. With a ``lease`` the
    event telling of it is stored taken by that worker, and returned (``handed``) for the caller to give it.
    """
    if not steps and kind != RequestKind.RECEIVABLE:
        raise ValueError("a request needs at least one approval step")
    check_payment_code(
        draft.payment_method, draft.payment_code, amount=draft.amount, due_date=draft.due_date, today=clock.today()
    )
    now = clock.now()
    values: dict[str, Any] = {
        "team_id": team_id,
        "requester_id": requester_id,
        "submission_key": submission_key,
        "kind": kind.value,
        "source": source,
        "description": draft.description,
        "vendor_name": draft.vendor_name,
        "vendor_document": draft.vendor_document,
        "amount": draft.amount,
        "competence_date": draft.competence_date,
        "due_date": draft.due_date,
        "category": draft.category,
        "cost_center": draft.cost_center,
        "payment_method": draft.payment_method.value,
        "payment_code": draft.payment_code,
        "invoice_number": draft.invoice_number,
        "notes": draft.notes,
        "counterparty_email": counterparty_email,
        "installments": installments,
        "possible_duplicates": possible_duplicates,
        "attachments": [a.as_dict() for a in draft.attachments] or None,
        "status": (RequestStatus.PENDING if steps else RequestStatus.APPROVED).value,
        "version": 1,
        "current_step": 0 if steps else None,
        "decided_at": None if steps else now,
        "created_at": now,
        "updated_at": now,
    }
    try:
        # A submission already stored (Slack delivering it again) is found by its unique key when the insert fails,
        # not looked for first: that would cost every submission a query for the rare repeat.
        # Plain statements on a connection, each row read back as stored (RETURNING): the ORM's unit of work and
        # session cost more than the rest of the submission's transaction.
        async with writing_statements(session_factory) as connection:
            prefix = RECEIVABLE_PREFIX if kind == RequestKind.RECEIVABLE else REFERENCE_PREFIX
            # Stored under a placeholder and numbered last: the counter's row is locked from its increment until
            # the commit, and every submission of every team takes that lock (taken first, the transaction's other
            # round trips were spent holding it: at 100/s on PostgreSQL, eight transactions queued behind it).
            values["reference"] = _unnumbered_reference(prefix)
            values["financial_account_id"], values["financial_account_name"] = await _default_account(
                connection, team_id
            )
            values["terms_digest"] = digest_of(values)
            row = (await connection.execute(_INSERT_REQUEST, _as_columns(_REQUEST_COLUMNS, values))).one()
            step_rows: Sequence[Any] = []
            if steps:
                step_rows = (
                    await connection.execute(
                        _INSERT_STEPS,
                        [
                            {
                                "request_id": row.id,
                                "position": i,
                                "name": step.name,
                                "approvers": list(step.approvers),
                                "status": (StepStatus.OPEN if i == 0 else StepStatus.WAITING).value,
                                "opened_at": now if i == 0 else None,
                            }
                            for i, step in enumerate(steps)
                        ],
                    )
                ).all()
            if delivery_key is not None:
                await connection.execute(_INSERT_DELIVERY_KEY, {"key": delivery_key, "received_at": now})
            actor = requester_id or None  # a CRM deal has no person behind it
            await record_audit(
                connection,
                row,
                actor,
                "submitted",
                now,
                amount=str(draft.amount),
                fingerprint=values["terms_digest"],
                steps=len(steps),
                source=source if source != "slack" else None,
                possible_duplicates=possible_duplicates,
                attachments=[{"name": a.name, "permalink": a.permalink} for a in draft.attachments] or None,
            )
            event = await notify(
                connection, team_id=team_id, request_id=row.id, event=NotificationEvent.SUBMITTED, now=now, lease=lease
            )
            reference = await _number(connection, row.id, clock.today().year, prefix)
            view = replace(
                RequestView.from_row(row, steps=[StepView.from_row(step, messages=()) for step in step_rows]),
                reference=reference,
            )
            if not steps:
                await record_audit(connection, view, actor, "approved", now, step=None, reason="no approval required")
                if on_final_approval is not None:
                    # The hook is a final approval's, on the ORM: a session inside this transaction (a savepoint).
                    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
                        await on_final_approval(session, await load_request(session, view.id))
                        await session.commit()
    except IntegrityError:
        # The same submission stored already, or racing us to the unique key: the other delivery stored it.
        async with session_factory() as session:
            existing = await _by_submission(session, team_id, submission_key)
        if existing is None:
            raise
        return Submitted(RequestView.from_row(existing), created=False)
    return Submitted(view, created=True, handed=None if lease is None else event)


async def get_request(session_factory: SessionFactory, *, request_id: int) -> RequestView:
    """Raises RequestNotFound."""
    found = await get_requests(session_factory, request_ids=[request_id])
    if request_id not in found:
        raise RequestNotFound(f"no payment request {request_id}", request_id=request_id)
    return found[request_id]


# Requests with their steps and messages read as plain rows, built once: the views need no ORM objects, whose
# construction cost more than the three queries (the delivery worker reads a request for every event it sends).
_REQUESTS = table_of(PaymentRequest)
_STEPS = table_of(ApprovalStep)
_MESSAGES = table_of(ApprovalMessage)
_REQUESTS_BY_ID = select(*plain_columns(PaymentRequest)).where(_REQUESTS.c.id.in_(bindparam("ids", expanding=True)))
_STEPS_OF = (
    select(*plain_columns(ApprovalStep))
    .where(_STEPS.c.request_id.in_(bindparam("ids", expanding=True)))
    .order_by(_STEPS.c.request_id, _STEPS.c.position)
)
_MESSAGES_OF = (
    select(_MESSAGES.c.step_id, _MESSAGES.c.approver_id, _MESSAGES.c.channel, _MESSAGES.c.ts)
    .select_from(_MESSAGES.join(_STEPS, _STEPS.c.id == _MESSAGES.c.step_id))
    .where(_STEPS.c.request_id.in_(bindparam("ids", expanding=True)))
    .order_by(_MESSAGES.c.id)
)


async def get_requests(session_factory: SessionFactory, *, request_ids: Sequence[int]) -> dict[int, RequestView]:
    """The requests of these ids that exist, by id, in three queries whatever their number."""
    if not request_ids:
        return {}
    ids = {"ids": sorted(set(request_ids))}
    async with session_factory() as session:
        requests = (await session.execute(_REQUESTS_BY_ID, ids)).all()
        if not requests:
            return {}
        steps = (await session.execute(_STEPS_OF, ids)).all()
        messages = (await session.execute(_MESSAGES_OF, ids)).all()
    messages_of: dict[int, list[MessageView]] = defaultdict(list)
    for message in messages:
        messages_of[message.step_id].append(MessageView.from_row(message))
    steps_of: dict[int, list[StepView]] = defaultdict(list)
    for step in steps:
        steps_of[step.request_id].append(StepView.from_row(step, messages_of[step.id]))
    return {request.id: RequestView.from_row(request, steps_of[request.id]) for request in requests}


async def check_can_decide(
    session_factory: SessionFactory,
    *,
    request_id: int,
    step_position: int,
    actor_id: str,
    approval_round: int | None = None,
    seen_digest: str | None = None,
) -> RequestView:
    """Raise unless ``actor_id`` may decide that step right now (used before opening the reject modal)."""
    async with session_factory() as session:
        request = await load_request(session, request_id)
        _authorise_decision(request, step_position, actor_id, approval_round, seen_digest, approving=False)
        return RequestView.from_row(request)


async def decide(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    request_id: int,
    step_position: int,
    actor_id: str,
    approve: bool,
    reason: str | None = None,
    on_final_approval: FinalApprovalHook | None = None,
    approval_round: int | None = None,
    seen_digest: str | None = None,
    lease: Lease | None = None,
) -> Decided:
    """Approve or reject the open step. The last approval makes the request ``approved``.

    ``approval_round`` (from the button) must still be the request's: after an edit started approval over, a
    button from before decides nothing. ``seen_digest`` (the short fingerprint the button was drawn with) must
    still be the request's. An approval records the request's fingerprint on the step: the posting worker posts
    only what every step recorded.
    """
    now = clock.now()
    async with session_factory.begin() as session:
        # Asked before the request is read: with nothing of it left to send, what an earlier event's sending
        # recorded (the approvers' messages, the tracking message) is in what is read next, and this event can go
        # out at once, as read here. Otherwise it waits its turn in the outbox.
        handing = lease is not None and not await has_unsent_events(session, request_id)
        request = await load_request(session, request_id)
        step = _authorise_decision(request, step_position, actor_id, approval_round, seen_digest, approving=approve)
        next_step = request.steps[step_position + 1] if approve and step_position + 1 < len(request.steps) else None
        if not approve:
            new_status = RequestStatus.REJECTED
        elif next_step is None:
            new_status = RequestStatus.APPROVED
        else:
            new_status = RequestStatus.PENDING
        await _compare_and_set(
            session,
            request,
            expected=RequestStatus.PENDING,
            new=new_status,
            now=now,
            actor_id=actor_id,
            current_step=next_step.position if next_step else None,
            reason=reason if not approve else None,
            record_decision=new_status is not RequestStatus.PENDING,
            step_position=step_position,
        )
        step.status = (StepStatus.APPROVED if approve else StepStatus.REJECTED).value
        step.decided_by, step.decided_at, step.reason = actor_id, now, reason
        step.approved_digest = request.terms_digest if approve else None
        if next_step is not None:
            next_step.status = StepStatus.OPEN.value
            next_step.opened_at = now
            # Whoever decided an earlier step cannot decide this one too (one person, one decision per round).
            deciders = {s.decided_by for s in request.steps if s.decided_by}
            if any(p in deciders for p in next_step.approvers):
                next_step.approvers = [p for p in next_step.approvers if p not in deciders]
        elif not approve:
            _close_waiting_steps(request)
        action = "rejected" if not approve else ("approved" if next_step is None else "step_approved")
        add_audit(
            session,
            request,
            actor_id,
            action,
            now,
            step=step.name,
            reason=reason,
            fingerprint=request.terms_digest,  # what was decided on, approved or rejected
        )
        if new_status is RequestStatus.APPROVED and on_final_approval is not None:
            await on_final_approval(session, request)
        event = await notify(
            session,
            team_id=request.team_id,
            request_id=request.id,
            event=NotificationEvent.DECIDED,
            now=now,
            lease=lease if handing else None,
            **asdict(
                DecisionNote(
                    step_position=step.position,
                    step=step.name,
                    approved=approve,
                    actor=actor_id,
                    reason=reason,
                    next_position=None if next_step is None else next_step.position,
                    next_step=None if next_step is None else next_step.name,
                )
            ),
        )
    decided = RequestView.from_row(request)
    return Decided(
        request=decided,
        step=decided.steps[step.position],
        next_step=None if next_step is None else decided.steps[next_step.position],
        handed=event if handing else None,
    )


async def cancel(session_factory: SessionFactory, *, clock: Clock, request_id: int, actor_id: str) -> RequestView:
    """The requester withdraws a pending request."""
    now = clock.now()
    while True:
        try:
            async with session_factory.begin() as session:
                request = await load_request(session, request_id)
                if actor_id != request.requester_id:
                    raise NotAllowed("not_the_requester", request_id=request_id)
                if request.status != RequestStatus.PENDING:
                    raise stale_error(request)
                await _compare_and_set(
                    session,
                    request,
                    expected=RequestStatus.PENDING,
                    new=RequestStatus.CANCELLED,
                    now=now,
                    actor_id=actor_id,
                    current_step=None,
                    reason=None,
                    record_decision=True,
                )
                _close_waiting_steps(request)
                add_audit(session, request, actor_id, "cancelled", now)
                await notify(
                    session, team_id=request.team_id, request_id=request.id, event=NotificationEvent.CANCELLED, now=now
                )
            return RequestView.from_row(request)
        except StaleDecision as exc:
            # A step approval bumped the version but the request is still pending: try again on the new state.
            if exc.params.get("status") != RequestStatus.PENDING:
                raise


async def record_tracking_message(session_factory: SessionFactory, *, request_id: int, channel: str, ts: str) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            update(PaymentRequest)
            .where(PaymentRequest.id == request_id)
            .values(tracking_channel=channel, tracking_ts=ts)
        )


async def record_approval_message(
    session_factory: SessionFactory, *, step_id: int, approver_id: str, channel: str, ts: str
) -> None:
    async with session_factory.begin() as session:
        session.add(ApprovalMessage(step_id=step_id, approver_id=approver_id, channel=channel, ts=ts))


async def delivery_seen(session_factory: SessionFactory, *, key: str) -> bool:
    """Whether a delivery with this replay key was already taken (its claim committed with what it stored)."""
    async with session_factory() as session:
        return await session.get(ProcessedDelivery, key) is not None


async def claim_delivery(session_factory: SessionFactory, *, key: str, clock: Clock) -> bool:
    """True the first time ``key`` is seen; False for a repeated delivery of the same Slack event."""
    try:
        async with session_factory.begin() as session:
            session.add(ProcessedDelivery(key=key, received_at=clock.now()))
    except IntegrityError:
        return False
    return True


async def audit(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    team_id: str,
    actor_id: str | None,
    action: str,
    request_id: int | None = None,
    **detail: Any,
) -> None:
    """Record an event that happens outside a flow's own transaction (e.g. a Slack call that failed)."""
    async with session_factory.begin() as session:
        session.add(
            AuditEvent(
                team_id=team_id,
                request_id=request_id,
                actor_id=actor_id,
                action=action,
                detail=detail,
                created_at=clock.now(),
            )
        )


async def audit_trail(session_factory: SessionFactory, *, request_id: int) -> list[AuditEntry]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        )
        return [AuditEntry.from_row(event) for event in rows]


def _authorise_decision(
    request: PaymentRequest,
    step_position: int,
    actor_id: str,
    approval_round: int | None = None,
    seen_digest: str | None = None,
    *,
    approving: bool = True,
) -> ApprovalStep:
    if request.status != RequestStatus.PENDING or request.current_step != step_position:
        raise stale_error(request, step_position)
    step = request.steps[step_position]
    if approval_round is not None and request.approval_round != approval_round:
        raise StaleDecision("the request was edited since", scope="edited", status=request.status)
    if seen_digest is not None and seen_digest != short_digest(request.terms_digest):
        raise StaleDecision("the request changed since this message", scope="edited", status=request.status)
    if approving and request.terms_digest != digest_of(request):
        # The terms changed without an edit restarting approval: nobody may approve what nobody was shown
        # (rejecting stays possible).
        raise NotAllowed("terms_changed", request_id=request.id)
    if actor_id == request.requester_id:
        raise NotAllowed("own_request", request_id=request.id)
    earlier = next((s for s in request.steps if s.decided_by == actor_id and s.position != step_position), None)
    if earlier is not None:
        raise NotAllowed("decided_another_step", request_id=request.id, step=earlier.name)
    if actor_id not in step.approvers:
        raise NotAllowed("not_an_approver", request_id=request.id, step=step.name)
    return step


def stale_error(request: PaymentRequest, step_position: int | None = None) -> StaleDecision:
    """Describe what already happened, for the person whose click lost."""
    step = (
        request.steps[step_position] if step_position is not None and 0 <= step_position < len(request.steps) else None
    )
    if step is not None and step.decided_by and request.status == RequestStatus.PENDING:
        return StaleDecision(
            "step already decided",
            scope="step",
            status=step.status,
            actor_id=step.decided_by,
            at=step.decided_at,
            step=step.name,
        )
    return StaleDecision(
        f"request is {request.status}",
        scope="request",
        status=request.status,
        actor_id=request.decided_by,
        at=request.decided_at,
        step=step.name if step else None,
    )


async def _compare_and_set(
    session: AsyncSession,
    request: PaymentRequest,
    *,
    expected: RequestStatus,
    new: RequestStatus,
    now: datetime,
    actor_id: str,
    current_step: int | None,
    reason: str | None,
    record_decision: bool,
    step_position: int | None = None,
) -> None:
    values: dict[str, Any] = {"current_step": current_step}
    if record_decision:
        values |= {"decided_by": actor_id, "decided_at": now, "decision_reason": reason}
    if not await change_status(session, request, expected=expected, new=new, now=now, **values):
        await session.refresh(request)
        for step in request.steps:
            await session.refresh(step)
        # Describe the step this caller tried to decide (not the one now open), so the loser learns who won.
        raise stale_error(request, request.current_step if step_position is None else step_position)


async def change_status(
    session: AsyncSession,
    request: PaymentRequest,
    *,
    expected: RequestStatus,
    new: RequestStatus,
    now: datetime,
    **values: Any,
) -> bool:
    """Compare-and-set on (id, status, version); True if this caller won. Updates ``request`` in memory."""
    values = {"status": new.value, "version": request.version + 1, "updated_at": now} | values
    result = await session.execute(
        update(PaymentRequest)
        .where(
            PaymentRequest.id == request.id,
            PaymentRequest.status == expected.value,
            PaymentRequest.version == request.version,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for key, value in values.items():  # as the row now is: written already, so not written again at the flush
        set_committed_value(request, key, value)
    return True


def _close_waiting_steps(request: PaymentRequest) -> None:
    for step in request.steps:
        if step.status in (StepStatus.OPEN, StepStatus.WAITING):
            step.status = StepStatus.CLOSED.value


async def load_request(session: AsyncSession, request_id: int) -> PaymentRequest:
    request = await session.get(PaymentRequest, request_id, populate_existing=True)
    if request is None:
        raise RequestNotFound(f"no payment request {request_id}", request_id=request_id)
    return request


def _as_columns(names: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    return {names[key]: value for key, value in values.items()}


# Built once: every submission runs them.
_REQUEST_COLUMNS = column_names(PaymentRequest)
_INSERT_DELIVERY_KEY = insert(table_of(ProcessedDelivery))
_INSERT_REQUEST = insert(_REQUESTS).returning(*plain_columns(PaymentRequest))
_INSERT_STEPS = insert(_STEPS).returning(*plain_columns(ApprovalStep), sort_by_parameter_order=True)
_INSERT_AUDIT = insert(table_of(AuditEvent))
_CONNECTIONS = table_of(ContaAzulConnection)
_DEFAULT_ACCOUNT = select(_CONNECTIONS.c.default_account_id, _CONNECTIONS.c.default_account_name).where(
    _CONNECTIONS.c.team_id == bindparam("team_id")
)
_BY_SUBMISSION = select(PaymentRequest).where(
    PaymentRequest.team_id == bindparam("team_id"), PaymentRequest.submission_key == bindparam("key")
)


async def _default_account(runner: Statements, team_id: str) -> tuple[str | None, str | None]:
    """The team's default Conta Azul financial account (id, name) now, or (None, None) when none is chosen."""
    row = (await runner.execute(_DEFAULT_ACCOUNT, {"team_id": team_id})).one_or_none()
    return (row[0], row[1]) if row is not None and row[0] else (None, None)


async def _by_submission(session: AsyncSession, team_id: str, key: str) -> PaymentRequest | None:
    return await session.scalar(_BY_SUBMISSION, {"team_id": team_id, "key": key})


def _next_value(insert: Any) -> Any:
    counters = table_of(ReferenceCounter)  # the table, not the entity: a plain statement, no ORM bulk insert around it
    return (
        insert(counters)
        .values(prefix=bindparam("prefix"), year=bindparam("year"), last_value=1)
        .on_conflict_do_update(index_elements=["prefix", "year"], set_={"last_value": counters.c.last_value + 1})
        .returning(counters.c.last_value)
    )


_NEXT_VALUE = {"postgresql": _next_value(pg_insert), "sqlite": _next_value(sqlite_insert)}  # built once


def _unnumbered_reference(prefix: str) -> str:
    """A unique stand-in for the reference until ``_number`` gives the request its number, in the same transaction
    (never seen outside it)."""
    return f"{prefix}-unnumbered-{uuid.uuid4().hex[:16]}"


_REFERENCE_OF = (
    update(_REQUESTS).where(_REQUESTS.c.id == bindparam("request_id")).values(reference=bindparam("reference"))
)


async def _number(runner: Statements, request_id: int, year: int, prefix: str = REFERENCE_PREFIX) -> str:
    """Gives the request its reference, PAG-2026-000123 (REC-… for receivables): a gap-free per-year sequence, safe
    under concurrent submissions (the counter's row stays locked until the commit)."""
    statement = _NEXT_VALUE[dialect_of(runner)]
    number = (await runner.execute(statement, {"prefix": prefix, "year": year})).scalar_one()
    reference = f"{prefix}-{year}-{number:06d}"
    await runner.execute(_REFERENCE_OF, {"request_id": request_id, "reference": reference})
    return reference


class _Audited(Protocol):
    """What an audit event is about: a request, as a row or a view."""

    @property
    def team_id(self) -> str: ...

    @property
    def id(self) -> int: ...


def _audit_row(
    request: _Audited, actor_id: str | None, action: str, now: datetime, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "team_id": request.team_id,
        "request_id": request.id,
        "actor_id": actor_id,
        "action": action,
        "detail": {k: v for k, v in detail.items() if v is not None},
        "created_at": now,
    }


def add_audit(
    session: AsyncSession, request: _Audited, actor_id: str | None, action: str, now: datetime, **detail: Any
) -> None:
    """An audit event, written with the session's other changes."""
    session.add(AuditEvent(**_audit_row(request, actor_id, action, now, detail)))


async def record_audit(
    runner: Statements, request: _Audited, actor_id: str | None, action: str, now: datetime, **detail: Any
) -> None:
    """An audit event, written at once as a plain statement (where nothing else goes through the ORM)."""
    await runner.execute(_INSERT_AUDIT, _audit_row(request, actor_id, action, now, detail))
