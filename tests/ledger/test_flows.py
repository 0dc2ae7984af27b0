"""Use cases against a real database (SQLite, and PostgreSQL when reachable): submit, decide, cancel, queries."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ledger import editing, flows, queries
from ledger.access import is_editable
from ledger.domain import PaymentMethod, PlannedStep, RequestDraft, RequestKind, RequestStatus, StepStatus
from ledger.errors import NotAllowed, StaleDecision
from ledger.models import AuditEvent, Base, PaymentRequest
from ledger.ports import Clock
from ledger.read_models import RequestView
from ledger.terms import ApprovalTerms

pytestmark = pytest.mark.anyio

TEAM = "T0TEAM"
REQUESTER = "U0REQ"
MANAGER, MANAGER_2 = "U0GES1", "U0GES2"
DIRECTOR = "U0DIR"
OUTSIDER = "U0OUT"

DRAFT = RequestDraft(
    description="Farinha de trigo — novembro",
    vendor_name="Moinho Boa Safra Ltda",
    vendor_document="11222333000181",
    amount=Decimal("15000.00"),
    competence_date=date(2026, 11, 1),
    due_date=date(2026, 12, 10),
    category="Matéria-Prima",
    cost_center="Produção",
    payment_method=PaymentMethod.PIX,
    payment_code="financeiro@boasafra.com.br",
    invoice_number="1234-1",
    notes="Entregar na doca 2",
)
TWO_STEPS = [PlannedStep("Gestor", (MANAGER, MANAGER_2)), PlannedStep("Diretoria", (DIRECTOR,))]
ONE_STEP = [PlannedStep("Financeiro", (MANAGER, MANAGER_2))]


async def submit(
    session_factory: flows.SessionFactory,
    clock: Clock,
    key: str = "k1",
    *,
    steps: Sequence[PlannedStep] = TWO_STEPS,
    requester: str = REQUESTER,
    team: str = TEAM,
    draft: RequestDraft = DRAFT,
) -> flows.Submitted:
    return await flows.submit_request(
        session_factory,
        clock=clock,
        team_id=team,
        requester_id=requester,
        submission_key=key,
        draft=draft,
        steps=list(steps),
    )


async def decide(
    session_factory: flows.SessionFactory,
    clock: Clock,
    request_id: int,
    step: int,
    actor: str,
    *,
    approve: bool = True,
    reason: str | None = None,
    hook: flows.FinalApprovalHook | None = None,
) -> flows.Decided:
    return await flows.decide(
        session_factory,
        clock=clock,
        request_id=request_id,
        step_position=step,
        actor_id=actor,
        approve=approve,
        reason=reason,
        on_final_approval=hook,
    )


async def count(session_factory: flows.SessionFactory, model: type[Base]) -> int:
    async with session_factory() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def actions(session_factory: flows.SessionFactory, request_id: int) -> list[str]:
    return [e.action for e in await flows.audit_trail(session_factory, request_id=request_id)]


# --------------------------------------------------------------------------- submit


async def test_submit_stores_request_steps_and_audit(session_factory, clock):
    submitted = await submit(session_factory, clock)
    assert submitted.created
    stored = await flows.get_request(session_factory, request_id=submitted.request.id)
    assert stored.reference == "PAG-2026-000001"
    assert (stored.status, stored.version, stored.current_step) == (RequestStatus.PENDING, 1, 0)
    assert (stored.team_id, stored.requester_id, stored.submission_key) == (TEAM, REQUESTER, "k1")
    assert stored.amount == Decimal("15000.00")
    assert (stored.competence_date, stored.due_date) == (DRAFT.competence_date, DRAFT.due_date)
    assert (stored.vendor_document, stored.payment_method, stored.payment_code) == (
        "11222333000181",
        "pix",
        "financeiro@boasafra.com.br",
    )
    assert (stored.description, stored.category, stored.cost_center) == (
        DRAFT.description,
        "Matéria-Prima",
        "Produção",
    )
    assert stored.created_at == stored.updated_at == clock.now()
    assert [(s.position, s.name, s.approvers, s.status) for s in stored.steps] == [
        (0, "Gestor", (MANAGER, MANAGER_2), StepStatus.OPEN),
        (1, "Diretoria", (DIRECTOR,), StepStatus.WAITING),
    ]
    [event] = await flows.audit_trail(session_factory, request_id=stored.id)
    assert (event.action, event.actor_id, event.team_id) == ("submitted", REQUESTER, TEAM)
    assert event.detail == {"amount": "15000.00", "steps": 2, "fingerprint": stored.terms_digest}
    assert stored.terms_digest == ApprovalTerms.of(stored).digest()
    assert event.created_at == clock.now()


async def test_submit_without_steps_is_refused(session_factory, clock):
    with pytest.raises(ValueError, match="at least one approval step"):
        await submit(session_factory, clock, steps=[])


async def test_same_submission_key_returns_the_same_request(session_factory, clock):
    first = await submit(session_factory, clock)
    again = await submit(session_factory, clock)
    assert not again.created
    assert again.request.id == first.request.id
    assert again.request.reference == "PAG-2026-000001"
    assert await count(session_factory, PaymentRequest) == 1
    assert await actions(session_factory, first.request.id) == ["submitted"]
    # The key is per team: another workspace may reuse it.
    other_team = await submit(session_factory, clock, team="T0OTHER")
    assert other_team.created
    assert other_team.request.reference == "PAG-2026-000002"


async def test_concurrent_duplicate_submissions_store_one_request(session_factory, clock):
    results = await asyncio.gather(*(submit(session_factory, clock, "same-key") for _ in range(10)))
    assert sum(r.created for r in results) == 1
    assert {r.request.id for r in results} == {results[0].request.id}
    assert {r.request.reference for r in results} == {"PAG-2026-000001"}
    assert await count(session_factory, PaymentRequest) == 1
    assert await count(session_factory, AuditEvent) == 1
    # The losers' counter increments were rolled back with them: the sequence has no gap.
    assert (await submit(session_factory, clock, "next")).request.reference == "PAG-2026-000002"


async def test_references_are_sequential_per_sao_paulo_year(session_factory, clock):
    refs = [(await submit(session_factory, clock, f"k{i}")).request.reference for i in range(2)]
    assert refs == ["PAG-2026-000001", "PAG-2026-000002"]
    # 23:00 on New Year's Eve in São Paulo is already 2027 in UTC, but still 2026 for the business.
    clock.set(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    assert (await submit(session_factory, clock, "k2")).request.reference == "PAG-2026-000003"
    clock.set(datetime(2027, 1, 1, 3, 0, tzinfo=UTC))
    assert (await submit(session_factory, clock, "k3")).request.reference == "PAG-2027-000001"
    assert (await submit(session_factory, clock, "k4")).request.reference == "PAG-2027-000002"


async def test_concurrent_submissions_get_unique_gap_free_references(session_factory, clock):
    results = await asyncio.gather(*(submit(session_factory, clock, f"key-{i}") for i in range(20)))
    assert all(r.created for r in results)
    assert sorted(r.request.reference for r in results) == [f"PAG-2026-{n:06d}" for n in range(1, 21)]


# --------------------------------------------------------------------------- decide


async def test_only_an_approver_of_the_open_step_may_decide(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    for actor in (OUTSIDER, DIRECTOR):  # the director approves the next step, not this one
        with pytest.raises(NotAllowed) as caught:
            await decide(session_factory, clock, request.id, 0, actor)
        assert caught.value.code == "not_an_approver"
        assert caught.value.params == {"request_id": request.id, "step": "Gestor"}
    with pytest.raises(NotAllowed) as caught:
        await flows.check_can_decide(session_factory, request_id=request.id, step_position=0, actor_id=OUTSIDER)
    assert caught.value.code == "not_an_approver"
    assert (await flows.get_request(session_factory, request_id=request.id)).version == 1


async def test_requester_may_not_decide_own_request(session_factory, clock):
    # Even when listed as an approver (the policy removes them; the flow refuses all the same).
    request = (await submit(session_factory, clock, steps=[PlannedStep("Gestor", (REQUESTER, MANAGER))])).request
    with pytest.raises(NotAllowed) as caught:
        await decide(session_factory, clock, request.id, 0, REQUESTER)
    assert caught.value.code == "own_request"
    checked = await flows.check_can_decide(session_factory, request_id=request.id, step_position=0, actor_id=MANAGER)
    assert checked.id == request.id


async def test_approving_the_first_step_opens_the_next(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    hook_calls = []

    async def hook(session, req):
        hook_calls.append(req.id)

    clock.advance(timedelta(hours=1))
    decided = await decide(session_factory, clock, request.id, 0, MANAGER_2, hook=hook)
    assert not decided.final
    assert decided.next_step is not None and decided.next_step.name == "Diretoria"
    assert (decided.step.status, decided.step.decided_by) == (StepStatus.APPROVED, MANAGER_2)
    assert hook_calls == []
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert (stored.status, stored.current_step, stored.version) == (RequestStatus.PENDING, 1, 2)
    assert stored.decided_by is None and stored.decided_at is None  # the request itself is not decided yet
    assert stored.updated_at == clock.now()
    assert [(s.status, s.decided_by, s.decided_at) for s in stored.steps] == [
        (StepStatus.APPROVED, MANAGER_2, clock.now()),
        (StepStatus.OPEN, None, None),
    ]
    assert await actions(session_factory, request.id) == ["submitted", "step_approved"]


async def test_final_approval_calls_the_hook_once_inside_the_transaction(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    await decide(session_factory, clock, request.id, 0, MANAGER)
    seen = []

    async def hook(session, req):
        seen.append((session.in_transaction(), req.status))
        session.add(AuditEvent(team_id=TEAM, request_id=req.id, actor_id=None, action="outbox", created_at=clock.now()))

    decided = await decide(session_factory, clock, request.id, 1, DIRECTOR, hook=hook)
    assert decided.final
    assert seen == [(True, RequestStatus.APPROVED)]
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert (stored.status, stored.current_step, stored.version) == (RequestStatus.APPROVED, None, 3)
    assert (stored.decided_by, stored.decided_at, stored.decision_reason) == (DIRECTOR, clock.now(), None)
    assert await actions(session_factory, request.id) == ["submitted", "step_approved", "approved", "outbox"]


async def test_a_failing_hook_rolls_the_whole_decision_back(session_factory, clock):
    request = (await submit(session_factory, clock, steps=ONE_STEP)).request

    async def hook(session, req):
        session.add(AuditEvent(team_id=TEAM, request_id=req.id, actor_id=None, action="outbox", created_at=clock.now()))
        raise RuntimeError("outbox is broken")

    with pytest.raises(RuntimeError, match="outbox is broken"):
        await decide(session_factory, clock, request.id, 0, MANAGER, hook=hook)
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert (stored.status, stored.current_step, stored.version, stored.decided_by) == ("pending", 0, 1, None)
    assert [(s.status, s.decided_by) for s in stored.steps] == [(StepStatus.OPEN, None)]
    assert await actions(session_factory, request.id) == ["submitted"]
    # Nothing was half-done: the decision can still be made.
    assert (await decide(session_factory, clock, request.id, 0, MANAGER)).final


async def test_reject_ends_the_request_and_closes_later_steps(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    hook_calls = []

    async def hook(session, req):
        hook_calls.append(req.id)

    decided = await decide(session_factory, clock, request.id, 0, MANAGER, approve=False, reason="Sem NF", hook=hook)
    assert decided.next_step is None
    assert (decided.step.status, decided.step.reason) == (StepStatus.REJECTED, "Sem NF")
    assert hook_calls == []
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert (stored.status, stored.current_step, stored.version) == (RequestStatus.REJECTED, None, 2)
    assert (stored.decided_by, stored.decided_at, stored.decision_reason) == (MANAGER, clock.now(), "Sem NF")
    assert [(s.status, s.reason) for s in stored.steps] == [(StepStatus.REJECTED, "Sem NF"), (StepStatus.CLOSED, None)]
    trail = await flows.audit_trail(session_factory, request_id=request.id)
    assert trail[-1].action == "rejected"
    assert trail[-1].detail == {"step": "Gestor", "reason": "Sem NF", "fingerprint": stored.terms_digest}


async def test_deciding_a_step_already_decided_is_stale(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    decided_at = clock.now()
    await decide(session_factory, clock, request.id, 0, MANAGER)
    clock.advance(timedelta(minutes=5))
    for approve in (True, False):
        with pytest.raises(StaleDecision) as caught:
            await decide(session_factory, clock, request.id, 0, MANAGER_2, approve=approve, reason="x")
        assert caught.value.params == {
            "scope": "step",
            "status": "approved",
            "actor_id": MANAGER,
            "at": decided_at,
            "step": "Gestor",
        }
    assert (await flows.get_request(session_factory, request_id=request.id)).version == 2


async def test_deciding_a_finished_request_is_stale(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    rejected_at = clock.now()
    await decide(session_factory, clock, request.id, 0, MANAGER, approve=False, reason="Duplicado")
    clock.advance(timedelta(days=1))
    for step, actor in ((0, MANAGER_2), (1, DIRECTOR)):
        with pytest.raises(StaleDecision) as caught:
            await decide(session_factory, clock, request.id, step, actor)
        params = caught.value.params
        assert (params["scope"], params["status"], params["actor_id"], params["at"]) == (
            "request",
            "rejected",
            MANAGER,
            rejected_at,
        )


async def test_a_step_position_that_does_not_exist_is_stale(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    with pytest.raises(StaleDecision) as caught:
        await decide(session_factory, clock, request.id, 7, MANAGER)
    assert caught.value.params["status"] == "pending"


@pytest.mark.parametrize("steps", [1, 2], ids=["final-step", "first-of-two"])
async def test_thirty_simultaneous_clicks_make_one_decision(session_factory, clock, steps):
    approvers = tuple(f"U0APR{i:02d}" for i in range(30))
    plan = [PlannedStep("Gestores", approvers), PlannedStep("Diretoria", (DIRECTOR,))][:steps]
    request = (await submit(session_factory, clock, steps=plan)).request
    hook_calls = []

    async def hook(session, req):
        hook_calls.append(req.id)

    results = await asyncio.gather(
        *(
            decide(session_factory, clock, request.id, 0, actor, approve=i % 2 == 0, reason="r", hook=hook)
            for i, actor in enumerate(approvers)
        ),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, flows.Decided)]
    lost = [r for r in results if isinstance(r, StaleDecision)]
    assert len(won) == 1 and len(lost) == 29, results
    winner = won[0].step.decided_by
    # Every loser is told who won, whichever way the race was lost.
    assert {(e.params["actor_id"], e.params["at"]) for e in lost} == {(winner, clock.now())}
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert stored.version == 2
    assert stored.steps[0].decided_by == winner
    assert await count(session_factory, AuditEvent) == 2
    approved = won[0].step.status == StepStatus.APPROVED
    assert hook_calls == ([request.id] if approved and steps == 1 else [])


# --------------------------------------------------------------------------- cancel


async def test_only_the_requester_may_cancel(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    with pytest.raises(NotAllowed) as caught:
        await flows.cancel(session_factory, clock=clock, request_id=request.id, actor_id=MANAGER)
    assert caught.value.code == "not_the_requester"
    assert (await flows.get_request(session_factory, request_id=request.id)).status == RequestStatus.PENDING


async def test_cancel_a_pending_request(session_factory, clock):
    request = (await submit(session_factory, clock)).request
    await decide(session_factory, clock, request.id, 0, MANAGER)
    clock.advance(timedelta(minutes=1))
    cancelled = await flows.cancel(session_factory, clock=clock, request_id=request.id, actor_id=REQUESTER)
    assert cancelled.status == RequestStatus.CANCELLED
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert (stored.status, stored.current_step, stored.version) == (RequestStatus.CANCELLED, None, 3)
    assert (stored.decided_by, stored.decided_at) == (REQUESTER, clock.now())
    assert [s.status for s in stored.steps] == [StepStatus.APPROVED, StepStatus.CLOSED]
    assert await actions(session_factory, request.id) == ["submitted", "step_approved", "cancelled"]
    with pytest.raises(StaleDecision) as caught:
        await decide(session_factory, clock, request.id, 1, DIRECTOR)
    assert (caught.value.params["status"], caught.value.params["actor_id"]) == ("cancelled", REQUESTER)


async def test_cancel_only_while_pending(session_factory, clock):
    request = (await submit(session_factory, clock, steps=ONE_STEP)).request
    await decide(session_factory, clock, request.id, 0, MANAGER)
    with pytest.raises(StaleDecision) as caught:
        await flows.cancel(session_factory, clock=clock, request_id=request.id, actor_id=REQUESTER)
    assert (caught.value.params["scope"], caught.value.params["status"]) == ("request", "approved")
    assert (await flows.get_request(session_factory, request_id=request.id)).status == RequestStatus.APPROVED


async def test_cancel_and_approve_at_once_make_one_transition(session_factory, clock):
    request = (await submit(session_factory, clock, steps=ONE_STEP)).request
    results = await asyncio.gather(
        flows.cancel(session_factory, clock=clock, request_id=request.id, actor_id=REQUESTER),
        flows.cancel(session_factory, clock=clock, request_id=request.id, actor_id=REQUESTER),
        decide(session_factory, clock, request.id, 0, MANAGER),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, StaleDecision)]
    assert len(errors) == 2 and sum(isinstance(r, BaseException) for r in results) == 2, results
    stored = await flows.get_request(session_factory, request_id=request.id)
    assert stored.version == 2
    assert stored.status in (RequestStatus.CANCELLED, RequestStatus.APPROVED)
    assert {e.params["status"] for e in errors} == {stored.status}


async def test_cancel_racing_a_step_approval_still_cancels(session_factory, clock):
    # The request stays pending after a first-step approval, so the requester's cancel must go through.
    for attempt in range(5):
        request = (await submit(session_factory, clock, f"race-{attempt}")).request
        approval, cancelled = await asyncio.gather(
            decide(session_factory, clock, request.id, 0, MANAGER),
            flows.cancel(session_factory, clock=clock, request_id=request.id, actor_id=REQUESTER),
            return_exceptions=True,
        )
        assert isinstance(cancelled, RequestView), cancelled
        stored = await flows.get_request(session_factory, request_id=request.id)
        assert stored.status == RequestStatus.CANCELLED
        if isinstance(approval, flows.Decided):  # approved first: that step keeps its decision
            assert [s.status for s in stored.steps] == [StepStatus.APPROVED, StepStatus.CLOSED]
            assert stored.version == 3
        else:
            assert isinstance(approval, StaleDecision) and approval.params["status"] == "cancelled"
            assert [s.status for s in stored.steps] == [StepStatus.CLOSED, StepStatus.CLOSED]
            assert stored.version == 2


# --------------------------------------------------------------------------- deliveries and queries


async def test_claim_delivery_is_true_once(session_factory, clock):
    assert await flows.claim_delivery(session_factory, key="Ev01", clock=clock)
    assert not await flows.claim_delivery(session_factory, key="Ev01", clock=clock)
    assert await flows.claim_delivery(session_factory, key="Ev02", clock=clock)


async def test_waiting_for_lists_open_steps_of_an_approver_oldest_first(session_factory, clock):
    first = (await submit(session_factory, clock, "a")).request
    second = (await submit(session_factory, clock, "b", steps=ONE_STEP)).request
    third = (await submit(session_factory, clock, "c")).request
    await submit(session_factory, clock, "d", team="T0OTHER")

    async def waiting(approver: str, **kwargs: int) -> list[int]:
        found = await queries.waiting_for(session_factory, team_id=TEAM, approver_id=approver, **kwargs)
        return [r.id for r in found]

    assert await waiting(MANAGER) == [first.id, second.id, third.id]
    assert await waiting(MANAGER, limit=2) == [first.id, second.id]
    assert await waiting(DIRECTOR) == []
    await decide(session_factory, clock, first.id, 0, MANAGER)  # moves on to the director
    await decide(session_factory, clock, second.id, 0, MANAGER_2)  # approved: nobody waits any more
    await flows.cancel(session_factory, clock=clock, request_id=third.id, actor_id=REQUESTER)
    assert await waiting(MANAGER) == []
    assert await waiting(MANAGER_2) == []
    assert await waiting(DIRECTOR) == [first.id]
    assert await waiting(OUTSIDER) == []


async def test_recent_requests_are_mine_newest_first(session_factory, clock):
    ids = [(await submit(session_factory, clock, f"k{i}")).request.id for i in range(4)]
    await submit(session_factory, clock, "other", requester=OUTSIDER)
    await submit(session_factory, clock, "k0", team="T0OTHER")

    async def recent(requester: str, **kwargs: int) -> list[int]:
        found = await queries.recent_requests(session_factory, team_id=TEAM, requester_id=requester, **kwargs)
        return [r.id for r in found]

    assert await recent(REQUESTER) == ids[::-1]
    assert await recent(REQUESTER, limit=2) == ids[:1:-1]
    assert len(await recent(OUTSIDER)) == 1
    assert await recent(MANAGER) == []


async def test_a_receivable_is_never_edited_as_a_payment_request(session_factory, clock):
    """A replayed Edit click on a receivable (an admin's, pending approval) is refused where the change is made."""
    submitted = await flows.submit_request(
        session_factory,
        clock=clock,
        team_id=TEAM,
        requester_id=REQUESTER,
        submission_key="r1",
        draft=DRAFT,
        steps=ONE_STEP,
        kind=RequestKind.RECEIVABLE,
    )
    request = submitted.request
    assert not is_editable(request)
    with pytest.raises(NotAllowed) as caught:
        await editing.edit_request(
            session_factory,
            clock=clock,
            request_id=request.id,
            actor_id=REQUESTER,
            expected_version=request.version,
            draft=DRAFT,
            steps=ONE_STEP,
        )
    assert caught.value.code == "not_the_requester"
    payable = (await submit(session_factory, clock, "p1", steps=ONE_STEP)).request
    assert is_editable(payable)
