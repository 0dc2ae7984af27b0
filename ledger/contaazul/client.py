"""Conta Azul API v2 client: lookups and entry creation with token refresh, rate limiting and a per-team cache.

The request/response mapping is kept in pure functions in :mod:`ledger.contaazul.wire` (``payable_body_sync``,
``parse_protocol``, ``parse_page`` …) so it can be tested without I/O; tokens, retries and errors are the
:class:`~ledger.contaazul.transport.Transport` underneath; creating entries and finding them again is
:class:`~ledger.contaazul.entries.EntryEndpoints`; :class:`ContaAzulClient` adds the lookups (accounts, categories,
cost centers, people). Values live in :mod:`ledger.contaazul.models`, throttling, caching and the create route in use
in :mod:`ledger.contaazul.limits`.
"""

from __future__ import annotations

import asyncio
import logging

from ledger.contaazul.entries import EntryEndpoints
from ledger.contaazul.models import (
    Category,
    CategoryKind,
    ConnectedCompany,
    CostCenter,
    FinancialAccount,
    Person,
    PersonType,
    Profile,
    QueryParams,
)
from ledger.contaazul.wire import (
    PROFILE_NAMES,
    parse_account,
    parse_category,
    parse_company,
    parse_cost_center,
    parse_person,
    person_body,
    person_type,
    profile_key,
)
from ledger.errors import PermanentGatewayError, RetryableGatewayError
from ledger.names import document_digits, name_key
from ledger.validation import is_valid_cnpj, is_valid_cpf

logger = logging.getLogger(__name__)

# A people search without ``tipos_pessoa`` may get the documented default (Física), which hides every company: each
# search names the types it wants. Without a document to tell, a name is looked for among these, in this order
# (suppliers of a small business are mostly companies); the type-ahead asks for the first two at once.
NAME_SEARCH_TYPES: tuple[PersonType, ...] = ("Jurídica", "Física", "Estrangeira")
TYPE_AHEAD_TYPES: tuple[PersonType, ...] = ("Jurídica", "Física")


class ContaAzulClient(EntryEndpoints):
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

        A CPF or CNPJ costs one search (with the person type it implies), and so does the name then, among people
        of that type; a name alone is looked for among companies, then individuals, then foreigners.

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
        doc = document_digits(document) if document else ""
        kind = person_type(doc) if doc else None
        if doc:
            found = await self._person_by_document(doc, kind, profile)
            if found is not None:
                return found
        if name and name.strip():
            return await self._person_by_name(name, (kind,) if kind else NAME_SEARCH_TYPES, profile)
        return None

    async def _person_by_document(self, doc: str, kind: PersonType | None, profile: Profile) -> Person | None:
        key = ("people", "document", profile, doc)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        # The filter's format is undocumented: digits, the form every other format reduces to; compared locally.
        params: dict[str, str | int | bool] = {"documentos": doc, "tipo_perfil": profile}
        if kind is not None:
            params["tipos_pessoa"] = kind
        matches = [p for p in await self._people(params) if p.document and document_digits(p.document) == doc]
        if not matches:
            return None
        person = _prefer_profile(matches, profile)
        self._remember(key, person)
        return person

    async def _person_by_name(self, name: str, kinds: tuple[PersonType, ...], profile: Profile) -> Person | None:
        wanted = name_key(name)
        key = ("people", "name", profile, wanted, *kinds)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        typed = " ".join(name.split())
        for kind in kinds:
            people = await self._people({"busca": typed, "tipo_perfil": profile, "tipos_pessoa": kind})
            matches = [p for p in people if name_key(p.name) == wanted]
            if matches:
                person = _prefer_profile(matches, profile)
                self._remember(key, person)
                return person
        return None

    async def search_people(self, text: str, profile: Profile = "Fornecedor", limit: int = 50) -> list[Person]:
        """People of one profile whose name or document contains ``text`` (type-ahead; cached).

        A typed CPF or CNPJ is searched among people of its type; anything else among companies and individuals at
        once (two searches in parallel, so the list comes as fast as one).

        Args:
            text: What the person typed; empty lists the first ``limit``.
            profile: ``Fornecedor`` or ``Cliente``.
            limit: At most this many, by name.

        Returns:
            Matching people.
        """
        typed = " ".join(text.split())
        key = ("people", "search", profile, name_key(typed))
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        params: dict[str, str | int | bool] = {"tipo_perfil": profile}
        if typed:
            params["busca"] = typed
        typed_kind = person_type(typed) if is_valid_cpf(typed) or is_valid_cnpj(typed) else None
        kinds = (typed_kind,) if typed_kind else TYPE_AHEAD_TYPES
        pages = await asyncio.gather(
            *(self._pages("/v1/pessoas", {**params, "tipos_pessoa": k}, max_pages=1) for k in kinds)
        )
        found = {person.id: person for page in pages for person in map(parse_person, page)}
        people = sorted(found.values(), key=lambda p: name_key(p.name))[:limit]
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


def _prefer_profile(people: list[Person], profile: Profile) -> Person:
    wanted = profile_key(profile)
    return next((p for p in people if wanted in p.profiles), people[0])


__all__ = ["ContaAzulClient"]
