"""Approval rules edited in Slack: versions kept with who changed what and when, delegations while someone is away,
and the reminder and escalation times.

The approval policy file (``APROVA_POLICY_FILE``) seeds a team until its first edit in Slack; from then on the newest
saved version applies. Every version is validated by the same parser as the file, so the editor can never store
rules the file would refuse. Saving is a compare-and-set on the version the editor started from: two admins editing
at once cannot silently overwrite each other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Row, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.db import Statements
from ledger.errors import PolicyError, StaleDecision
from ledger.models import AuditEvent, Delegation, PolicyVersion, plain_columns, table_of
from ledger.policy import Policy, parse_policy
from ledger.ports import Clock
from ledger.read_models import DelegationView, RuleVersionView

SessionFactory = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules in force for a team: the policy, the reminder times, and which version they come from."""

    policy: Policy
    remind_after_hours: int
    escalate_after_hours: int
    version_id: int | None  # None: still the policy file's
    changed_by: str | None = None
    changed_at: datetime | None = None


async def current_rules(
    session_factory: SessionFactory, *, team_id: str, seed: Policy, remind_after_hours: int, escalate_after_hours: int
) -> Rules:
    """The newest saved version for the team, else the policy file (``seed``) with the settings' times."""
    async with session_factory() as session:
        return await _current_rules(session, team_id, seed, remind_after_hours, escalate_after_hours)


async def rules_and_delegates(
    runner: Statements,
    *,
    team_id: str,
    seed: Policy,
    remind_after_hours: int,
    escalate_after_hours: int,
    on: date,
) -> tuple[Rules, dict[str, str]]:
    """The rules in force and today's delegates (see ``_delegates``), read together: what planning needs."""
    current = await _current_rules(runner, team_id, seed, remind_after_hours, escalate_after_hours)
    return current, _delegates(await _delegations(runner, team_id, on), on)


# Built once: every submission reads both before it is answered.
_VERSIONS = table_of(PolicyVersion)
_NEWEST_VERSION = (
    select(*plain_columns(PolicyVersion))
    .where(_VERSIONS.c.team_id == bindparam("team_id"))
    .order_by(_VERSIONS.c.id.desc())
    .limit(1)
)
_DELEGATIONS = table_of(Delegation)
_DELEGATIONS_FROM = (
    select(*plain_columns(Delegation))
    .where(
        _DELEGATIONS.c.team_id == bindparam("team_id"),
        _DELEGATIONS.c.cancelled_at.is_(None),
        _DELEGATIONS.c.ends_on >= bindparam("on_or_after"),
    )
    .order_by(_DELEGATIONS.c.starts_on, _DELEGATIONS.c.id)
)


async def _current_rules(
    runner: Statements, team_id: str, seed: Policy, remind_after_hours: int, escalate_after_hours: int
) -> Rules:
    version = (await runner.execute(_NEWEST_VERSION, {"team_id": team_id})).first()
    if version is None:
        return Rules(seed, remind_after_hours, escalate_after_hours, None)
    return _rules(version)


def _rules(version: PolicyVersion | Row[*tuple[Any, ...]]) -> Rules:  # the ORM object, or a plain row
    return Rules(
        policy=parse_policy(version.policy),
        remind_after_hours=version.remind_after_hours,
        escalate_after_hours=version.escalate_after_hours,
        version_id=version.id,
        changed_by=version.changed_by,
        changed_at=version.changed_at,
    )


def check_times(remind_after_hours: int, escalate_after_hours: int) -> None:
    """Raises PolicyError unless reminders come first and both are sensible."""
    if not 1 <= remind_after_hours <= 720:
        raise PolicyError("remind_after_hours must be from 1 to 720", field="remind_after_hours")
    if not remind_after_hours < escalate_after_hours <= 2160:
        raise PolicyError(
            "escalate_after_hours must be more than remind_after_hours and at most 2160", field="escalate_after_hours"
        )


