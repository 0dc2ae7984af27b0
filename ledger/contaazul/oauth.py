"""Connecting a Slack team to Conta Azul: the OAuth 2.0 authorization-code flow and the stored connection.

The token endpoint is called with plain httpx rather than authlib's ``AsyncOAuth2Client``: that client is its
own ``httpx.AsyncClient`` and cannot reuse the caller's (pooling, timeouts, test transports), and its only real
extra — automatic refresh under an in-process lock — is exactly what must not be used here, because refresh has
to be coordinated through the database (see ``tokens.py``). What remains is one form POST with a Basic header.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.clock import SystemClock
from ledger.contaazul.client import ContaAzulClient
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import Sleep
from ledger.contaazul.models import ConnectedCompany
from ledger.contaazul.transport import StaticTokenSource
from ledger.contaazul.wire import loads
from ledger.errors import (
    NotConnected,
    OAuthGrantError,
    OAuthStateError,
    PermanentGatewayError,
    RetryableGatewayError,
)
from ledger.models import ContaAzulConnection, OAuthState
from ledger.ports import Clock

logger = logging.getLogger(__name__)

SCOPE: Final = "openid profile aws.cognito.signin.user.admin"
STATUS_ACTIVE: Final = "active"
STATUS_NEEDS_RECONNECT: Final = "needs_reconnect"

SessionFactory = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """Where and as whom to run the OAuth flow (``client_secret`` stays out of reprs)."""

    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str  # https://auth.contaazul.com
    api_url: str  # https://api-v2.contaazul.com
    redirect_uri: str

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return f"{self.auth_url.rstrip('/')}/oauth2/token"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from the token endpoint; ``expires_at`` is aware UTC."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    id_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """A team's connection as the Slack layer shows it (no tokens)."""

    team_id: str
    company_id: str | None
    company_name: str
    company_document: str | None
    connected_by: str
    connected_at: datetime
    status: str
    default_account_id: str | None
    default_account_name: str | None

    @property
    def needs_reconnect(self) -> bool:
        """True when the refresh token was refused and an admin must connect again."""
        return self.status == STATUS_NEEDS_RECONNECT


# --------------------------------------------------------------------------- state


async def start_authorization(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    config: OAuthConfig,
    team_id: str,
    user_id: str,
    ttl: timedelta = timedelta(minutes=10),
) -> str:
    """Store a one-time ``state`` for this admin and return the Conta Azul authorize URL."""
    state = secrets.token_urlsafe(32)
    now = clock.now()
    async with session_factory.begin() as session:
        session.add(OAuthState(state=state, team_id=team_id, user_id=user_id, created_at=now, expires_at=now + ttl))
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": config.redirect_uri,
            "state": state,
            "scope": SCOPE,
        }
    )
    return f"{config.auth_url.rstrip('/')}/oauth2/authorize?{query}"


