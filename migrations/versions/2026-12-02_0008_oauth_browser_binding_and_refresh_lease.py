"""oauth states bound to the admin's browser with PKCE; a refresh lease on each connection

An authorization begun before this revision has no code verifier and no browser binding: it can no longer be
completed (the callback requires both), and the admin runs ``/contaazul connect`` again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_states") as batch:
        batch.add_column(sa.Column("code_verifier_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("contaazul_connections") as batch:
        batch.add_column(sa.Column("refresh_lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("refresh_lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contaazul_connections") as batch:
        batch.drop_column("refresh_lease_until")
        batch.drop_column("refresh_lease_owner")
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("browser_hash")
        batch.drop_column("started_at")
        batch.drop_column("code_verifier_enc")