@dataclass(frozen=True, slots=True)
class RuleChange:
    """What one save changed, kept as data and put into words for each reader (``bot.blocks.rules``)."""

    kind: Literal["added", "edited", "deleted", "moved", "default", "times"]
    name: str | None = None  # the rule, for added/edited/deleted/moved
    position: int | None = None  # moved: the new position, from 1
    remind: int | None = None  # times: hours
    escalate: int | None = None

    def encode(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(data, ensure_ascii=False)[:300]

    @classmethod
    def decode(cls, summary: str) -> RuleChange | str:
        """A stored summary: the change, or the sentence an older version stored (or the seed's), as it was."""
        try:
            data = json.loads(summary)
            return cls(**data) if isinstance(data, dict) and data.get("kind") else summary
        except (ValueError, TypeError):
            return summary


async def save_rules(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    team_id: str,
    actor_id: str,
    based_on: int | None,
    policy: Policy,
    remind_after_hours: int,
    escalate_after_hours: int,
    change: RuleChange,
) -> Rules:
    """Validate and store a new version, with its audit event in the same transaction.

    Args:
        policy: The new rules; stored as ``policy.dump()`` once ``parse_policy`` accepts that, as for the file.
        based_on: The version id the editor started from (None: the policy file). Someone else's newer save in
            between makes this one fail rather than overwrite it.

    Raises:
        PolicyError: The rules are invalid; the message names the rule and key.
        StaleDecision: Another admin saved first; reopen and edit again.
    """
    raw = policy.dump()
    parse_policy(raw)  # the checks the file gets, with the same messages
    check_times(remind_after_hours, escalate_after_hours)
    async with session_factory.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Saves of one team queue up here, so the check below and the insert act as one step.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"rules:{team_id}"})
        latest = await session.scalar(
            select(PolicyVersion.id).where(PolicyVersion.team_id == team_id).order_by(PolicyVersion.id.desc()).limit(1)
        )
        if latest != based_on:
            raise StaleDecision("the rules changed meanwhile", scope="rules", status="changed")
        version = PolicyVersion(
            team_id=team_id,
            policy=raw,
            remind_after_hours=remind_after_hours,
            escalate_after_hours=escalate_after_hours,
            summary=change.encode(),
            changed_by=actor_id,
            changed_at=clock.now(),
        )
        session.add(version)
        session.add(_team_event(team_id, actor_id, "rules_changed", {"change": asdict(change)}, version.changed_at))
        await session.flush()
        return _rules(version)


async def rules_history(session_factory: SessionFactory, *, team_id: str, limit: int = 30) -> list[RuleVersionView]:
    """Saved versions, newest first."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(PolicyVersion).where(PolicyVersion.team_id == team_id).order_by(PolicyVersion.id.desc()).limit(limit)
        )
        return [RuleVersionView.from_row(version) for version in rows]


async def add_delegation(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    team_id: str,
    actor_id: str,
    approver_id: str,
    delegate_id: str,
    starts_on: date,
    ends_on: date,
) -> DelegationView:
    """Someone is away: their delegate decides for them from ``starts_on`` to ``ends_on`` (inclusive); audited in the
    same transaction.

    Raises:
        PolicyError: The dates are reversed or past, or someone would delegate to themselves.
    """
    if approver_id == delegate_id:
        raise PolicyError("an approver cannot delegate to themselves", field="delegate")
    if ends_on < starts_on:
        raise PolicyError("the delegation ends before it starts", field="ends_on")
    if ends_on < clock.today():
        raise PolicyError("the delegation is over already", field="ends_on")
    async with session_factory.begin() as session:
        delegation = Delegation(
            team_id=team_id,
            approver_id=approver_id,
            delegate_id=delegate_id,
            starts_on=starts_on,
            ends_on=ends_on,
            created_by=actor_id,
            created_at=clock.now(),
        )
        session.add(delegation)
        detail = {
            "approver": approver_id,
            "delegate": delegate_id,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        }
        session.add(_team_event(team_id, actor_id, "delegation_added", detail, delegation.created_at))
        await session.flush()
        return DelegationView.from_row(delegation)


async def cancel_delegation(
    session_factory: SessionFactory, *, clock: Clock, team_id: str, actor_id: str, delegation_id: int
) -> bool:
    """Ends a delegation now, audited; False when it was cancelled already (compare-and-set)."""
    now = clock.now()
    async with session_factory.begin() as session:
        result = await session.execute(
            update(Delegation)
            .where(Delegation.id == delegation_id, Delegation.team_id == team_id, Delegation.cancelled_at.is_(None))
            .values(cancelled_at=now)
            .execution_options(synchronize_session=False)
        )
        cancelled = int(getattr(result, "rowcount", 0) or 0) == 1
        if cancelled:
            session.add(_team_event(team_id, actor_id, "delegation_cancelled", {"id": delegation_id}, now))
        return cancelled


def _team_event(team_id: str, actor_id: str, action: str, detail: dict[str, Any], at: datetime) -> AuditEvent:
    return AuditEvent(team_id=team_id, request_id=None, actor_id=actor_id, action=action, detail=detail, created_at=at)


async def delegations(session_factory: SessionFactory, *, team_id: str, on_or_after: date) -> list[DelegationView]:
    """Delegations not cancelled that have not ended before ``on_or_after``, soonest first."""
    async with session_factory() as session:
        return await _delegations(session, team_id, on_or_after)


async def _delegations(runner: Statements, team_id: str, on_or_after: date) -> list[DelegationView]:
    rows = await runner.execute(_DELEGATIONS_FROM, {"team_id": team_id, "on_or_after": on_or_after})
    return [DelegationView.from_row(delegation) for delegation in rows]


def _delegates(delegations: list[DelegationView], on: date) -> dict[str, str]:
    """Who decides for whom on ``on``: approver id → delegate id (a delegate who is away too passes it on, once)."""
    active = {d.approver_id: d.delegate_id for d in delegations if d.starts_on <= on}
    return {approver: active.get(delegate, delegate) for approver, delegate in active.items()}
