"""Editing a request: the requester changes a pending or rejected request, and approval starts over when what
approvers weighed changed (``ledger.terms``), in one compare-and-set transaction with its audit event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete

from ledger.access import check_may_edit
from ledger.domain import PlannedStep, RequestDraft, RequestStatus, StepStatus
from ledger.flows import SessionFactory, add_audit, change_status, load_request, stale_error
from ledger.models import ApprovalMessage, ApprovalStep
from ledger.notifications import NotificationEvent, notify
from ledger.payment_code import check_payment_code
from ledger.ports import Clock
from ledger.read_models import RequestView
from ledger.terms import MATERIAL_FIELDS, digest_of

# What the edit modal can change; which of them are material (restart approval) is ledger.terms' one list.
EDITABLE_FIELDS = (
    "description",
    "vendor_name",
    "vendor_document",
    "amount",
    "competence_date",
    "due_date",
    "category",
    "cost_center",
    "payment_method",
    "payment_code",
    "invoice_number",
    "notes",
)


@dataclass(frozen=True, slots=True)
class Edited:
    """What an edit did: the fields changed (old, new as text), whether approval starts over, and the approval
    messages of the steps it replaced (channel, ts), which no longer decide anything."""

    request: RequestView
    changes: dict[str, tuple[str, str]]
    restarted: bool
    retired: list[tuple[str, str]]


async def edit_request(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    request_id: int,
    actor_id: str,
    expected_version: int,
    draft: RequestDraft,
    steps: list[PlannedStep],
) -> Edited:
    """The requester changes a pending or rejected request.

    A rejected request, or any change to the approval terms (``ledger.terms``: counterparty, amount, dates,
    category, cost center, payment method and code, NF…), starts approval over with ``steps`` (planned for the
    new values): earlier approvals no longer count. Other changes (description, notes…) keep the approvals given.
    Compare-and-set on the version the modal was opened with: an edit racing a decision loses and is told.

    Raises:
        NotAllowed: ``not_the_requester``.
        StaleDecision: The request was decided, posted or changed since the modal opened.
        InvalidSubmission: The payment code contradicts the amount or due date.
    """
    check_payment_code(
        draft.payment_method, draft.payment_code, amount=draft.amount, due_date=draft.due_date, today=clock.today()
    )
    now = clock.now()
    async with session_factory.begin() as session:
        request = await load_request(session, request_id)
        check_may_edit(request, actor_id)
        status = RequestStatus(request.status)
        if request.version != expected_version:
            raise stale_error(request)
        new_values: dict[str, Any] = {
            name: (getattr(draft, name).value if name == "payment_method" else getattr(draft, name))
            for name in EDITABLE_FIELDS
        }
        changes = {
            name: (_shown(getattr(request, name)), _shown(value))
            for name, value in new_values.items()
            if getattr(request, name) != value
        }
        kept = list(request.attachments or [])
        added = [a.as_dict() for a in draft.attachments if a.file_id not in {k.get("id") for k in kept}]
        if added:
            new_values["attachments"] = kept + added
            changes["attachments"] = (
                ", ".join(k["name"] for k in kept),
                ", ".join(a["name"] or "" for a in kept + added),
            )
        if not changes:
            return Edited(RequestView.from_row(request), {}, restarted=False, retired=[])
        # The fingerprint decides, not a list of names: whatever changes the terms starts approval over.
        new_digest = digest_of({name: new_values.get(name, getattr(request, name)) for name in MATERIAL_FIELDS})
        restart = status is RequestStatus.REJECTED or new_digest != request.terms_digest
        if restart and not steps:
            raise ValueError("a restarted approval needs at least one step")
        retired = [(m.channel, m.ts) for step in request.steps for m in step.messages] if restart else []
        extra: dict[str, Any] = {}
        if restart:
            extra = {
                "terms_digest": new_digest,
                "current_step": 0,
                "decided_by": None,
                "decided_at": None,
                "decision_reason": None,
                "approval_round": request.approval_round + 1,
            }
        if not await change_status(
            session, request, expected=status, new=RequestStatus.PENDING, now=now, **new_values, **extra
        ):
            raise stale_error(request)
        if restart:
            step_ids = [step.id for step in request.steps]
            await session.execute(delete(ApprovalMessage).where(ApprovalMessage.step_id.in_(step_ids)))
            await session.execute(delete(ApprovalStep).where(ApprovalStep.request_id == request.id))
            for position, planned in enumerate(steps):
                session.add(
                    ApprovalStep(
                        request_id=request.id,
                        position=position,
                        name=planned.name,
                        approvers=list(planned.approvers),
                        status=(StepStatus.OPEN if position == 0 else StepStatus.WAITING).value,
                        opened_at=now if position == 0 else None,
                    )
                )
        await notify(
            session,
            team_id=request.team_id,
            request_id=request.id,
            event=NotificationEvent.EDITED,
            now=now,
            changes={name: list(pair) for name, pair in changes.items()},
            restarted=restart,
            retired=[list(pair) for pair in retired],
        )
        add_audit(
            session,
            request,
            actor_id,
            "edited",
            now,
            changes={name: list(pair) for name, pair in changes.items()},
            restarted=restart,
            fingerprint=extra.get("terms_digest"),
        )
        await session.flush()
        session.expire(request)
        edited = RequestView.from_row(await load_request(session, request_id))
    return Edited(edited, changes, restarted=restart, retired=retired)


def _shown(value: Any) -> str:
    """A field's value as text for the audit trail and the thread (dates ISO, money with cents)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
