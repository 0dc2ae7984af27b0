"""Database tables (SQLAlchemy 2, async). Money is stored as integer centavos; dates as dates; instants as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Money(TypeDecorator[Decimal]):
    """A BRL amount kept exactly as integer centavos, whatever the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"amount has more than 2 decimal places: {value}")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite forgets the zone, so put it back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


# Plain statements, for the paths every submission and every message takes: a statement on a table skips the ORM's
# machinery around it, which costs more than SQLite running it (the ORM is for the rest).
def table_of(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]  # a declarative model's is always a Table


def column_names(model: type[Base]) -> dict[str, str]:
    """Each attribute's column (``amount`` → ``amount_cents``)."""
    return {attribute.key: attribute.columns[0].key for attribute in sa_inspect(model).column_attrs}


def plain_columns(model: type[Base]) -> list[Any]:
    """Every column of the model's table, each named as its attribute: a plain row reads like the ORM object."""
    table = table_of(model)
    return [table.c[column].label(attribute) for attribute, column in column_names(model).items()]


class PaymentRequest(Base):
    __tablename__ = "payment_requests"
    __table_args__ = (
        UniqueConstraint("team_id", "submission_key"),
        Index("ix_payment_requests_team_status", "team_id", "status"),
        # What the duplicate check searches by, so that it reads the look-alikes, not the team's backlog.
        Index("ix_payment_requests_look_alike", "team_id", "vendor_document", "amount_cents", "due_date"),
        Index("ix_payment_requests_invoice", "team_id", "invoice_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    requester_id: Mapped[str] = mapped_column(String(32))
    # One Slack modal submission creates at most one request, even if delivered twice.
    submission_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="payable", server_default="payable")  # a RequestKind
    # Where it came from: "slack" (the modal) or a CRM ("generic", "pipedrive", "hubspot").
    source: Mapped[str] = mapped_column(String(16), default="slack", server_default="slack")
    description: Mapped[str] = mapped_column(String(300))
    # The counterparty: the vendor of a payable, the customer of a receivable.
    vendor_name: Mapped[str] = mapped_column(String(200))
    vendor_document: Mapped[str | None] = mapped_column(String(14))
    amount: Mapped[Decimal] = mapped_column("amount_cents", Money)
    competence_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(200))
    cost_center: Mapped[str | None] = mapped_column(String(200))
    payment_method: Mapped[str] = mapped_column(String(16))
    # A boleto line (47/48 digits), a PIX key, or a whole PIX "copia e cola" code (often 150–400 characters).
    payment_code: Mapped[str | None] = mapped_column(String(512))
    invoice_number: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    counterparty_email: Mapped[str | None] = mapped_column(String(100))  # a new customer is created with it
    installments: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # monthly, from due_date
    # The Conta Azul financial account the entry goes to, fixed when the request is filed (the connection's default
    # then); None means "the company's default account when it is posted", which is what approvers are shown.
    financial_account_id: Mapped[str | None] = mapped_column(String(64))
    financial_account_name: Mapped[str | None] = mapped_column(String(200))
    # The approval fingerprint of the request as it stands (ledger.terms); each approved step records the one it saw.
    terms_digest: Mapped[str | None] = mapped_column(String(64))
    # What it may duplicate (earlier requests, Conta Azul entries), as the requester confirmed it anyway.
    possible_duplicates: Mapped[str | None] = mapped_column(Text)
    # Goes up each time an edit starts approval over; a button from an earlier round decides nothing.
    approval_round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Files attached in the modal: [{"id", "name", "permalink", "download_url"}] (see ledger.domain.Attachment).
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    current_step: Mapped[int | None] = mapped_column(Integer)  # position of the open step; None when none is open
    tracking_channel: Mapped[str | None] = mapped_column(String(32))
    tracking_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(32))  # who made the last status change
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    contaazul_id: Mapped[str | None] = mapped_column(String(64))  # the payable created in Conta Azul
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    steps: Mapped[list[ApprovalStep]] = relationship(
        back_populates="request", order_by="ApprovalStep.position", lazy="selectin"
    )


class ApprovalStep(Base):
    __tablename__ = "approval_steps"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    approvers: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    # The request's approval fingerprint when this step was approved: the posting must match it exactly.
    approved_digest: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when approvers were first asked
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped[PaymentRequest] = relationship(back_populates="steps")
    messages: Mapped[list[ApprovalMessage]] = relationship(
        back_populates="step", order_by="ApprovalMessage.id", lazy="selectin"
    )


