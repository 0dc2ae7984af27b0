"""What the ledger needs from the outside world, as structural types.

Adapters live elsewhere (``bot/`` for Slack, ``ledger/contaazul/`` for the books); tests use real peers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from ledger.contaazul.models import (
    Category,
    CategoryKind,
    ConnectedCompany,
    CostCenter,
    CreatedEntry,
    EntryDraft,
    EntryKind,
    EntrySummary,
    FinancialAccount,
    InstallmentDetail,
    Person,
    Profile,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def today(self) -> date:
        """Today's business date (São Paulo)."""
        ...


class Directory(Protocol):
    """Resolves the people behind a user group (a Slack user group in production)."""

    async def group_members(self, group_id: str) -> list[str]:
        """User ids in the group, in a stable order; empty when the group is empty or unknown."""
        ...


class Books(Protocol):
    """One company's books, as Aprova reads and posts them (``ledger.contaazul.client.ContaAzulClient`` is the one
    implementation). Every method raises ``RetryableGatewayError`` for a transient failure and
    ``PermanentGatewayError`` (or a subclass) when the books refuse; nothing else escapes."""

    # --- the company and its lists (cached by the implementation where it is safe)
    async def connected_company(self) -> ConnectedCompany: ...

    async def financial_accounts(self, active_only: bool = True) -> list[FinancialAccount]: ...

    async def categories(self, kind: CategoryKind) -> list[Category]: ...

    async def find_category(self, name: str, kind: CategoryKind, *, confirm_miss: bool = False) -> Category | None: ...

    async def cost_centers(self) -> list[CostCenter]: ...

    async def find_cost_center(self, name: str, *, confirm_miss: bool = False) -> CostCenter | None: ...

    async def create_cost_center(self, name: str, code: str | None = None) -> CostCenter: ...

    # --- suppliers and customers
    async def find_person(
        self, document: str | None = None, name: str | None = None, profile: Profile = "Fornecedor"
    ) -> Person | None: ...

    async def search_people(self, text: str, profile: Profile = "Fornecedor", limit: int = 50) -> list[Person]: ...

    async def create_person(
        self, name: str, document: str | None = None, profile: Profile = "Fornecedor", email: str | None = None
    ) -> Person: ...

    async def add_profile(self, person: Person, profile: Profile) -> Person: ...

    # --- posting, and finding what was posted
    async def create_payable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry: ...

    async def create_receivable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry: ...

    async def resolve_protocol(
        self,
        protocol_id: str,
        *,
        kind: EntryKind,
        due_date: date,
        reference: str | None = None,
        timeout: timedelta | None = None,
    ) -> str: ...

    async def installment(self, installment_id: str) -> InstallmentDetail: ...

    async def search_entries(
        self, kind: EntryKind, due_from: date, due_to: date, description: str | None = None
    ) -> list[EntrySummary]: ...

    async def find_entries_by_reference(
        self, kind: EntryKind, reference: str, due_from: date, due_to: date
    ) -> list[EntrySummary]: ...
