"""A database full of pending requests, written through the ledger before Aprova starts on it (the Home tab is then
opened by people with all, some or none of them to look at)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from decimal import Decimal

from bench import interactions as people
from bench.rig import POLICY, TIMEZONE
from ledger import db
from ledger.clock import SystemClock
from ledger.domain import PaymentMethod, PlannedStep, RequestDraft
from ledger.policy import parse_policy
from ledger.use_cases import Ledger

CATEGORIES = ["Matéria-Prima", "Material de Escritório", "Energia Elétrica", "Fretes e Carretos"]
COST_CENTERS = ["Produção", "Comercial", "Administrativo"]


async def seed_pending(database_url: str, count: int) -> None:
    """``count`` pending requests filed by the requester, each waiting for the approver (schema already migrated)."""
    engine = db.create_engine(database_url)
    clock = SystemClock(TIMEZONE)
    ledger = Ledger(
        session_factory=db.create_session_factory(engine),
        clock=clock,
        policy=parse_policy(tomllib.loads(POLICY)),
        remind_after_hours=24,
        escalate_after_hours=72,
    )
    steps = [PlannedStep(name="Financeiro", approvers=(people.APPROVER,))]
    try:
        for number in range(count):
            draft = RequestDraft(
                description=f"Pedido pendente {number + 1}",
                vendor_name=people.VENDOR,
                amount=Decimal(100 + number % 5000) + Decimal(number % 100) / 100,
                competence_date=clock.today(),
                due_date=clock.today() + timedelta(days=5 + number % 60),
                category=CATEGORIES[number % len(CATEGORIES)],
                cost_center=COST_CENTERS[number % len(COST_CENTERS)],
                payment_method=PaymentMethod.PIX,
            )
            await ledger.submit(
                people.TEAM_ID,
                requester_id=people.REQUESTER,
                submission_key=f"seed-{number}",
                draft=draft,
                steps=steps,
                possible_duplicates=[],
            )
    finally:
        await engine.dispose()
