"""One object to reach Conta Azul for any team: OAuth settings, the shared HTTP client, tokens, clients."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.contaazul.client import ContaAzulClient
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import CreateRoute, LookupCache, RateLimiter, Sleep
from ledger.contaazul.models import FinancialAccount, Route
from ledger.contaazul.oauth import (
    ConnectionInfo,
    OAuthConfig,
    TokenEndpoint,
    complete_connection,
    consume_state,
    disconnect,
    get_connection_info,
    open_in_browser,
    set_default_account,
    start_authorization,
)
from ledger.contaazul.revocation import ConnectionRevoker, Revocation
from ledger.contaazul.tokens import TokenManager
from ledger.contaazul.transport import Transport
from ledger.errors import ConnectionNeedsReconnect, OAuthStateError, TokensUnreadable
from ledger.models import ContaAzulConnection
from ledger.ports import Books, Clock

OnTransport = TypeVar("OnTransport", bound=Transport)

# "Receba Fácil" accounts are refused for payables (reference §3.1).
PAYABLE_REFUSED_TYPES = frozenset({"RECEBA_FACIL_CARTAO"})
# Conta Azul answers most calls well under a second; a slow answer must not hold a Slack interaction.
DEFAULT_TIMEOUT = timedelta(seconds=20)


@dataclass
class ContaAzul:
    config: OAuthConfig
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    cipher: TokenCipher
    # The longest one call may take (a posting's lease is checked against it); the HTTP client is built with it.
    request_timeout: timedelta = DEFAULT_TIMEOUT
    http: httpx.AsyncClient = field(default=None)  # type: ignore[assignment]  # built from request_timeout
    oauth: TokenEndpoint = field(init=False)
    route: Route = "sync"
    sleep: Sleep | None = None  # injectable so tests move a fake clock instead of waiting
    # Conta Azul's docs say 10 requests/s and 600/min per company, earlier versions 20/s and 500/min: the stricter
    # of each. With N instances, give each its share.
    rate_limits: tuple[int, int] = (10, 500)
    tokens: TokenManager = field(init=False)
    # For every client of this process: once the synchronous create route is found missing, it is not tried again.
    _create_route: CreateRoute = field(init=False)
    # Per team, for every client of this connector: Conta Azul's limits and the lookups are the company's.
    _limiters: dict[str, RateLimiter] = field(init=False, default_factory=dict)
    _caches: dict[str, LookupCache] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        seconds = self.request_timeout.total_seconds()
        timeout = httpx.Timeout(seconds, connect=min(5.0, seconds))
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=timeout)
        self.oauth = TokenEndpoint(self.config, timeout=timeout)
        self.tokens = TokenManager(
            self.session_factory,
            cipher=self.cipher,
            clock=self.clock,
            endpoint=self.oauth,
            refresh_timeout=self.request_timeout,
            sleep=self.sleep,
        )
        self._create_route = CreateRoute(self.route)

    def client(self, team_id: str) -> Books:
        """A client bound to the team's connection (tokens refreshed on demand, lookups cached)."""
        return self._on_transport(ContaAzulClient, team_id)

    def _on_transport(self, kind: type[OnTransport], team_id: str) -> OnTransport:
        """One of the team's clients: this connector's HTTP pool, tokens, limiter and lookup cache."""
        return kind(
            self.http,
            api_url=self.config.api_url,
            tokens=self.tokens,
            team_id=team_id,
            clock=self.clock,
            route=self._create_route,
            sleep=self.sleep,
            request_timeout=self.request_timeout,
            limiter=self._limiter(team_id),
            cache=self._caches.setdefault(team_id, LookupCache()),
        )

    def _limiter(self, team_id: str) -> RateLimiter:
        limiter = self._limiters.get(team_id)
        if limiter is None:
            per_second, per_minute = self.rate_limits
            limiter = self._limiters[team_id] = RateLimiter(
                clock=self.clock, sleep=self.sleep, per_second=per_second, per_minute=per_minute
            )
        return limiter

    def forget_lookups(self, team_id: str) -> None:
        """Drop the team's cached lookups (after connecting, possibly to another company, or disconnecting)."""
        self._caches.pop(team_id, None)

    async def begin_connection(self, *, team_id: str, user_id: str) -> str:
        """A one-time state for this admin (valid 10 minutes); Aprova's start link names it."""
        return await start_authorization(
            self.session_factory, clock=self.clock, cipher=self.cipher, team_id=team_id, user_id=user_id
        )

    async def open_in_browser(self, *, state: str, binding: str) -> str:
        """Bind the state to the browser holding ``binding`` in its cookie; Conta Azul's authorize URL.

        Raises:
            OAuthStateError: The state is unknown, expired or its start link was already opened.
        """
        return await open_in_browser(
            self.session_factory,
            clock=self.clock,
            cipher=self.cipher,
            endpoint=self.oauth,
            state=state,
            binding=binding,
        )

    async def consent_denied(self, *, state: str, binding: str | None) -> None:
        """Conta Azul says the consent was denied: the state is used up, when the admin's browser says so."""
        with contextlib.suppress(OAuthStateError):
            await consume_state(
                self.session_factory, clock=self.clock, cipher=self.cipher, state=state, binding=binding
            )

    async def complete(self, *, state: str, code: str, binding: str | None) -> ConnectionInfo:
        """Finish the OAuth callback, then pick the ERP's default financial account when there is one."""
        info = await complete_connection(
            self.session_factory,
            clock=self.clock,
            cipher=self.cipher,
            endpoint=self.oauth,
            http=self.http,
            state=state,
            code=code,
            binding=binding,
            sleep=self.sleep,
        )
        self.tokens.forget(info.team_id)
        self.forget_lookups(info.team_id)
        if info.default_account_id is None:
            accounts = await self.payable_accounts(info.team_id)
            chosen = next((a for a in accounts if a.default), accounts[0] if len(accounts) == 1 else None)
            if chosen is not None:
                info = await self.set_default_account(
                    team_id=info.team_id, account_id=chosen.id, account_name=chosen.name
                )
        return info

    async def tokens_readable(self, team_id: str) -> bool:
        """Whether the configured keys decrypt the team's stored tokens (a replaced key shows here)."""
        async with self.session_factory() as session:
            row = await session.scalar(select(ContaAzulConnection).where(ContaAzulConnection.team_id == team_id))
        return row is None or _readable(self.cipher, row)

    async def connection(self, team_id: str) -> ConnectionInfo | None:
        return await get_connection_info(self.session_factory, team_id=team_id)

    async def disconnect(self, team_id: str) -> Revocation:
        """Revoke the authorization at Conta Azul, then delete the tokens here whatever Conta Azul answered."""
        info = await self.connection(team_id)
        if info is None:
            revocation = Revocation("not_connected")
        elif info.needs_reconnect or not info.company_id:
            # Tokens Conta Azul refused (or Aprova cannot read) cannot ask it for anything.
            revocation = Revocation("failed", ConnectionNeedsReconnect.code if info.needs_reconnect else "no_company")
        else:
            revocation = await self._on_transport(ConnectionRevoker, team_id).revoke(info.company_id)
        await disconnect(self.session_factory, team_id=team_id)
        self.tokens.forget(team_id)
        self.forget_lookups(team_id)
        return revocation

    async def set_default_account(self, *, team_id: str, account_id: str, account_name: str) -> ConnectionInfo:
        return await set_default_account(
            self.session_factory, clock=self.clock, team_id=team_id, account_id=account_id, account_name=account_name
        )

    async def payable_accounts(self, team_id: str) -> list[FinancialAccount]:
        """The company's active accounts a payable may be paid from (card receivables accounts cannot)."""
        return [a for a in await self.client(team_id).financial_accounts() if a.type not in PAYABLE_REFUSED_TYPES]

    async def aclose(self) -> None:
        await self.oauth.aclose()
        await self.http.aclose()


async def has_connections(session_factory: async_sessionmaker[AsyncSession]) -> bool:
    """Whether any team stored Conta Azul tokens (then the encryption key is mandatory)."""
    async with session_factory() as session:
        return bool(await session.scalar(select(func.count()).select_from(ContaAzulConnection)))


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """A team's stored connection, and whether the configured keys can read its tokens."""

    team_id: str
    company_name: str
    readable: bool


async def stored_connections(
    session_factory: async_sessionmaker[AsyncSession], cipher: TokenCipher
) -> list[StoredConnection]:
    """Every team's connection, each tried with ``cipher``: a replaced or lost key shows here, not at posting."""
    async with session_factory() as session:
        rows = (await session.execute(select(ContaAzulConnection).order_by(ContaAzulConnection.team_id))).scalars()
        return [StoredConnection(row.team_id, row.company_name, _readable(cipher, row)) for row in rows]


def _readable(cipher: TokenCipher, row: ContaAzulConnection) -> bool:
    try:
        cipher.decrypt(row.access_token_enc)
        cipher.decrypt(row.refresh_token_enc)
    except TokensUnreadable:
        return False
    return True