class ApprovalMessage(Base):
    """A message with Approve/Reject buttons sent to one approver, kept so it can be updated after the decision."""

    __tablename__ = "approval_messages"
    __table_args__ = (UniqueConstraint("step_id", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("approval_steps.id", ondelete="CASCADE"))
    approver_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))

    step: Mapped[ApprovalStep] = relationship(back_populates="messages")


class AuditEvent(Base):
    """Append-only trail of who did what and when."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("payment_requests.id", ondelete="SET NULL"))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReferenceCounter(Base):
    """Per-year sequence behind public references like PAG-2026-000123."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class ProcessedDelivery(Base):
    """Slack deliveries already handled (event ids), so a retried delivery changes nothing twice."""

    __tablename__ = "processed_deliveries"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContaAzulConnection(Base):
    """The Conta Azul company a Slack team is connected to, with its OAuth tokens encrypted at rest."""

    __tablename__ = "contaazul_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    company_id: Mapped[str | None] = mapped_column(String(64))
    company_name: Mapped[str] = mapped_column(String(200))
    company_document: Mapped[str | None] = mapped_column(String(20))
    connected_by: Mapped[str] = mapped_column(String(32))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # "active" | "needs_reconnect"
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    default_account_id: Mapped[str | None] = mapped_column(String(64))
    default_account_name: Mapped[str | None] = mapped_column(String(200))
    # Bumped on every refresh, so a process can tell another one already rotated the tokens.
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    needs_reconnect_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who is refreshing the tokens, until when: the token endpoint is called outside any transaction, so a
    # refresh holds no database lock while Conta Azul answers, and nobody else refreshes meanwhile.
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OAuthState(Base):
    """A one-time ``state`` for the Conta Azul authorization, bound to the admin who asked for it in Slack and,
    once the start link is opened, to that browser (the SHA-256 of a secret kept in its cookie)."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The PKCE verifier (RFC 7636), encrypted like the tokens; None for rows older than PKCE.
    code_verifier_enc: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    browser_hash: Mapped[str | None] = mapped_column(String(64))


class Posting(Base):
    """Transactional outbox: one row per request to post to Conta Azul, written with the final approval."""

    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # a RequestKind
    reference: Mapped[str] = mapped_column(String(32))  # carried in Conta Azul's description, found on reconcile
    status: Mapped[str] = mapped_column(String(16))  # pending | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set, and committed, before a create call: from then on the entry may exist, so retries reconcile first.
    create_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    protocol_id: Mapped[str | None] = mapped_column(String(64))
    contaazul_id: Mapped[str | None] = mapped_column(String(64))
    # Why it failed; on a done posting, what finance must check in Conta Azul (ledger.outbox.COUNTERPARTY_MISMATCH).
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_detail: Mapped[str | None] = mapped_column(Text)
    # The outcome (posted, or failed for good) is told in Slack after the commit; a process that dies in between
    # leaves it unannounced, and whoever holds the short announce lease next tells it.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announce_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One row per run of a periodic job (e.g. the digest of a given day): the instance that inserts it runs it."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PolicyVersion(Base):
    """One saved version of a team's approval rules (edited in Slack): the newest applies; all are kept."""

    __tablename__ = "policy_versions"
    __table_args__ = (Index("ix_policy_versions_team", "team_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # the TOML file's shape: fallback, rules, default
    remind_after_hours: Mapped[int] = mapped_column(Integer)
    escalate_after_hours: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300))  # what changed, in words
    changed_by: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delegation(Base):
    """While ``approver_id`` is away (from ``starts_on`` to ``ends_on``, inclusive), ``delegate_id`` decides."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_team", "team_id", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    approver_id: Mapped[str] = mapped_column(String(32))
    delegate_id: Mapped[str] = mapped_column(String(32))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """Transactional outbox for telling people: one row per event of a request (submitted, decided…), written in
    the transaction of the change. The Slack layer's delivery worker sends it, one request's events in order.

    ``progress`` remembers each message already sent for the event (key → channel and ts), so a retry after a
    failure half-way sends only what is missing, and a post whose answer was lost is looked up, not repeated.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_request", "request_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("payment_requests.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))  # a NotificationEvent
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
