"""Conta Azul as the posting worker meets it: find-or-create, reconcile, and the check after a create.

:class:`BooksGateway` holds what :mod:`ledger.posting` asks of a team's books around the create call it makes:

- find or create the supplier (or customer) and the cost center, one at a time per team in this process;
- reconcile before a create that may repeat an earlier one: the entry found by protocol, or by our exact reference
  token for the same amount and counterparty, is adopted; one carrying our token but differing stops the posting;
  after a create whose answer never came, "not found" is final only once the settle window has passed;
- after a create, check the counterparty Conta Azul shows on the entry, or find the entry it took without naming it.

It opens no database session: the worker owns the outbox rows, their leases and the request's status.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ledger.contaazul.models import Counterparty, EntryKind, Profile
from ledger.domain import RequestKind
from ledger.errors import GatewayError, PermanentGatewayError, PostingRefused, RetryableGatewayError
from ledger.models import PaymentRequest, Posting
from ledger.ports import Books, Clock
from ledger.terms import ApprovalTerms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Posted:
    """The entry a posting made (or found) in Conta Azul, and, when Conta Azul shows another counterparty on it than
    the one sent, both (finance must fix the entry there)."""

    entry_id: str
    counterparty_sent: str | None = None
    counterparty_shown: Counterparty | None = None


class BooksGateway:
    """The worker's find-or-create and reconcile; each call goes to one team's books (its ``Books`` client)."""

    def __init__(self, *, clock: Clock, settle: timedelta) -> None:
        """``settle``: how long after a create whose answer never came "not found" stays provisional."""
        self._clock = clock
        self._settle = settle
        self._creation_locks: dict[str, asyncio.Lock] = {}

    async def find_or_create(
        self, client: Books, request: PaymentRequest, terms: ApprovalTerms, profile: Profile
    ) -> tuple[str, str | None]:
        """The counterparty's id and the cost center's (None when the terms name none), each created when missing."""
        async with self._creating(request.team_id):
            person_id = await self._counterparty(client, request, terms, profile)
            cost_center_id = await self._cost_center(client, terms.cost_center) if terms.cost_center else None
        return person_id, cost_center_id

    async def reconcile(
        self,
        client: Books,
        posting: Posting,
        request: PaymentRequest,
        terms: ApprovalTerms,
        profile: Profile,
        *,
        first: tuple[date, Decimal],
    ) -> Posted | None:
        """An earlier attempt may have created the entry: find it by protocol, or by our exact reference token.

        Raises:
            PostingRefused: ``reconcile_conflict`` — an entry carries our token but another amount or counterparty.
            RetryableGatewayError: An earlier create's outcome is unknown and it may still land: not yet.
        """
        kind: EntryKind = "receivable" if terms.kind == RequestKind.RECEIVABLE else "payable"
        first_due = first[0]  # the first installment: what Conta Azul lists and matches
        if posting.protocol_id:
            entry_id = await client.resolve_protocol(
                posting.protocol_id, kind=kind, due_date=first_due, reference=request.reference
            )
            person = await client.find_person(terms.vendor_document, terms.vendor_name, profile)
            sent = person.id if person else None
            return await self.verified(client, kind, request.reference, first_due, entry_id, sent=sent)
        if posting.create_sent_at is None:
            return None
        adopted = await self._find_ours(client, request, terms, profile, first=first)
        if adopted is not None:
            return Posted(adopted)
        settles_at = posting.create_sent_at + self._settle
        now = self._clock.now()
        if now < settles_at:
            # A create whose answer never came may still be processed; only after that is "not found" final.
            wait = (settles_at - now).total_seconds()
            raise RetryableGatewayError(
                f"an earlier create's outcome is unknown; looking again in {wait:.0f}s", retry_after=wait
            )
        return None

    async def verified(
        self,
        client: Books,
        kind: EntryKind,
        reference: str,
        first_due: date,
        entry_id: str,
        *,
        sent: str | None,
        reported: Counterparty | None = None,
    ) -> Posted:
        """The posted entry, with the counterparty Conta Azul shows on it when that is not the one ``sent``: what
        the create's answer ``reported``, else what the entry lists once read back."""
        shown = reported or await self._counterparty_listed(client, kind, reference, first_due)
        if shown is None or sent is None or shown.id == sent:
            return Posted(entry_id)
        log.warning("posted %s, but Conta Azul shows counterparty %s instead of %s", reference, shown.id, sent)
        return Posted(entry_id, counterparty_sent=sent, counterparty_shown=shown)

    async def adopt_unidentified(
        self,
        client: Books,
        request: PaymentRequest,
        terms: ApprovalTerms,
        profile: Profile,
        *,
        first: tuple[date, Decimal],
    ) -> Posted:
        """Conta Azul took the create (a 2xx) without naming the entry: it exists, so it is found by our reference
        now, or a person looks; it is never sent again on its own (``create_sent_at`` stays, so Retry looks first).

        Raises:
            PostingRefused: ``unconfirmed`` — not listed (yet); ``reconcile_conflict`` — listed, but different.
        """
        try:
            found = await self._find_ours(client, request, terms, profile, first=first)
        except RetryableGatewayError as exc:
            log.warning("posting %s: could not look for the entry Conta Azul accepted: %s", request.reference, exc)
            found = None
        if found is None:
            raise PostingRefused(
                "unconfirmed",
                f"Conta Azul accepted {request.reference} without naming the entry, and it is not listed: "
                "check Conta Azul before retrying",
                outcome_unknown=True,
            )
        log.info("posting %s: Conta Azul accepted it without its id; found it as %s", request.reference, found)
        return Posted(found)

    async def _find_ours(
        self,
        client: Books,
        request: PaymentRequest,
        terms: ApprovalTerms,
        profile: Profile,
        *,
        first: tuple[date, Decimal],
    ) -> str | None:
        """The id of the entry whose installment ends with our exact reference token, for the same amount and
        counterparty; None when Conta Azul lists none.

        Raises:
            PostingRefused: ``reconcile_conflict`` — an entry carries our token but another amount or counterparty.
        """
        kind: EntryKind = "receivable" if terms.kind == RequestKind.RECEIVABLE else "payable"
        first_due, first_amount = first
        found = await client.find_entries_by_reference(kind, request.reference, *_due_window(first_due))
        if not found:
            return None
        person = await client.find_person(terms.vendor_document, terms.vendor_name, profile)
        same = [
            entry
            for entry in found
            if entry.total == first_amount
            and (entry.person_id is None or person is None or entry.person_id == person.id)
        ]
        if not same:
            raise PostingRefused(
                "reconcile_conflict",
                f"Conta Azul has an entry carrying {request.reference} with another amount or counterparty "
                f"({', '.join(e.id for e in found)}): check it before retrying",
            )
        detail = await client.installment(same[0].id)  # the search lists installments; we keep the entry's id
        log.info("posting %s: adopted entry %s already in Conta Azul", request.reference, detail.event_id)
        return detail.event_id or same[0].id

    async def _counterparty_listed(
        self, client: Books, kind: EntryKind, reference: str, first_due: date
    ) -> Counterparty | None:
        """The counterparty listed on our new entry; None when it cannot be read now (the posting is done: a failed
        check must not undo it)."""
        try:
            listed = await client.find_entries_by_reference(kind, reference, *_due_window(first_due))
        except GatewayError as exc:
            log.warning("posting %s: could not read the entry back to check its counterparty: %s", reference, exc)
            return None
        if not listed:
            log.warning("posting %s: the new entry is not listed yet, its counterparty is unchecked", reference)
            return None
        return Counterparty(listed[0].person_id, listed[0].person_name)

    def _creating(self, team_id: str) -> asyncio.Lock:
        """One find-or-create at a time per team in this process, so parallel attempts never create a vendor or
        cost center twice; across processes, the loser of a create race adopts the winner's (see below)."""
        lock = self._creation_locks.get(team_id)
        if lock is None:
            lock = self._creation_locks[team_id] = asyncio.Lock()
        return lock

    async def _counterparty(
        self, client: Books, request: PaymentRequest, terms: ApprovalTerms, profile: Profile
    ) -> str:
        """The supplier's (or customer's) id: found by CPF/CNPJ, else exact name; created when missing."""
        document, name = terms.vendor_document, terms.vendor_name
        person = await client.find_person(document, name, profile)
        if person is not None:
            return person.id
        try:
            return (await client.create_person(name, document, profile, email=request.counterparty_email)).id
        except ValueError as exc:
            raise PostingRefused("vendor_invalid", str(exc)) from exc
        except PermanentGatewayError:
            # Another instance created it a moment ago and Conta Azul refused a second one: use that one.
            person = await client.find_person(document, name, profile)
            if person is not None:
                return person.id
            # Or it exists with the other profile (a supplier who is also a customer): add ours to it.
            other: Profile = "Fornecedor" if profile == "Cliente" else "Cliente"
            person = await client.find_person(document, name, other)
            if person is None:
                raise
            log.info("%s: %s gets the %s profile in Conta Azul", request.reference, person.id, profile)
            return (await client.add_profile(person, profile)).id

    async def _cost_center(self, client: Books, name: str) -> str:
        """The cost center's id, created when Conta Azul has none with this exact name."""
        center = await client.find_cost_center(name, confirm_miss=True)
        if center is not None:
            return center.id
        try:
            return (await client.create_cost_center(name)).id
        except PermanentGatewayError:
            center = await client.find_cost_center(name, confirm_miss=True)
            if center is None:
                raise
            return center.id


def _due_window(due: date) -> tuple[date, date]:
    """Search the entry's due date; a day either side absorbs time-zone rounding in the ERP."""
    return due - timedelta(days=1), due + timedelta(days=1)
