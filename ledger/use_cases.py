"""The ledger's use cases in one place: what a person or a webhook can do, each one transaction with its audit event.

``Ledger`` binds the database, the clock, the policy file and the posting hook once, so a caller (a Slack listener,
a webhook, a job) names only what the person asked for. The functions behind it stay in their modules
(``flows``, ``outbox``, ``receivables``, ``rules``, ``duplicates``) for the tests that exercise them one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger import flows, outbox, queries, receivables, rules
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.revocation import Revocation
from ledger.db import Statements, reading_statements
from ledger.domain import PlannedStep, RequestDraft, RequestStatus
from ledger.duplicates import PossibleDuplicate, encode_duplicates, in_books
from ledger.editing import Edited, edit_request
from ledger.flows import Decided, FinalApprovalHook, Submitted
from ledger.notifications import Lease
from ledger.policy import Policy
from ledger.ports import Clock, Directory
from ledger.queries import MonthTotals
from ledger.read_models import AuditEntry, DelegationView, PostingView, RequestView, RuleVersionView
from ledger.receivables import ReceivableDraft
from ledger.rules import RuleChange, Rules, current_rules


@dataclass(frozen=True, slots=True)
class Screened:
    """A new request before it is stored: its look-alikes to ask the requester about, else its approval steps."""

    duplicates: list[PossibleDuplicate]
    steps: list[PlannedStep]


@dataclass
class Ledger:
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    policy: Policy  # the policy file: a team's rules until its first edit in Slack
    remind_after_hours: int
    escalate_after_hours: int
    books: ContaAzul | None = None  # None when Conta Azul is not configured: requests are typed, never posted
    # Where a final approval hands the request on (the posting outbox); None keeps it at "approved".
    on_final_approval: FinalApprovalHook | None = None

    # --- approval rules

    async def rules(self, team_id: str) -> Rules:
        """The team's approval rules in force: edited in Slack, else the policy file and the configured times."""
        return await current_rules(
            self.session_factory,
            team_id=team_id,
            seed=self.policy,
            remind_after_hours=self.remind_after_hours,
            escalate_after_hours=self.escalate_after_hours,
        )

    async def plan(
        self, team_id: str, *, draft: RequestDraft, requester_id: str, directory: Directory
    ) -> list[PlannedStep]:
        """The approval steps for a draft under the team's rules, with today's delegations applied.

        Raises:
            NoApprover: A step is left with nobody who may approve it.
        """
        async with reading_statements(self.session_factory) as connection:
            in_force, delegates = await self._rules_in_force(connection, team_id)
        return await self._steps(in_force, delegates, draft=draft, requester_id=requester_id, directory=directory)

    async def _rules_in_force(self, runner: Statements, team_id: str) -> tuple[Rules, dict[str, str]]:
        return await rules.rules_and_delegates(
            runner,
            team_id=team_id,
            seed=self.policy,
            remind_after_hours=self.remind_after_hours,
            escalate_after_hours=self.escalate_after_hours,
            on=self.clock.today(),
        )

    @staticmethod
    async def _steps(
        in_force: Rules, delegates: dict[str, str], *, draft: RequestDraft, requester_id: str, directory: Directory
    ) -> list[PlannedStep]:
        return await in_force.policy.plan(
            amount=draft.amount,
            category=draft.category,
            cost_center=draft.cost_center,
            requester_id=requester_id,
            directory=directory,
            delegates=delegates,
        )

    async def save_rules(
        self,
        team_id: str,
        *,
        actor_id: str,
        based_on: int | None,
        policy: Policy,
        times: tuple[int, int] | None = None,
        change: RuleChange,
    ) -> Rules:
        """A new version of the team's rules (``times``: reminder and escalation hours, else the current ones).

        Raises:
            PolicyError: The rules are invalid.
            StaleDecision: Someone saved since ``based_on``.
        """
        if times is None:
            current = await self.rules(team_id)
            times = (current.remind_after_hours, current.escalate_after_hours)
        return await rules.save_rules(
            self.session_factory,
            clock=self.clock,
            team_id=team_id,
            actor_id=actor_id,
            based_on=based_on,
            policy=policy,
            remind_after_hours=times[0],
            escalate_after_hours=times[1],
            change=change,
        )

    async def add_delegation(
        self, team_id: str, *, actor_id: str, approver_id: str, delegate_id: str, starts_on: date, ends_on: date
    ) -> None:
        await rules.add_delegation(
            self.session_factory,
            clock=self.clock,
            team_id=team_id,
            actor_id=actor_id,
            approver_id=approver_id,
            delegate_id=delegate_id,
            starts_on=starts_on,
            ends_on=ends_on,
        )

    async def cancel_delegation(self, team_id: str, *, actor_id: str, delegation_id: int) -> bool:
        return await rules.cancel_delegation(
            self.session_factory, clock=self.clock, team_id=team_id, actor_id=actor_id, delegation_id=delegation_id
        )

    # --- payment requests

    async def screen(
        self, team_id: str, *, draft: RequestDraft, requester_id: str, directory: Directory, look_for_duplicates: bool
    ) -> Screened:
        """What decides the answer to a new request before it is stored: the live requests in Aprova and the open
        payables in the books that look like it (``duplicates``; not looked for again once the requester confirmed
        them), else its approval steps. The rules and the look-alikes are read together, in one read.

        Raises:
            NoApprover: A step is left with nobody who may approve it.
        """
        async with reading_statements(self.session_factory) as connection:
            references = (
                await queries.look_alikes(connection, team_id=team_id, draft=draft, today=self.clock.today())
                if look_for_duplicates
                else []
            )
            in_force, delegates = await self._rules_in_force(connection, team_id)
        duplicates = [PossibleDuplicate(reference=r) for r in references]
        if look_for_duplicates:
            duplicates += await in_books(self.books, team_id=team_id, draft=draft)
        if duplicates:
            return Screened(duplicates=duplicates, steps=[])  # the requester is asked first
        steps = await self._steps(in_force, delegates, draft=draft, requester_id=requester_id, directory=directory)
        return Screened(duplicates=[], steps=steps)

    async def submit(
        self,
        team_id: str,
        *,
        requester_id: str,
        submission_key: str,
        draft: RequestDraft,
        steps: list[PlannedStep],
        possible_duplicates: list[PossibleDuplicate],
        lease: Lease | None = None,
    ) -> Submitted:
        """Store the request; with a ``lease``, its event is stored taken by that worker and returned to hand it."""
        return await flows.submit_request(
            self.session_factory,
            clock=self.clock,
            team_id=team_id,
            requester_id=requester_id,
            submission_key=submission_key,
            draft=draft,
            steps=steps,
            possible_duplicates=encode_duplicates(possible_duplicates),
            lease=lease,
        )

    async def submit_receivable(
        self, team_id: str, *, requester_id: str, planned: ReceivableDraft, steps: list[PlannedStep]
    ) -> Submitted:
        return await receivables.record_receivable(
            self.session_factory,
            clock=self.clock,
            team_id=team_id,
            requester_id=requester_id,
            planned=planned,
            steps=steps,
            on_final_approval=self.on_final_approval,
        )

    async def request(self, request_id: int) -> RequestView:
        """Raises RequestNotFound."""
        return await flows.get_request(self.session_factory, request_id=request_id)

    async def requests(self, request_ids: Sequence[int]) -> dict[int, RequestView]:
        """Those of these requests that still exist, by id."""
        return await flows.get_requests(self.session_factory, request_ids=request_ids)

    async def check_can_decide(
        self, request_id: int, *, step: int, actor_id: str, approval_round: int | None, seen_digest: str | None
    ) -> RequestView:
        return await flows.check_can_decide(
            self.session_factory,
            request_id=request_id,
            step_position=step,
            actor_id=actor_id,
            approval_round=approval_round,
            seen_digest=seen_digest,
        )

    async def decide(
        self,
        request_id: int,
        *,
        step: int,
        actor_id: str,
        approve: bool,
        approval_round: int | None,
        seen_digest: str | None,
        reason: str | None = None,
        lease: Lease | None = None,
    ) -> Decided:
        """With a ``lease``, the event telling of it is stored taken by that worker, and returned to hand it over,
        when nothing of the request is left to send before it."""
        return await flows.decide(
            self.session_factory,
            clock=self.clock,
            request_id=request_id,
            step_position=step,
            actor_id=actor_id,
            approve=approve,
            reason=reason,
            on_final_approval=self.on_final_approval,
            approval_round=approval_round,
            seen_digest=seen_digest,
            lease=lease,
        )

    async def cancel(self, request_id: int, *, actor_id: str) -> RequestView:
        return await flows.cancel(self.session_factory, clock=self.clock, request_id=request_id, actor_id=actor_id)

    async def edit(
        self, request_id: int, *, actor_id: str, expected_version: int, draft: RequestDraft, steps: list[PlannedStep]
    ) -> Edited:
        return await edit_request(
            self.session_factory,
            clock=self.clock,
            request_id=request_id,
            actor_id=actor_id,
            expected_version=expected_version,
            draft=draft,
            steps=steps,
        )

    async def history(self, request_id: int) -> list[AuditEntry]:
        return await flows.audit_trail(self.session_factory, request_id=request_id)

    # --- posting

    async def retry_posting(self, request_id: int, *, actor_id: str) -> RequestView:
        return await outbox.retry_posting(
            self.session_factory, clock=self.clock, request_id=request_id, actor_id=actor_id
        )

    async def posting(self, request_id: int) -> PostingView | None:
        return await outbox.posting_for(self.session_factory, request_id=request_id)

    # --- the Conta Azul connection (the OAuth dance is on ``books``: begin_connection, open_in_browser, complete)

    async def disconnect(self, team_id: str, *, actor_id: str) -> Revocation:
        """Revoke Aprova's authorization at Conta Azul, then delete the tokens (even when the revocation failed)."""
        assert self.books is not None, "disconnect is only offered when Conta Azul is configured"
        revocation = await self.books.disconnect(team_id)
        await self.audit(
            team_id,
            actor_id=actor_id,
            action="contaazul_disconnected",
            revocation=revocation.outcome,
            **({"revocation_error": revocation.error} if revocation.error else {}),
        )
        return revocation

    async def set_default_account(self, team_id: str, *, actor_id: str, account_id: str, account_name: str) -> None:
        assert self.books is not None, "the account picker is only offered when Conta Azul is configured"
        await self.books.set_default_account(team_id=team_id, account_id=account_id, account_name=account_name)
        await self.audit(
            team_id, actor_id=actor_id, action="contaazul_account_set", account_id=account_id, account_name=account_name
        )

    # --- what people look at

    async def requests_of(self, team_id: str, requester_id: str, *, limit: int = 10) -> list[RequestView]:
        """A person's latest requests, newest first."""
        return await queries.recent_requests(
            self.session_factory, team_id=team_id, requester_id=requester_id, limit=limit
        )

    async def waiting_for(self, team_id: str, approver_id: str, *, limit: int = 200) -> list[RequestView]:
        """Pending requests whose open step ``approver_id`` may decide, oldest first."""
        return await queries.waiting_for(self.session_factory, team_id=team_id, approver_id=approver_id, limit=limit)

    async def failed_postings(self, team_id: str) -> list[tuple[RequestView, PostingView]]:
        """Requests whose posting failed, with the posting that says why, oldest first."""
        failed = await queries.requests_with_status(
            self.session_factory, team_id=team_id, status=RequestStatus.POST_FAILED
        )
        postings = await outbox.postings_for(self.session_factory, request_ids=[r.id for r in failed])
        return [(request, postings[request.id]) for request in failed if request.id in postings]

    async def month_totals(self, team_id: str, first_day: date) -> MonthTotals:
        return await queries.month_totals(self.session_factory, team_id=team_id, first_day=first_day)

    async def delegations(self, team_id: str) -> list[DelegationView]:
        """Absences in force or to come."""
        return await rules.delegations(self.session_factory, team_id=team_id, on_or_after=self.clock.today())

    async def rules_history(self, team_id: str) -> list[RuleVersionView]:
        return await rules.rules_history(self.session_factory, team_id=team_id)

    # --- the month's close

    async def month(self, team_id: str, first_day: date) -> tuple[list[RequestView], dict[int, list[AuditEntry]]]:
        """The month's requests and each one's audit trail, for the export."""
        requests = await queries.requests_of_month(self.session_factory, team_id=team_id, first_day=first_day)
        return requests, await queries.audit_trails(self.session_factory, request_ids=[r.id for r in requests])

    async def audit(self, team_id: str, *, actor_id: str | None, action: str, **detail: Any) -> None:
        """Record what happened outside a request (an export, a change of connection or account)."""
        await flows.audit(
            self.session_factory, clock=self.clock, team_id=team_id, actor_id=actor_id, action=action, **detail
        )
