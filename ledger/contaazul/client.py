"""Conta Azul API v2 client: lookups and entry creation with token refresh, rate limiting and a per-team cache.

The request/response mapping is kept in pure functions in :mod:`ledger.contaazul.wire` (``payable_body_sync``,
``parse_protocol``, ``parse_page`` …) so it can be tested without I/O; :class:`ContaAzulClient` only adds transport
concerns on top. Values live in :mod:`ledger.contaazul.models`, throttling and caching in
:mod:`ledger.contaazul.limits`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import httpx

from ledger.contaazul.limits import LookupCache, RateLimiter, Sleep, check_send_by
from ledger.contaazul.models import (
    ASYNC_PATHS,
    INSTALLMENT_PATH,
    PAGE_SIZES,
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
from ledger.contaazul.wire import (
    PROFILE_NAMES,
    carries_reference,
    dumps,
    error_message,
    format_document,
    loads,
    parse_account,
    parse_category,
    parse_company,
    parse_cost_center,
    parse_created,
    parse_entry_summary,
    parse_installment_detail,
    parse_page,
    parse_person,
    parse_protocol,
    parse_retry_after,
    payable_body_async,
    payable_body_sync,
    person_body,
    profile_key,
    receivable_body_async,
    receivable_body_sync,
)
from ledger.errors import PermanentGatewayError, RetryableGatewayError
from ledger.names import document_digits, name_key
from ledger.ports import Clock

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- errors


class ProtocolPending(RetryableGatewayError):
    """The async create was accepted but not resolved before the deadline: reconcile later, never re-post."""

    code = "protocol_pending"

    def __init__(self, protocol_id: str, message: str = "") -> None:
        super().__init__(message or f"protocol {protocol_id} still pending", protocol_id=protocol_id)
        self.protocol_id = protocol_id


# --------------------------------------------------------------------------- the client


class TokenSource(Protocol):
    """Where the client gets bearer tokens; :class:`ledger.contaazul.tokens.TokenManager` is the real one."""

    async def access_token(self, team_id: str) -> str:
        """A currently valid access token for the team."""
        ...

    async def invalidate(self, team_id: str, token: str) -> None:
        """Report that the API rejected ``token`` (401), so the next call gets a fresh one."""
        ...


class StaticTokenSource:
    """A token source with one fixed token (right after the OAuth exchange, or in scripts)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self, team_id: str) -> str:
        """Always the same token."""
        return self._token

    async def invalidate(self, team_id: str, token: str) -> None:
        """Nothing to refresh."""


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    data: Any


