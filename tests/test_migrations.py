"""Migrations go up and down cleanly, one revision at a time, and leave exactly the schema the models describe.

``ledger.db.upgrade/downgrade`` block and run their own event loop (Alembic's env.py calls ``asyncio.run``),
so these tests are plain synchronous ones.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from ledger import db
from ledger.models import Base
from ledger.terms import ApprovalTerms
from tests.conftest import run_sync


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    fresh: str = request.getfixturevalue("fresh_postgres_url")
    return fresh


def with_connection(url: str, work: Any) -> Any:
    """Run ``work(sync_connection)``: stdlib sqlite3 for SQLite, the async engine for PostgreSQL (no sync driver)."""
    if url.startswith("sqlite"):
        engine = create_sync_engine(url)
        try:
            with engine.connect() as connection:
                return work(connection)
        finally:
            engine.dispose()

    async def run() -> Any:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return run_sync(run())


def current_revision(url: str) -> str | None:
    revision: str | None = with_connection(url, lambda c: MigrationContext.configure(c).get_current_revision())
    return revision


def tables(url: str) -> set[str]:
    names: set[str] = with_connection(url, lambda c: set(inspect(c).get_table_names()))
    return names - {"alembic_version"}


def schema_drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    differences: list[Any] = compare_metadata(context, Base.metadata)
    return differences


def revisions_in_order() -> list[str]:
    """Every revision from the first to the head, however many there are."""
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def test_migrations_form_a_single_line():
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, f"several heads, merge them: {script.get_heads()}"
    assert len(script.get_bases()) == 1, f"several bases: {script.get_bases()}"


def test_upgrade_downgrade_upgrade(url: str):
    db.upgrade(url)
    assert current_revision(url) == revisions_in_order()[-1]
    assert tables(url) == set(Base.metadata.tables)
    db.downgrade(url)
    assert current_revision(url) is None
    assert tables(url) == set()
    db.upgrade(url)
    assert tables(url) == set(Base.metadata.tables)
    db.upgrade(url)  # already at head: nothing to do
    assert current_revision(url) == revisions_in_order()[-1]


def test_each_revision_goes_up_and_back_down(url: str):
    revisions = revisions_in_order()
    seen: list[set[str]] = [set()]
    for revision in revisions:
        db.upgrade(url, revision)
        assert current_revision(url) == revision
        seen.append(tables(url))
    for revision, before in zip(reversed(revisions), reversed(seen[:-1]), strict=True):
        db.downgrade(url, "-1")
        assert tables(url) == before, f"downgrading {revision} did not restore the previous tables"
    assert current_revision(url) is None


def test_migrated_schema_matches_the_models(url: str):
    db.upgrade(url)
    assert with_connection(url, schema_drift) == []


def test_requests_in_flight_get_their_fingerprint_and_approved_steps_record_it(url: str):
    """0006: approvals given before fingerprints existed were given on the values stored, so they record those."""
    db.upgrade(url, "0005")

    def seed(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO payment_requests (id, reference, team_id, requester_id, submission_key, kind, source,"
                " description, vendor_name, vendor_document, amount_cents, competence_date, due_date, category,"
                " cost_center, payment_method, payment_code, invoice_number, installments, approval_round, status,"
                " version, created_at, updated_at) VALUES (1, 'PAG-2026-000001', 'T1', 'U1', 'k', 'payable', 'slack',"
                " 'Farinha', 'Moinho', '11222333000181', 123456, '2026-11-01', '2026-12-10', 'Matéria-Prima',"
                " NULL, 'pix', 'a@b.com.br', NULL, 1, 1, 'approved', 3, '2026-11-25 12:00:00', '2026-11-25 12:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO approval_steps (request_id, position, name, approvers, status, decided_by)"
                " VALUES (1, 0, 'Financeiro', '[\"U2\"]', 'approved', 'U2')"
            )
        )
        connection.commit()

    with_connection(url, seed)
    db.upgrade(url)
    expected = ApprovalTerms(
        kind="payable",
        vendor_name="Moinho",
        vendor_document="11222333000181",
        amount=Decimal("1234.56"),
        competence_date=date(2026, 11, 1),
        due_date=date(2026, 12, 10),
        category="Matéria-Prima",
        cost_center=None,
        payment_method="pix",
        payment_code="a@b.com.br",
        invoice_number=None,
        installments=1,
        financial_account_id=None,
    ).digest()

    def read(connection: Connection) -> tuple[Any, Any]:
        request = connection.execute(text("SELECT terms_digest FROM payment_requests")).scalar_one()
        step = connection.execute(text("SELECT approved_digest FROM approval_steps")).scalar_one()
        return request, step

    assert with_connection(url, read) == (expected, expected)
