"""Read models: what the ledger hands over is a frozen copy of every column, with the domain's enums."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from typing import Any

import pytest
from sqlalchemy import inspect

from ledger import flows
from ledger.domain import PaymentMethod, RequestKind, RequestStatus, StepStatus
from ledger.models import ApprovalMessage, ApprovalStep, AuditEvent, Delegation, PaymentRequest, PolicyVersion, Posting
from ledger.read_models import (
    AuditEntry,
    DelegationView,
    MessageView,
    PostingView,
    RequestView,
    RuleVersionView,
    StepView,
)
from tests.ledger.test_flows import DIRECTOR, MANAGER, MANAGER_2, decide, submit

READ_MODELS: list[tuple[type[Any], type[Any], set[str]]] = [
    (RequestView, PaymentRequest, set()),
    (StepView, ApprovalStep, {"request_id"}),  # read inside its request
    (MessageView, ApprovalMessage, {"id", "step_id"}),  # read inside its step
    (AuditEntry, AuditEvent, set()),
    (DelegationView, Delegation, set()),
    (RuleVersionView, PolicyVersion, set()),
    (PostingView, Posting, set()),
]


@pytest.mark.parametrize(("view", "table", "left_out"), READ_MODELS, ids=[v.__name__ for v, _, _ in READ_MODELS])
def test_a_read_model_has_every_column_of_its_table(view: type[Any], table: type[Any], left_out: set[str]):
    """A new column reaches Slack only once its read model has it too, under the same name."""
    mapper = inspect(table)
    nested = {relationship.key for relationship in mapper.relationships}
    assert {f.name for f in fields(view)} - nested == {c.key for c in mapper.column_attrs} - left_out


@pytest.mark.anyio
async def test_a_request_is_read_as_a_frozen_copy_with_the_domain_enums(session_factory, clock):
    submitted = await submit(session_factory, clock)
    assert submitted.request.steps[0].messages == ()
    first_step = submitted.request.steps[0].id
    await flows.record_approval_message(
        session_factory, step_id=first_step, approver_id=MANAGER, channel="D0GES1", ts="1.1"
    )
    request = await flows.get_request(session_factory, request_id=submitted.request.id)
    assert (request.kind, request.status, request.payment_method) == (
        RequestKind.PAYABLE,
        RequestStatus.PENDING,
        PaymentMethod.PIX,
    )
    assert type(request.status) is RequestStatus and request.status == "pending"  # still equal to the stored text
    assert [(type(s.status), s.approvers) for s in request.steps] == [
        (StepStatus, (MANAGER, MANAGER_2)),
        (StepStatus, (DIRECTOR,)),
    ]
    assert request.steps[0].messages == (MessageView(approver_id=MANAGER, channel="D0GES1", ts="1.1"),)
    with pytest.raises(FrozenInstanceError):
        request.status = RequestStatus.CANCELLED  # type: ignore[misc]

    decided = await decide(session_factory, clock, request.id, 0, MANAGER)
    assert (decided.step, decided.next_step) == decided.request.steps
    assert decided.step.status == StepStatus.APPROVED and decided.next_step.status == StepStatus.OPEN


@pytest.mark.anyio
async def test_requests_read_as_plain_rows_equal_the_orm_reading(session_factory, clock):
    """``get_requests`` reads columns, not ORM objects: every field, step and message must come out the same."""
    first = (await submit(session_factory, clock)).request
    second = (await submit(session_factory, clock, "k2")).request
    await flows.record_approval_message(
        session_factory, step_id=first.steps[0].id, approver_id=MANAGER, channel="D0GES1", ts="1.1"
    )
    await flows.record_approval_message(
        session_factory, step_id=first.steps[0].id, approver_id=MANAGER_2, channel="D0GES2", ts="1.2"
    )
    await decide(session_factory, clock, first.id, 0, MANAGER)
    read = await flows.get_requests(session_factory, request_ids=[second.id, first.id, first.id, 999])
    async with session_factory() as session:
        orm = {
            request_id: RequestView.from_row(await flows.load_request(session, request_id))
            for request_id in (first.id, second.id)
        }
    assert read == orm
    assert [m.ts for m in read[first.id].steps[0].messages] == ["1.1", "1.2"]
    assert await flows.get_request(session_factory, request_id=first.id) == orm[first.id]
