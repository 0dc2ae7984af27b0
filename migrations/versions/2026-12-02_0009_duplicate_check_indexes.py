"""indexes for the duplicate check: by vendor document, amount and due date; by NF number

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_payment_requests_look_alike",
        "payment_requests",
        ["team_id", "vendor_document", "amount_cents", "due_date"],
    )
    op.create_index("ix_payment_requests_invoice", "payment_requests", ["team_id", "invoice_number"])


def downgrade() -> None:
    op.drop_index("ix_payment_requests_invoice", table_name="payment_requests")
    op.drop_index("ix_payment_requests_look_alike", table_name="payment_requests")
