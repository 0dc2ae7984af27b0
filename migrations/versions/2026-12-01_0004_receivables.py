"""receivables (request kind, customer e-mail, installments), possible duplicates, approval rounds, attachments

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="payable"))
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="slack"))
        batch_op.add_column(sa.Column("counterparty_email", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("installments", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("possible_duplicates", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("approval_round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_column("attachments")
        batch_op.drop_column("approval_round")
        batch_op.drop_column("possible_duplicates")
        batch_op.drop_column("installments")
        batch_op.drop_column("counterparty_email")
        batch_op.drop_column("source")
        batch_op.drop_column("kind")
