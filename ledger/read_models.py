"""Read models: what the ledger hands to its callers, frozen copies of the rows taken before the session ends.

No ORM object leaves the ledger: a caller (the Slack layer) can neither lazy-load nor change a row by accident,
and what it reads is exactly what was true when the ledger answered. Attribute names are the columns' own; the
statuses, kinds and payment methods stored as text come back as their ``ledger.domain`` enums (``StrEnum``, so
they still compare and format as the stored text). Each class builds itself from its row with ``from_row``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from ledger.domain import Attachment, PaymentMethod, RequestKind, RequestStatus, StepStatus
from ledger.models import ApprovalMessage, ApprovalStep, AuditEvent, Delegation, PaymentRequest, PolicyVersion, Posting


@dataclass(frozen=True, slots=True)
class MessageView:
    """An approval message sent to one approver (where it is, to update it after the decision)."""

    approver_id: str
    channel: str
    ts: str

    @classmethod
    def from_row(cls, row: ApprovalMessage | Row[*tuple[Any, ...]]) -> MessageView:
        return cls(approver_id=row.approver_id, channel=row.channel, ts=row.ts)


@dataclass(frozen=True, slots=True)
class StepView:
    """One approval step of a request, with the approval messages sent for it."""

    id: int
    position: int
    name: str
    approvers: tuple[str, ...]
    status: StepStatus
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    approved_digest: str | None
    opened_at: datetime | None
    reminded_at: datetime | None
    escalated_at: datetime | None
    messages: tuple[MessageView, ...]

    @classmethod
    def from_row(
        cls, row: ApprovalStep | Row[*tuple[Any, ...]], messages: Iterable[MessageView] | None = None
    ) -> StepView:
        """From the ORM row, or from a plain row with its ``messages`` read apart."""
        return cls(
            id=row.id,
            position=row.position,
            name=row.name,
            approvers=tuple(row.approvers),
            status=StepStatus(row.status),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            reason=row.reason,
            approved_digest=row.approved_digest,
            opened_at=row.opened_at,
            reminded_at=row.reminded_at,
            escalated_at=row.escalated_at,
            messages=tuple(
                (MessageView.from_row(message) for message in row.messages) if messages is None else messages
            ),
        )


@dataclass(frozen=True, slots=True)
class RequestView:
    """A payment request (or receivable) with its steps in order: every column of ``PaymentRequest``."""

    id: int
    reference: str
    team_id: str
    requester_id: str
    submission_key: str
    kind: RequestKind
    source: str
    description: str
    vendor_name: str
    vendor_document: str | None
    amount: Decimal
    competence_date: date
    due_date: date
    category: str
    cost_center: str | None
    payment_method: PaymentMethod
    payment_code: str | None
    invoice_number: str | None
    notes: str | None
    counterparty_email: str | None
    installments: int
    financial_account_id: str | None
    financial_account_name: str | None
    terms_digest: str | None
    possible_duplicates: str | None
    approval_round: int
    attachments: tuple[Attachment, ...]
    status: RequestStatus
    version: int
    current_step: int | None
    tracking_channel: str | None
    tracking_ts: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    contaazul_id: str | None
    posted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    steps: tuple[StepView, ...]

    @classmethod
    def from_row(
        cls, row: PaymentRequest | Row[*tuple[Any, ...]], steps: Iterable[StepView] | None = None
    ) -> RequestView:
        """From the ORM row, or from a plain row with its ``steps`` read apart."""
        return cls(
            id=row.id,
            reference=row.reference,
            team_id=row.team_id,
            requester_id=row.requester_id,
            submission_key=row.submission_key,
            kind=RequestKind(row.kind),
            source=row.source,
            description=row.description,
            vendor_name=row.vendor_name,
            vendor_document=row.vendor_document,
            amount=row.amount,
            competence_date=row.competence_date,
            due_date=row.due_date,
            category=row.category,
            cost_center=row.cost_center,
            payment_method=PaymentMethod(row.payment_method),
            payment_code=row.payment_code,
            invoice_number=row.invoice_number,
            notes=row.notes,
            counterparty_email=row.counterparty_email,
            installments=row.installments,
            financial_account_id=row.financial_account_id,
            financial_account_name=row.financial_account_name,
            terms_digest=row.terms_digest,
            possible_duplicates=row.possible_duplicates,
            approval_round=row.approval_round,
            attachments=tuple(Attachment.from_dict(a) for a in row.attachments or ()),
            status=RequestStatus(row.status),
            version=row.version,
            current_step=row.current_step,
            tracking_channel=row.tracking_channel,
            tracking_ts=row.tracking_ts,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
            contaazul_id=row.contaazul_id,
            posted_at=row.posted_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            steps=tuple((StepView.from_row(step) for step in row.steps) if steps is None else steps),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event of the audit trail."""

    id: int
    team_id: str
    request_id: int | None
    actor_id: str | None
    action: str
    detail: Mapping[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: AuditEvent) -> AuditEntry:
        return cls(
            id=row.id,
            team_id=row.team_id,
            request_id=row.request_id,
            actor_id=row.actor_id,
            action=row.action,
            detail=row.detail,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class DelegationView:
    """While ``approver_id`` is away (``starts_on`` to ``ends_on``, inclusive), ``delegate_id`` decides."""

    id: int
    team_id: str
    approver_id: str
    delegate_id: str
    starts_on: date
    ends_on: date
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None

    @classmethod
    def from_row(cls, row: Delegation | Row[*tuple[Any, ...]]) -> DelegationView:
        return cls(
            id=row.id,
            team_id=row.team_id,
            approver_id=row.approver_id,
            delegate_id=row.delegate_id,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            created_by=row.created_by,
            created_at=row.created_at,
            cancelled_at=row.cancelled_at,
        )


@dataclass(frozen=True, slots=True)
class RuleVersionView:
    """One saved version of a team's approval rules (a ``PolicyVersion``)."""

    id: int
    team_id: str
    policy: Mapping[str, Any]
    remind_after_hours: int
    escalate_after_hours: int
    summary: str
    changed_by: str
    changed_at: datetime

    @classmethod
    def from_row(cls, row: PolicyVersion) -> RuleVersionView:
        return cls(
            id=row.id,
            team_id=row.team_id,
            policy=row.policy,
            remind_after_hours=row.remind_after_hours,
            escalate_after_hours=row.escalate_after_hours,
            summary=row.summary,
            changed_by=row.changed_by,
            changed_at=row.changed_at,
        )


@dataclass(frozen=True, slots=True)
class PostingView:
    """A request's posting job (the outbox row): where it stands, and why it failed when it did (or, posted, what
    finance must check in Conta Azul: ``ledger.outbox.COUNTERPARTY_MISMATCH``)."""

    id: int
    request_id: int
    team_id: str
    kind: RequestKind
    reference: str
    status: str  # a ledger.outbox.PostingStatus
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    create_sent_at: datetime | None
    protocol_id: str | None
    contaazul_id: str | None
    error_code: str | None
    error_detail: str | None
    announced_at: datetime | None
    announce_lease_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Posting) -> PostingView:
        return cls(
            id=row.id,
            request_id=row.request_id,
            team_id=row.team_id,
            kind=RequestKind(row.kind),
            reference=row.reference,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            lease_owner=row.lease_owner,
            lease_expires_at=row.lease_expires_at,
            create_sent_at=row.create_sent_at,
            protocol_id=row.protocol_id,
            contaazul_id=row.contaazul_id,
            error_code=row.error_code,
            error_detail=row.error_detail,
            announced_at=row.announced_at,
            announce_lease_until=row.announce_lease_until,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
