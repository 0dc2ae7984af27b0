"""approval fingerprint: the financial account fixed per request, the digest each step approved, longer codes

Requests still in flight get their fingerprint computed from what they hold now, and steps already approved
record it: those approvals were given on these very values, and without it their posting would be refused.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from ledger.terms import MATERIAL_FIELDS, digest_of

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = ("pending", "approved", "posting", "post_failed", "rejected")

requests = sa.table(
    "payment_requests",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("kind", sa.String),
    sa.column("vendor_name", sa.String),
    sa.column("vendor_document", sa.String),
    sa.column("amount_cents", sa.BigInteger),
    sa.column("competence_date", sa.Date),
    sa.column("due_date", sa.Date),
    sa.column("category", sa.String),
    sa.column("cost_center", sa.String),
    sa.column("payment_method", sa.String),
    sa.column("payment_code", sa.String),
    sa.column("invoice_number", sa.String),
    sa.column("installments", sa.Integer),
    sa.column("financial_account_id", sa.String),
    sa.column("terms_digest", sa.String),
)
steps = sa.table(
    "approval_steps",
    sa.column("request_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("approved_digest", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("financial_account_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("financial_account_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("terms_digest", sa.String(length=64), nullable=True))
        batch_op.alter_column(
            "payment_code", existing_type=sa.String(length=120), type_=sa.String(length=512), existing_nullable=True
        )
    with op.batch_alter_table("approval_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_digest", sa.String(length=64), nullable=True))

    connection = op.get_bind()
    rows = connection.execute(sa.select(requests).where(requests.c.status.in_(IN_FLIGHT))).mappings().all()
    for row in rows:
        values = {name: row[name] for name in MATERIAL_FIELDS if name != "amount"}
        values["amount"] = Decimal(row["amount_cents"]) / 100
        digest = digest_of(values)
        connection.execute(sa.update(requests).where(requests.c.id == row["id"]).values(terms_digest=digest))
        connection.execute(
            sa.update(steps)
            .where(steps.c.request_id == row["id"], steps.c.status == "approved")
            .values(approved_digest=digest)
        )


def downgrade() -> None:
    with op.batch_alter_table("approval_steps", schema=None) as batch_op:
        batch_op.drop_column("approved_digest")
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.alter_column(
            "payment_code", existing_type=sa.String(length=512), type_=sa.String(length=120), existing_nullable=True
        )
        batch_op.drop_column("terms_digest")
        batch_op.drop_column("financial_account_name")
        batch_op.drop_column("financial_account_id")