async def consume_state(session_factory: SessionFactory, *, clock: Clock, state: str) -> tuple[str, str]:
    """Use a ``state`` once and return the ``(team_id, user_id)`` that started the flow.

    Raises:
        OAuthStateError: ``state_unknown``, ``state_expired`` or ``state_used``.
    """
    now = clock.now()
    async with session_factory.begin() as session:
        row = await session.get(OAuthState, state) if state else None
        if row is None:
            raise OAuthStateError("state_unknown")
        if row.used_at is not None:
            raise OAuthStateError("state_used")
        if row.expires_at <= now:
            raise OAuthStateError("state_expired")
        result = await session.execute(
            update(OAuthState)
            .where(OAuthState.state == state, OAuthState.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            raise OAuthStateError("state_used")
        return row.team_id, row.user_id


# --------------------------------------------------------------------------- token endpoint


async def exchange_code(
    http: httpx.AsyncClient, *, config: OAuthConfig, code: str, clock: Clock | None = None
) -> TokenSet:
    """Trade an authorization code for tokens.

    Args:
        http: Shared HTTP client.
        config: OAuth settings (client credentials, URLs, the registered redirect URI).
        code: The ``code`` from the callback (valid for 3 minutes, single use).
        clock: Computes ``expires_at``; the system clock when omitted.

    Returns:
        The new tokens.

    Raises:
        OAuthGrantError: ``code_invalid`` when the code was reused, expired or issued for another redirect.
        PermanentGatewayError: Other refusals (e.g. ``invalid_client``).
        RetryableGatewayError: 5xx, 429, timeout or dropped connection.
    """
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.redirect_uri}
    return await token_request(http, config=config, form=form, clock=clock or SystemClock(), grant_error="code_invalid")


async def refresh_tokens(
    http: httpx.AsyncClient, *, config: OAuthConfig, refresh_token: str, clock: Clock | None = None
) -> TokenSet:
    """Use a refresh token (it rotates: the returned one replaces it and must be stored before use).

    Args:
        http: Shared HTTP client.
        config: OAuth settings.
        refresh_token: The current refresh token.
        clock: Computes ``expires_at``; the system clock when omitted.

    Returns:
        The new tokens (the old refresh token is kept if the server did not send a new one).

    Raises:
        OAuthGrantError: ``refresh_invalid`` when the refresh token was revoked, expired or already used.
        PermanentGatewayError: Other refusals.
        RetryableGatewayError: 5xx, 429, timeout or dropped connection (the old token may have been consumed).
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await token_request(
        http,
        config=config,
        form=form,
        clock=clock or SystemClock(),
        grant_error="refresh_invalid",
        previous_refresh_token=refresh_token,
    )


async def token_request(
    http: httpx.AsyncClient,
    *,
    config: OAuthConfig,
    form: dict[str, str],
    clock: Clock,
    grant_error: str,
    previous_refresh_token: str | None = None,
) -> TokenSet:
    """POST the token endpoint with Basic auth and the credentials in the body too (the docs show both)."""
    data = {**form, "client_id": config.client_id, "client_secret": config.client_secret}
    grant = form.get("grant_type", "?")
    try:
        response = await http.post(
            config.token_url,
            data=data,
            auth=httpx.BasicAuth(config.client_id, config.client_secret),
            headers={"Accept": "application/json"},
        )
    except httpx.TransportError as exc:
        logger.warning("conta azul token endpoint unreachable (%s): %s", grant, type(exc).__name__)
        raise RetryableGatewayError(f"token endpoint unreachable ({grant})", outcome_unknown=True) from exc
    payload = _json(response)
    if response.status_code == 200 and isinstance(payload, dict) and payload.get("access_token"):
        refresh = payload.get("refresh_token") or previous_refresh_token
        if not refresh:
            raise PermanentGatewayError("token response has no refresh_token", status=200)
        expires_in = payload.get("expires_in")
        seconds = int(expires_in) if isinstance(expires_in, int | str) and str(expires_in).isdigit() else 3600
        id_token = payload.get("id_token")
        return TokenSet(
            access_token=str(payload["access_token"]),
            refresh_token=str(refresh),
            expires_at=clock.now() + timedelta(seconds=seconds),
            id_token=str(id_token) if id_token else None,
        )
    error = payload.get("error") if isinstance(payload, dict) else None
    # Never keep the body of a 200 (tokens); error bodies only carry codes and descriptions.
    body = payload if response.status_code != 200 else None
    logger.warning("conta azul token endpoint %s -> %s %s", grant, response.status_code, error or "")
    if error == "invalid_grant":
        raise OAuthGrantError(grant_error, f"token endpoint refused the {grant} grant", status=400, body=body)
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableGatewayError(
            f"token endpoint failed with {response.status_code}", status=response.status_code, body=body
        )
    raise PermanentGatewayError(
        f"token endpoint refused {grant}: {error or response.status_code}", status=response.status_code, body=body
    )


# --------------------------------------------------------------------------- connection


async def complete_connection(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    config: OAuthConfig,
    state: str,
    code: str,
    sleep: Sleep | None = None,
) -> ConnectionInfo:
    """Finish the callback: use the state, exchange the code, read the company, store the connection.

    Args:
        session_factory: Database sessions.
        clock: Time source.
        cipher: Encrypts the tokens at rest.
        http: Shared HTTP client.
        config: OAuth settings.
        state: ``state`` from the callback.
        code: ``code`` from the callback.
        sleep: How the client waits on the rate limit (tests move a fake clock); ``asyncio.sleep`` if None.

    Returns:
        The stored connection.

    Raises:
        OAuthStateError: The state is unknown, expired or reused (nothing is called or stored).
        OAuthGrantError: The code was refused (``code_invalid``).
        GatewayError: The token endpoint or the API failed.
    """
    team_id, user_id = await consume_state(session_factory, clock=clock, state=state)
    tokens = await exchange_code(http, config=config, code=code, clock=clock)
    company = await ContaAzulClient(
        http,
        api_url=config.api_url,
        tokens=StaticTokenSource(tokens.access_token),
        team_id=team_id,
        clock=clock,
        sleep=sleep,
    ).connected_company()
    info = await _store_connection(
        session_factory, clock=clock, cipher=cipher, team_id=team_id, user_id=user_id, tokens=tokens, company=company
    )
    logger.info("team %s connected to conta azul company %s", team_id, company.id)
    return info


async def _store_connection(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    cipher: TokenCipher,
    team_id: str,
    user_id: str,
    tokens: TokenSet,
    company: ConnectedCompany,
) -> ConnectionInfo:
    now = clock.now()
    access_enc = cipher.encrypt(tokens.access_token)
    refresh_enc = cipher.encrypt(tokens.refresh_token)
    for attempt in range(2):
        try:
            async with session_factory.begin() as session:
                row = await lock_connection_row(session, team_id)
                if row is None:
                    row = ContaAzulConnection(team_id=team_id, token_version=1)
                    session.add(row)
                else:
                    if row.company_id != company.id:
                        row.default_account_id = None
                        row.default_account_name = None
                    row.token_version = row.token_version + 1
                row.company_id = company.id
                row.company_name = company.name
                row.company_document = company.document
                row.connected_by = user_id
                row.connected_at = now
                row.status = STATUS_ACTIVE
                row.access_token_enc = access_enc
                row.refresh_token_enc = refresh_enc
                row.access_expires_at = tokens.expires_at
                row.last_refresh_at = None
                row.needs_reconnect_alerted_at = None
                row.updated_at = now
                info = _info(row)
            return info
        except IntegrityError:
            # Two callbacks for the same team raced to insert; the second one updates instead.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def disconnect(session_factory: SessionFactory, *, team_id: str) -> bool:
    """Delete the team's connection and its tokens; True if there was one."""
    async with session_factory.begin() as session:
        result = await session.execute(delete(ContaAzulConnection).where(ContaAzulConnection.team_id == team_id))
    return _rowcount(result) > 0


async def get_connection_info(session_factory: SessionFactory, *, team_id: str) -> ConnectionInfo | None:
    """The team's connection, or None when not connected."""
    async with session_factory() as session:
        row = (
            await session.execute(select(ContaAzulConnection).where(ContaAzulConnection.team_id == team_id))
        ).scalar_one_or_none()
        return None if row is None else _info(row)


async def set_default_account(
    session_factory: SessionFactory, *, clock: Clock, team_id: str, account_id: str, account_name: str
) -> ConnectionInfo:
    """Remember the financial account entries are posted to.

    Raises:
        NotConnected: The team has no connection.
    """
    async with session_factory.begin() as session:
        row = await lock_connection_row(session, team_id)
        if row is None:
            raise NotConnected(f"team {team_id} is not connected to Conta Azul")
        row.default_account_id = account_id
        row.default_account_name = account_name
        row.updated_at = clock.now()
        info = _info(row)
    return info


async def connection_statuses(session: AsyncSession) -> dict[str, str]:
    """Every team's connection status (``active`` or ``needs_reconnect``), read in the caller's session."""
    rows = await session.execute(select(ContaAzulConnection.team_id, ContaAzulConnection.status))
    return {team_id: status for team_id, status in rows.all()}


async def lock_connection_row(session: AsyncSession, team_id: str) -> ContaAzulConnection | None:
    """The team's connection row, locked until the transaction ends."""
    # FOR UPDATE on PostgreSQL; SQLite ignores it, its BEGIN IMMEDIATE already serialises writers.
    statement = select(ContaAzulConnection).where(ContaAzulConnection.team_id == team_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


def _info(row: ContaAzulConnection) -> ConnectionInfo:
    return ConnectionInfo(
        team_id=row.team_id,
        company_id=row.company_id,
        company_name=row.company_name,
        company_document=row.company_document,
        connected_by=row.connected_by,
        connected_at=row.connected_at,
        status=row.status,
        default_account_id=row.default_account_id,
        default_account_name=row.default_account_name,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return loads(response.content) if response.content else None
    except ValueError:
        return None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
