"""The transport under the Conta Azul client: tokens, limits, retries and errors, and nothing about endpoints."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from ledger.contaazul.limits import CreateRoute, LookupCache, RateLimiter, Sleep, check_send_by
from ledger.contaazul.models import PAGE_SIZES, QueryParams, Route
from ledger.contaazul.wire import dumps, error_message, loads, parse_page, parse_retry_after
from ledger.errors import PermanentGatewayError, RetryableGatewayError
from ledger.ports import Clock

logger = logging.getLogger(__name__)


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


class Transport:
    """HTTP to one team's Conta Azul account: bearer tokens (a 401 refreshes once), the team's rate limiter and
    lookup cache, 429s waited per ``Retry-After``, GETs retried after transient errors, one error type for
    callers. :class:`~ledger.contaazul.client.ContaAzulClient` adds the endpoints."""

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
        route: Route | CreateRoute = "sync",
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
            route: ``"sync"`` (201 with id) or ``"async"`` (202 + protocol) create endpoints, or the process's
                ``CreateRoute`` (the connector's), which remembers that the synchronous one is missing.
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
        self.create_route = route if isinstance(route, CreateRoute) else CreateRoute(route)
        self.page_size = page_size
        self.max_429_retries = max_429_retries
        self.max_retry_wait = max_retry_wait
        self.get_retries = get_retries
        self.protocol_timeout = protocol_timeout
        self.request_timeout = request_timeout

    @property
    def route(self) -> Route:
        """The create route in use now."""
        return self.create_route.current

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
                # Without a Retry-After, back off from 1 s, doubling: a fixed wait could keep meeting the limit.
                delay = float(2**throttled) if wait is None else wait
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


def _body_of(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return loads(response.content)
    except ValueError:
        return response.text[:2000]


__all__ = ["StaticTokenSource", "TokenSource", "Transport"]
