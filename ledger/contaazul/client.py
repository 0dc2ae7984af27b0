"""Conta Azul API v2 client: lookups and entry creation with token refresh, rate limiting and a per-team cache.

The request/response mapping is kept in pure functions in :mod:`ledger.contaazul.wire` (``payable_body_sync``,
``parse_protocol``, ``parse_page`` …) so it can be tested without I/O; tokens, retries and errors are the
:class:`~ledger.contaazul.transport.Transport` underneath; :class:`ContaAzulClient` adds the endpoints. Values live
in :mod:`ledger.contaazul.models`, throttling and caching in :mod:`ledger.contaazul.limits`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from ledger.contaazul.models import (
    ASYNC_PATHS,
    INSTALLMENT_PATH,
    PROTOCOL_PATH,
    SEARCH_PATHS,
    SYNC_PATHS,
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
    ProtocolStatus,
    QueryParams,
    Route,
)
from ledger.contaazul.transport import Transport
from ledger.contaazul.wire import (
    PROFILE_NAMES,
    carries_reference,
    format_document,
    parse_account,
    parse_category,
    parse_company,
    parse_cost_center,
    parse_created,
    parse_entry_summary,
    parse_installment_detail,
    parse_person,
    parse_protocol,
    payable_body_async,
    payable_body_sync,
    person_body,
    profile_key,
    receivable_body_async,
    receivable_body_sync,
)
from ledger.errors import PermanentGatewayError, ProtocolPending, RetryableGatewayError
from ledger.names import document_digits, name_key

logger = logging.getLogger(__name__)


class ContaAzulClient(Transport):
    """Typed access to one team's Conta Azul account: lookups, find-or-create, entries and their protocols."""

    # ------------------------------------------------------------------ lookups

    async def connected_company(self) -> ConnectedCompany:
        """The company this connection posts to.

        Returns:
            The connected company (razão social, CNPJ, id).

        Raises:
            PermanentGatewayError: The API refused (4xx other than a recoverable 401/429).
            RetryableGatewayError: 429 beyond retries, 5xx, timeout or dropped connection.
        """
        data = await self._get("/v1/pessoas/conta-conectada")
        if not isinstance(data, dict):
            raise PermanentGatewayError("unexpected conta-conectada response", body=data)
        return parse_company(data)

    async def financial_accounts(self, active_only: bool = True) -> list[FinancialAccount]:
        """Financial accounts (cached).

        Args:
            active_only: Leave out inactive accounts.

        Returns:
            The accounts, in API order.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        key = ("accounts", str(active_only))
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        params: dict[str, str | int | bool] = {"apenas_ativo": True} if active_only else {}
        accounts = [parse_account(item) for item in await self._pages("/v1/conta-financeira", params)]
        if active_only:
            accounts = [a for a in accounts if a.active]
        self._remember(key, tuple(accounts))
        return accounts

    async def categories(self, kind: CategoryKind) -> list[Category]:
        """Every category of one kind (cached), all pages.

        Args:
            kind: ``"DESPESA"`` for payables, ``"RECEITA"`` for receivables.

        Returns:
            The categories of that kind.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        key = ("categories", kind)
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        # The spec marks permite_apenas_filhos as required while real clients omit it; sending false is harmless.
        params = {"tipo": kind, "permite_apenas_filhos": False}
        categories = [parse_category(item) for item in await self._pages("/v1/categorias", params)]
        # Filter locally too, in case the tipo filter is ignored.
        categories = [c for c in categories if c.kind is None or c.kind.upper() == kind]
        self._remember(key, tuple(categories))
        return categories

    async def find_category(self, name: str, kind: CategoryKind, *, confirm_miss: bool = False) -> Category | None:
        """The category whose name matches exactly, ignoring case, accents and extra spaces.

        Args:
            name: Category name as the user typed or picked it.
            kind: ``"DESPESA"`` or ``"RECEITA"``.
            confirm_miss: On a miss, look again past the cache (posting must not fail on a list older than a
                category just created or renamed in Conta Azul).

        Returns:
            The category, or None when there is none with that name (categories cannot be created via the API).

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        wanted = name_key(name)
        from_cache = self._cached(("categories", kind)) is not None
        found = next((c for c in await self.categories(kind) if name_key(c.name) == wanted), None)
        if found is None and confirm_miss and from_cache:
            self._cache.forget(("categories", kind))
            found = next((c for c in await self.categories(kind) if name_key(c.name) == wanted), None)
        return found

    async def cost_centers(self) -> list[CostCenter]:
        """Every cost center, active first (cached).

        Returns:
            The cost centers.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        key = ("cost_centers",)
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        items = await self._pages("/v1/centro-de-custo", {"filtro_rapido": "TODOS"})
        centers = sorted((parse_cost_center(item) for item in items), key=lambda c: not c.active)
        self._remember(key, tuple(centers))
        return centers

    async def find_cost_center(self, name: str, *, confirm_miss: bool = False) -> CostCenter | None:
        """The cost center with this exact name (case/accents/spaces ignored), preferring an active one.

        Args:
            name: Cost center name.
            confirm_miss: On a miss, look again past the cache (before creating one that may exist already).

        Returns:
            The cost center or None.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        wanted = name_key(name)
        from_cache = self._cached(("cost_centers",)) is not None
        found = next((c for c in await self.cost_centers() if name_key(c.name) == wanted), None)
        if found is None and confirm_miss and from_cache:
            self._cache.forget(("cost_centers",))
            found = next((c for c in await self.cost_centers() if name_key(c.name) == wanted), None)
        return found

    async def create_cost_center(self, name: str, code: str | None = None) -> CostCenter:
        """Create a cost center (any 2xx is success) and forget cached cost centers.

        Args:
            name: Name of the new cost center.
            code: Optional ``codigo``.

        Returns:
            The created cost center.

        Raises:
            PermanentGatewayError: The API refused (e.g. a duplicate name).
            RetryableGatewayError: Transient failure; the outcome may be unknown, so look it up before retrying.
        """
        try:
            response = await self._request("POST", "/v1/centro-de-custo", body={"nome": name, "codigo": code})
        finally:
            self._cache.invalidate("cost_centers")
        if isinstance(response.data, dict) and response.data.get("id"):
            return parse_cost_center(response.data)
        found = await self.find_cost_center(name)
        if found is None:
            raise RetryableGatewayError(f"cost center {name!r} was accepted but is not listed yet")
        return found

    async def find_person(
        self, document: str | None = None, name: str | None = None, profile: Profile = "Fornecedor"
    ) -> Person | None:
        """Find a supplier or customer by CPF/CNPJ first, then by exact name.

        Args:
            document: CPF or CNPJ, formatted or not.
            name: Exact name (case, accents and spaces ignored).
            profile: ``"Fornecedor"`` or ``"Cliente"``.

        Returns:
            The person, or None when neither matches.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        if document and document_digits(document):
            found = await self._person_by_document(document_digits(document), profile)
            if found is not None:
                return found
        if name and name.strip():
            return await self._person_by_name(name, profile)
        return None

    async def _person_by_document(self, doc: str, profile: Profile) -> Person | None:
        key = ("people", "document", profile, doc)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        # The filter's format is undocumented (digits vs. formatted): try both, and always compare locally.
        for variant in dict.fromkeys((doc, format_document(doc))):
            people = await self._people({"documentos": variant, "tipo_perfil": profile})
            matches = [p for p in people if p.document and document_digits(p.document) == doc]
            if matches:
                person = _prefer_profile(matches, profile)
                self._remember(key, person)
                return person
        return None

    async def _person_by_name(self, name: str, profile: Profile) -> Person | None:
        wanted = name_key(name)
        key = ("people", "name", profile, wanted)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        people = await self._people({"busca": " ".join(name.split()), "tipo_perfil": profile})
        matches = [p for p in people if name_key(p.name) == wanted]
        if not matches:
            return None
        person = _prefer_profile(matches, profile)
        self._remember(key, person)
        return person

    async def search_people(self, text: str, profile: Profile = "Fornecedor", limit: int = 50) -> list[Person]:
        """People of one profile whose name or document contains ``text`` (type-ahead; cached).

        Args:
            text: What the person typed; empty lists the first ``limit``.
            profile: ``Fornecedor`` or ``Cliente``.
            limit: At most this many, in the API's order.

        Returns:
            Matching people.
        """
        typed = " ".join(text.split())
        key = ("people", "search", profile, name_key(typed))
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        params: dict[str, str | int] = {"tipo_perfil": profile}
        if typed:
            params["busca"] = typed
        people = [parse_person(item) for item in await self._pages("/v1/pessoas", params, max_pages=1)][:limit]
        self._remember(key, people)
        return people

    async def _people(self, params: QueryParams) -> list[Person]:
        return [parse_person(item) for item in await self._pages("/v1/pessoas", params, max_pages=20)]

    async def create_person(
        self, name: str, document: str | None = None, profile: Profile = "Fornecedor", email: str | None = None
    ) -> Person:
        """Create a person with one profile and forget cached people lookups.

        Args:
            name: Name (razão social or full name), up to 200 characters.
            document: CPF (→ Física) or CNPJ (→ Jurídica), formatted or not.
            profile: ``"Fornecedor"`` or ``"Cliente"``.
            email: Optional e-mail.

        Returns:
            The created person.

        Raises:
            ValueError: The document is neither a CPF nor a CNPJ.
            PermanentGatewayError: The API refused (e.g. an invalid or duplicate document).
            RetryableGatewayError: Transient failure; look the person up before retrying.
        """
        body = person_body(name, document, profile, email)
        try:
            response = await self._request("POST", "/v1/pessoas", body=body)
        finally:
            self._cache.invalidate("people")
        if isinstance(response.data, dict) and response.data.get("id"):
            person = parse_person(response.data)
            if not person.profiles:
                person = Person(
                    person.id, person.name, person.document, person.person_type, (profile_key(profile),), person.email
                )
            return person
        found = await self.find_person(document=document, name=name, profile=profile)
        if found is None:
            raise RetryableGatewayError(f"person {name!r} was accepted but is not listed yet")
        return found

    async def add_profile(self, person: Person, profile: Profile) -> Person:
        """Give an existing person one more profile (a supplier who also buys from us): PATCH the whole list.

        Args:
            person: The person as found (its current profiles are kept).
            profile: ``"Fornecedor"`` or ``"Cliente"``.

        Returns:
            The person with the profile added.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure (the PATCH is idempotent: retrying is safe).
        """
        wanted = tuple(sorted({*person.profiles, profile_key(profile)}))
        body = {"perfis": [{"tipo_perfil": PROFILE_NAMES.get(key, key.title())} for key in wanted]}
        try:
            await self._request("PATCH", f"/v1/pessoas/{person.id}", body=body)
        finally:
            self._cache.invalidate("people")
        return Person(person.id, person.name, person.document, person.person_type, wanted, person.email)

    # ------------------------------------------------------------------ entries

    async def create_payable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry:
        """Create an account payable through the configured route.

        Args:
            draft: The entry; its external reference goes into the description (and ``referencia_externa``).
            send_by: Nothing is sent, and no protocol polled, after this instant (the posting lease's margin).

        Returns:
            The created entry's id (the evento financeiro) and, on the async route, the protocol.

        Raises:
            ValueError: Amounts are inconsistent (rateio/parcelas sums) or have more than 2 decimals.
            PermanentGatewayError: Refused (400…) or the protocol ended in ERROR.
            ProtocolPending: Accepted but unresolved in time; call ``resolve_protocol`` later, never re-post.
            RetryableGatewayError: Transient failure; if ``params["outcome_unknown"]``, reconcile before retrying.
        """
        return await self._create("payable", draft, send_by)

    async def create_receivable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry:
        """Create an account receivable through the configured route.

        Args:
            draft: The entry (``person_id`` is the customer).
            send_by: As for :meth:`create_payable`.

        Returns:
            The created entry's id and, on the async route, the protocol.

        Raises:
            ValueError: Amounts are inconsistent.
            PermanentGatewayError: Refused or the protocol ended in ERROR.
            ProtocolPending: Accepted but unresolved in time.
            RetryableGatewayError: Transient failure; reconcile before retrying when the outcome is unknown.
        """
        return await self._create("receivable", draft, send_by)

    async def _create(self, kind: EntryKind, draft: EntryDraft, send_by: datetime | None) -> CreatedEntry:
        if self.route == "sync":
            body = payable_body_sync(draft) if kind == "payable" else receivable_body_sync(draft)
            response = await self._request("POST", SYNC_PATHS[kind], body=body, send_by=send_by)
            if isinstance(response.data, dict) and _looks_like_protocol(response.data):
                return await self._follow_protocol(kind, draft, parse_protocol(response.data), "sync", send_by)
            entry_id, installment_ids = parse_created(response.data)
            return CreatedEntry(entry_id, "sync", None, installment_ids)
        body = payable_body_async(draft) if kind == "payable" else receivable_body_async(draft)
        response = await self._request("POST", ASYNC_PATHS[kind], body=body, send_by=send_by)
        return await self._follow_protocol(kind, draft, parse_protocol(response.data), "async", send_by)

    async def _follow_protocol(
        self, kind: EntryKind, draft: EntryDraft, protocol: ProtocolStatus, route: Route, send_by: datetime | None
    ) -> CreatedEntry:
        if protocol.status == "ERROR":
            raise _protocol_error(protocol)
        if protocol.status == "SUCCESS" and protocol.event_id:
            return CreatedEntry(protocol.event_id, route, protocol.id, ())
        timeout = self.protocol_timeout
        if send_by is not None:  # polling must end within the lease too; a later attempt resumes it
            timeout = max(timedelta(0), min(timeout, send_by - self._clock.now()))
        event_id = await self.resolve_protocol(
            protocol.id, kind=kind, due_date=draft.parcels()[0][0], reference=draft.external_reference, timeout=timeout
        )
        return CreatedEntry(event_id, route, protocol.id, ())

    async def resolve_protocol(
        self,
        protocol_id: str,
        *,
        kind: EntryKind,
        due_date: date,
        reference: str | None = None,
        timeout: timedelta | None = None,
    ) -> str:
        """Poll an async-create protocol until it yields the evento financeiro id.

        Falls back to matching ``evento.referencia.id`` on installments due that day when ``/v1/protocolo``
        answers 404 (reference §3.5).

        Args:
            protocol_id: The id returned by the 202.
            kind: ``"payable"`` or ``"receivable"`` (where to search in the fallback).
            due_date: First installment's due date (narrows the fallback search).
            reference: Our external reference, to narrow the fallback search by description.
            timeout: How long to poll; defaults to the client's ``protocol_timeout``.

        Returns:
            The evento financeiro id.

        Raises:
            PermanentGatewayError: The protocol ended in ERROR.
            ProtocolPending: Still unresolved at the deadline (carries ``protocol_id``).
            RetryableGatewayError: Transient failure while polling.
        """
        deadline = self._clock.now() + (timeout if timeout is not None else self.protocol_timeout)
        delay = 0.5
        use_fallback = False
        checked: set[str] = set()
        while True:
            if not use_fallback:
                try:
                    protocol = parse_protocol(await self._get(PROTOCOL_PATH.format(id=protocol_id)))
                except PermanentGatewayError as exc:
                    if exc.status != 404:
                        raise
                    logger.info("protocol endpoint 404 for %s; matching installments instead", protocol_id)
                    use_fallback = True
                else:
                    if protocol.status == "ERROR":
                        raise _protocol_error(protocol)
                    if protocol.status == "SUCCESS":
                        if protocol.event_id:
                            return protocol.event_id
                        use_fallback = True
            if use_fallback:
                event_id = await self._event_for_protocol(kind, protocol_id, due_date, reference, checked)
                if event_id:
                    return event_id
            now = self._clock.now()
            if now >= deadline:
                raise ProtocolPending(protocol_id)
            await self._sleep(min(delay, (deadline - now).total_seconds()))
            delay = min(delay * 2, 10.0)

    async def _event_for_protocol(
        self, kind: EntryKind, protocol_id: str, due_date: date, reference: str | None, checked: set[str]
    ) -> str | None:
        candidates = await self.search_entries(kind, due_date, due_date, description=reference)
        if reference:
            candidates = [c for c in candidates if reference in c.description] or await self.search_entries(
                kind, due_date, due_date
            )
        for candidate in candidates:
            if candidate.id in checked:
                continue
            detail = await self.installment(candidate.id)
            checked.add(candidate.id)
            if detail.reference_id == protocol_id and detail.event_id:
                return detail.event_id
        return None

    async def installment(self, installment_id: str) -> InstallmentDetail:
        """One installment with its event reference.

        Args:
            installment_id: Parcela id (from ``search_entries``).

        Returns:
            The installment's event id and ``evento.referencia``.

        Raises:
            PermanentGatewayError: Not found or refused.
            RetryableGatewayError: Transient failure.
        """
        data = await self._get(INSTALLMENT_PATH.format(id=installment_id))
        if not isinstance(data, dict):
            raise PermanentGatewayError("unexpected installment response", body=data)
        return parse_installment_detail(data)

    async def search_entries(
        self, kind: EntryKind, due_from: date, due_to: date, description: str | None = None
    ) -> list[EntrySummary]:
        """Installments of payables or receivables due in a date range, all pages.

        Args:
            kind: ``"payable"`` or ``"receivable"``.
            due_from: First due date (inclusive).
            due_to: Last due date (inclusive).
            description: Optional ``descricao`` filter (its matching rule is undocumented: also check locally).

        Returns:
            The installments found.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        params: dict[str, str | int | bool] = {
            "data_vencimento_de": due_from.isoformat(),
            "data_vencimento_ate": due_to.isoformat(),
        }
        if description:
            params["descricao"] = description
        return [parse_entry_summary(item) for item in await self._pages(SEARCH_PATHS[kind], params)]

    async def find_entries_by_reference(
        self, kind: EntryKind, reference: str, due_from: date, due_to: date
    ) -> list[EntrySummary]:
        """The installments whose description ends with our exact ``reference`` token, for reconciling a retry.

        The caller still compares amount and counterparty before adopting one (see ``ledger.outbox``).

        Args:
            kind: ``"payable"`` or ``"receivable"``.
            reference: Our external reference (e.g. ``PAG-2026-000123``).
            due_from: First due date to look at.
            due_to: Last due date to look at.

        Returns:
            The matching installments (usually none or one).

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        for description in (reference, None):
            # The ``descricao`` filter's matching rule is undocumented: without it, scan the window ourselves.
            found = [
                entry
                for entry in await self.search_entries(kind, due_from, due_to, description=description)
                if carries_reference(entry.description, reference)
            ]
            if found:
                return found
        return []


def _looks_like_protocol(data: Mapping[str, Any]) -> bool:
    return any(key in data for key in ("protocolo", "protocolId"))


def _protocol_error(protocol: ProtocolStatus) -> PermanentGatewayError:
    return PermanentGatewayError(
        f"Conta Azul rejected the entry (protocol {protocol.id}): {protocol.response or 'no reason given'}",
        body=protocol.response,
        protocol_id=protocol.id,
    )


def _prefer_profile(people: list[Person], profile: Profile) -> Person:
    wanted = profile_key(profile)
    return next((p for p in people if wanted in p.profiles), people[0])


__all__ = ["ContaAzulClient"]
