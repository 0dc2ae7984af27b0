"""Long-lived dependencies, handed to every listener through the Bolt context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.i18n import Locale
from bot.people import People
from bot.settings import Settings
from ledger.contaazul.connector import ContaAzul
from ledger.domain import PlannedStep, RequestDraft
from ledger.flows import FinalApprovalHook
from ledger.policy import Policy
from ledger.ports import Clock, Directory
from ledger.receivables import ReceivableRules
from ledger.rules import Rules, active_delegates, current_rules


@dataclass
class Deps:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    policy: Policy
    people: People
    # None when Conta Azul is not configured (no client id/secret): requests are typed, never posted.
    contaazul: ContaAzul | None = None
    # Where a final approval hands the request on (the posting outbox); None keeps it at "approved".
    on_final_approval: FinalApprovalHook | None = None
    # Nudges the posting worker so a final approval is posted at once rather than at its next poll.
    wake_poster: Callable[[], None] = field(default=lambda: None)
    # How won deals become receivables (APROVA_RECEIVABLES_FILE); None turns the deal webhooks off.
    receivables: ReceivableRules | None = None
    team_id: str | None = None  # the workspace this Aprova serves, once Slack has said it (auth.test)

    async def rules_for(self, team_id: str) -> Rules:
        """The team's approval rules in force: edited in Slack, else the policy file and the settings' times."""
        return await current_rules(
            self.session_factory,
            team_id=team_id,
            seed=self.policy,
            remind_after_hours=self.settings.remind_after_hours,
            escalate_after_hours=self.settings.escalate_after_hours,
        )

    async def plan(
        self, team_id: str, *, draft: RequestDraft, requester_id: str, directory: Directory
    ) -> list[PlannedStep]:
        """The approval steps for a draft under the team's rules, with today's delegations applied."""
        rules = await self.rules_for(team_id)
        delegates = await active_delegates(self.session_factory, team_id=team_id, on=self.clock.today())
        return await rules.policy.plan(
            amount=draft.amount,
            category=draft.category,
            cost_center=draft.cost_center,
            requester_id=requester_id,
            directory=directory,
            delegates=delegates,
        )

    @property
    def default_locale(self) -> Locale:
        return "en" if self.settings.default_locale == "en" else "pt_BR"