class ContaAzulClient:
    """Typed access to one team's Conta Azul account."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        tokens: TokenSource,
        team_id: str,
        clock: Clock,
        limiter: RateLimiter | None = None,
        cache: LookupCache | None = None,
        cache_ttl: timedelta = timedelta(minutes=5),
        route: Route = "sync",
        sleep: Sleep | None = None,
        page_size: int = 100,
        max_429_retries: int = 3,
        max_retry_wait: timedelta = timedelta(seconds=30),
        get_retries: int = 2,
        protocol_timeout: timedelta = timedelta(seconds=90),
        request_timeout: timedelta = timedelta(seconds=20),
    ) -> None:
        """Bind a shared ``http`` client to one team.

        Args:
            http: Shared HTTP client (owns timeouts and pooling; the caller closes it).
            api_url: API base, e.g. ``https://api-v2.contaazul.com``.
            tokens: Source of access tokens for ``team_id``.
            team_id: The Slack team whose connection is used.
            clock: Time source for caches, rate limiting and protocol deadlines.
            limiter: The team's rate limiter; None gives this client one of its own.
            cache: The team's lookup cache; None gives this client one of its own.
            cache_ttl: How long lookups (accounts, categories, cost centers, people) are reused.
            route: ``"sync"`` (201 with id) or ``"async"`` (202 + protocol) create endpoints.
            sleep: Awaitable sleep, injectable so tests do not wait.
            page_size: ``tamanho_pagina`` for list calls (one of 10…1000).
            max_429_retries: 429s absorbed per request before giving up.
            max_retry_wait: Longest ``Retry-After`` waited in-process; longer ones are raised to the caller.
            get_retries: Extra attempts for GETs after a 5xx, timeout or dropped connection.
            protocol_timeout: How long an async create's protocol is polled before ``ProtocolPending``.
            request_timeout: The longest one create call may take, answer included (a posting's lease must
                outlast it).
        """
        if page_size not in PAGE_SIZES:
            raise ValueError(f"page_size must be one of {PAGE_SIZES}")
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._tokens = tokens
        self.team_id = team_id
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        # Shared per team by whoever builds the clients (the connector); a lone client has its own.
        self._limiter = limiter or RateLimiter(clock=clock, sleep=sleep)
        self._cache = cache if cache is not None else LookupCache()
        self.cache_ttl = cache_ttl
        self.route: Route = route
        self.page_size = page_size
        self.max_429_retries = max_429_retries
        self.max_retry_wait = max_retry_wait
        self.get_retries = get_retries
        self.protocol_timeout = protocol_timeout
        self.request_timeout = request_timeout

    @property
    def limiter(self) -> RateLimiter:
        """The team's rate limiter."""
        return self._limiter

    @property
    def cache(self) -> LookupCache:
        """The team's lookup cache."""
        return self._cache

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Any = None,
        send_by: datetime | None = None,
    ) -> _Response:
        """One API call: a 401 refreshes the token once, 429s wait their Retry-After, GETs retry transient errors.

        ``send_by`` (a create's): no attempt leaves after it and no wait reaches past it; the call raises
        ``RetryableGatewayError`` instead, having created nothing.
        """
        url = f"{self._api_url}{path}"
        idempotent = method in ("GET", "HEAD")
        content = dumps(body).encode("utf-8") if body is not None else None
        refreshed = False
        throttled = 0
        failures = 0
        while True:
            token = await self._tokens.access_token(self.team_id)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            check_send_by(send_by, self._clock.now(), 0, "the token refresh")
            try:
                async with self._limiter.slot(send_by=send_by), asyncio.timeout(self._total_timeout(send_by)):
                    response = await self._http.request(method, url, params=params, content=content, headers=headers)
            except TimeoutError as exc:
                # A create bounded by its lease gave up waiting: it may still land, so the outcome is unknown.
                logger.warning("conta azul %s %s timed out", method, path)
                raise RetryableGatewayError(f"{method} {path} timed out", outcome_unknown=True) from exc
            except httpx.TransportError as exc:
                # ConnectError/ConnectTimeout mean nothing reached the server, so even a POST is safe to repeat.
                nothing_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
                if (idempotent or nothing_sent) and failures < self.get_retries:
                    failures += 1
                    check_send_by(send_by, self._clock.now(), 0.2 * 2**failures, "a reconnection")
                    await self._sleep(0.2 * 2**failures)
                    continue
                logger.warning("conta azul %s %s %s", method, path, kind)
                raise RetryableGatewayError(
                    f"{method} {path} {kind}", outcome_unknown=not (idempotent or nothing_sent)
                ) from exc

            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                await self._tokens.invalidate(self.team_id, token)
                continue
            if status == 429:
                wait = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
                delay = 1.0 if wait is None else wait
                self._limiter.block_until(self._clock.now() + timedelta(seconds=delay))
                if throttled < self.max_429_retries and delay <= self.max_retry_wait.total_seconds():
                    check_send_by(send_by, self._clock.now(), delay, "a Retry-After")
                    throttled += 1
                    logger.info("conta azul %s %s throttled, waiting %.1fs", method, path, delay)
                    await self._sleep(delay)
                    continue
                raise RetryableGatewayError(
                    f"{method} {path} rate limited", status=429, body=_body_of(response), retry_after=delay
                )
            if status >= 500:
                if idempotent and failures < self.get_retries:
                    failures += 1
                    await self._sleep(0.2 * 2**failures)
                    continue
                data = _body_of(response)
                logger.warning("conta azul %s %s -> %s", method, path, status)
                raise RetryableGatewayError(
                    f"{method} {path} failed with {status}: {error_message(data) or 'server error'}",
                    status=status,
                    body=data,
                    outcome_unknown=not idempotent,
                )
            if status >= 400:
                data = _body_of(response)
                logger.warning("conta azul %s %s -> %s", method, path, status)
                raise PermanentGatewayError(
                    f"{method} {path} refused with {status}: {error_message(data) or response.reason_phrase}",
                    status=status,
                    body=data,
                )
            return _Response(status, _body_of(response))

    def _total_timeout(self, send_by: datetime | None) -> float | None:
        """A create under a lease must end within ``request_timeout`` in all (httpx bounds each read, not the
        whole exchange); other calls keep httpx's own timeouts."""
        return self.request_timeout.total_seconds() if send_by is not None else None

    async def _get(self, path: str, params: QueryParams | None = None) -> Any:
        return (await self._request("GET", path, params=params)).data

    async def _pages(self, path: str, params: QueryParams, *, max_pages: int = 100) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for number in range(1, max_pages + 1):
            page = parse_page(await self._get(path, {**params, "pagina": number, "tamanho_pagina": self.page_size}))
            items.extend(page.items)
            if len(page.items) < self.page_size or (page.total is not None and len(items) >= page.total):
                break
        return items

    def _cached(self, key: tuple[str, ...]) -> Any:
        return self._cache.get(key, self._clock.now())

    def _remember(self, key: tuple[str, ...], value: Any) -> None:
        self._cache.put(key, value, self._clock.now() + self.cache_ttl)

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


def _body_of(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return loads(response.content)
    except ValueError:
        return response.text[:2000]


__all__ = [
    "ContaAzulClient",
    "ProtocolPending",
    "StaticTokenSource",
    "TokenSource",
]
