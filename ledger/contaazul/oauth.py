"""Connecting a Slack team to Conta Azul: the OAuth 2.0 authorization-code flow and the stored connection.

The flow is bound to the admin's browser. ``/contaazul connect`` stores a one-time ``state`` with a PKCE code
verifier (RFC 7636, S256) and hands the admin a start link on Aprova; opening it records the SHA-256 of a secret
the browser keeps in a cookie, then redirects to Conta Azul. The callback is accepted only from that browser, and
the code is exchanged with the verifier: a forwarded link or an authorize URL read in a proxy log connects
nothing. Conta Azul does not document PKCE (it advertises it); an authorization server that ignores it loses
nothing, as the state and the browser binding are ours.

The authorize URL, the code exchange and the refresh go through authlib's OAuth 2 client
(:class:`TokenEndpoint`). Only its protocol work is used: its automatic refresh is in-process, whereas the refresh
token rotates and must be refreshed once across processes, which ``tokens.py`` coordinates through the database.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import authlib.deprecate  # noqa: F401  # installs authlib's own warning filter first, so ours below wins
import httpx
from authlib.oauth2.auth import encode_client_secret_basic, encode_client_secret_post
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

with warnings.catch_warnings():
    # Authlib 1.9 announces a move to the httpx2 package and warns on every start while httpx is used; Aprova
    # uses httpx, which authlib still supports fully.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

logger = logging.getLogger(__name__)

SCOPE: Final = "openid profile aws.cognito.signin.user.admin"
STATUS_ACTIVE: Final = "active"
STATUS_NEEDS_RECONNECT: Final = "needs_reconnect"
STATE_TTL: Final = timedelta(minutes=10)
# Conta Azul's docs show the client credentials both in a Basic header and in the body; sending both is safe.
CLIENT_AUTH: Final = "client_secret_basic_and_post"

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
    def authorize_url(self) -> str:
        """The browser's authorize endpoint."""
        return f"{self.auth_url.rstrip('/')}/oauth2/authorize"

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
        """True when the tokens no longer work (refused, or unreadable with the configured keys)."""
        return self.status == STATUS_NEEDS_RECONNECT


@dataclass(frozen=True, slots=True)
class Authorization:
    """A state used up by its callback: who started the flow, and the PKCE verifier for the code exchange."""

    team_id: str
    user_id: str
    code_verifier: str = field(repr=False)


# --------------------------------------------------------------------------- token endpoint


class TokenEndpoint:
    """Conta Azul's authorization server through authlib's ``AsyncOAuth2Client``: the authorize URL with PKCE S256,
    the code exchange and the refresh, with Aprova's errors.

    The client holds no team's token (a connector serves every team); each call returns the tokens it got.
    """

    def __init__(
        self,
        config: OAuthConfig,
        *,
        timeout: httpx.Timeout | float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Args:
        config: Client credentials, URLs and the registered redirect URI.
        timeout: httpx timeouts for the token endpoint.
        transport: An httpx transport (tests pass ``httpx.MockTransport``); the default one otherwise.
        """
        self.config = config
        self._oauth = AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method=CLIENT_AUTH,
            redirect_uri=config.redirect_uri,
            code_challenge_method="S256",
            timeout=timeout,
            transport=transport,
        )
        self._oauth.register_client_auth_method((CLIENT_AUTH, _basic_and_body))
        self._oauth.register_compliance_hook("access_token_response", _refusals("authorization_code", "code_invalid"))
        self._oauth.register_compliance_hook("refresh_token_response", _refusals("refresh_token", "refresh_invalid"))

    def authorization_url(self, *, state: str, code_verifier: str) -> str:
        """The consent page's URL for this state, carrying the PKCE challenge of ``code_verifier``."""
        url, _ = self._oauth.create_authorization_url(
            self.config.authorize_url, state=state, code_verifier=code_verifier, scope=SCOPE
        )
        return str(url)

    async def exchange_code(self, *, code: str, code_verifier: str, clock: Clock | None = None) -> TokenSet:
        """Trade an authorization code (valid 3 minutes, single use) for tokens.

        Raises:
            OAuthGrantError: ``code_invalid`` when the code was reused, expired, issued for another redirect or
                the verifier does not match its challenge.
            PermanentGatewayError: Other refusals (e.g. ``invalid_client``).
            RetryableGatewayError: 5xx, 429, timeout or dropped connection.
        """
        token = await self._call(
            "authorization_code",
            self._oauth.fetch_token(
                self.config.token_url, grant_type="authorization_code", code=code, code_verifier=code_verifier
            ),
        )
        return _token_set(token, clock or SystemClock(), previous_refresh_token=None)

    async def refresh(self, *, refresh_token: str, clock: Clock | None = None) -> TokenSet:
        """Use a refresh token (it rotates: the returned one replaces it and must be stored before use).

        Returns:
            The new tokens (the old refresh token is kept if the server did not send a new one).

        Raises:
            OAuthGrantError: ``refresh_invalid`` when the refresh token was revoked, expired or already used.
            PermanentGatewayError: Other refusals.
            RetryableGatewayError: 5xx, 429, timeout or dropped connection (the old token may have been consumed).
        """
        token = await self._call(
            "refresh_token", self._oauth.refresh_token(self.config.token_url, refresh_token=refresh_token)
        )
        return _token_set(token, clock or SystemClock(), previous_refresh_token=refresh_token)

    async def aclose(self) -> None:
        await self._oauth.aclose()

    @staticmethod
    async def _call(grant: str, call: Any) -> Any:
        try:
            return await call
        except httpx.TransportError as exc:
            logger.warning("conta azul token endpoint unreachable (%s): %s", grant, type(exc).__name__)
            raise RetryableGatewayError(f"token endpoint unreachable ({grant})", outcome_unknown=True) from exc
        except (OAuthError, ValueError) as exc:  # a 200 that is not a token response; never echo its body
            logger.warning("conta azul token endpoint %s -> unreadable answer (%s)", grant, type(exc).__name__)
            raise PermanentGatewayError(f"token endpoint answered {grant} with no token", status=200) from None


def _basic_and_body(client: Any, method: str, uri: str, headers: Any, body: str) -> tuple[str, Any, str]:
    uri, headers, body = encode_client_secret_basic(client, method, uri, headers, body)
    return encode_client_secret_post(client, method, uri, headers, body)  # type: ignore[no-any-return]


def _refusals(grant: str, grant_error: str) -> Any:
    """An authlib compliance hook: any answer but 200 becomes Aprova's error before authlib reads it."""

    def check(response: httpx.Response) -> httpx.Response:
        if response.status_code == 200:
            return response
        payload = _json(response)
        error = payload.get("error") if isinstance(payload, dict) else None
        # Error bodies only carry codes and descriptions (a 200's body, with tokens, never gets here).
        logger.warning("conta azul token endpoint %s -> %s %s", grant, response.status_code, error or "")
        if error == "invalid_grant":
            raise OAuthGrantError(grant_error, f"token endpoint refused the {grant} grant", status=400, body=payload)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableGatewayError(
                f"token endpoint failed with {response.status_code}", status=response.status_code, body=payload
            )
        raise PermanentGatewayError(
            f"token endpoint refused {grant}: {error or response.status_code}",
            status=response.status_code,
            body=payload,
        )

    return check


def _token_set(token: Any, clock: Clock, *, previous_refresh_token: str | None) -> TokenSet:
    if not isinstance(token, dict) or not token.get("access_token"):
        raise PermanentGatewayError("token response has no access_token", status=200)
    refresh = token.get("refresh_token") or previous_refresh_token
    if not refresh:
        raise PermanentGatewayError("token response has no refresh_token", status=200)
    expires_in = token.get("expires_in")
    seconds = int(expires_in) if isinstance(expires_in, int | str) and str(expires_in).isdigit() else 3600
    id_token = token.get("id_token")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(refresh),
        expires_at=clock.now() + timedelta(seconds=seconds),
        id_token=str(id_token) if id_token else None,
    )


# --------------------------------------------------------------------------- state


def browser_hash(binding: str) -> str:
    """What is stored of the browser's secret: its SHA-256, so the database alone cannot complete a flow."""
    return hashlib.sha256(binding.encode("utf-8")).hexdigest()


async def start_authorization(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    cipher: TokenCipher,
    team_id: str,
    user_id: str,
    ttl: timedelta = STATE_TTL,
) -> str:
    """Store a one-time ``state`` (with its PKCE verifier, encrypted) for this admin and return it; it names the
    start link."""
    state = secrets.token_urlsafe(32)
    now = clock.now()
    async with session_factory.begin() as session:
        session.add(
            OAuthState(
                state=state,
                team_id=team_id,
                user_id=user_id,
                created_at=now,
                expires_at=now + ttl,
                code_verifier_enc=cipher.encrypt(secrets.token_urlsafe(64)),
            )
        )
    return state


async def open_in_browser(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    cipher: TokenCipher,
    endpoint: TokenEndpoint,
    state: str,
    binding: str,
) -> str:
    """The start link was opened: bind the state to this browser (once) and return Conta Azul's authorize URL.

    Args:
        session_factory: Database sessions.
        clock: Time source.
        cipher: Decrypts the PKCE verifier.
        endpoint: Builds the authorize URL.
        state: The state the start link names.
        binding: The secret this browser keeps in its cookie.

    Raises:
        OAuthStateError: ``state_unknown``, ``state_expired`` or ``state_used`` (the link was opened before).
    """
    now = clock.now()
    async with session_factory.begin() as session:
        row = await session.get(OAuthState, state) if state else None
        _check_usable(row, now)
        assert row is not None
        if row.started_at is not None or not row.code_verifier_enc:
            raise OAuthStateError("state_used")
        verifier = _verifier(cipher, row.code_verifier_enc)
        result = await session.execute(
            update(OAuthState)
            .where(OAuthState.state == state, OAuthState.started_at.is_(None))
            .values(started_at=now, browser_hash=browser_hash(binding))
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            raise OAuthStateError("state_used")
    return endpoint.authorization_url(state=state, code_verifier=verifier)


async def consume_state(
    session_factory: SessionFactory, *, clock: Clock, cipher: TokenCipher, state: str, binding: str | None
) -> Authorization:
    """Use a ``state`` once, from the browser that opened its start link.

    A callback from another browser (no cookie, or another one) is refused without using the state up, so a
    stranger holding the authorize URL cannot spoil the admin's own callback either.

    Raises:
        OAuthStateError: ``state_unknown``, ``state_expired``, ``state_used`` or ``browser_mismatch``.
    """
    now = clock.now()
    async with session_factory.begin() as session:
        row = await session.get(OAuthState, state) if state else None
        _check_usable(row, now)
        assert row is not None
        if not (row.browser_hash and row.code_verifier_enc and binding) or not hmac.compare_digest(
            row.browser_hash, browser_hash(binding)
        ):
            raise OAuthStateError("browser_mismatch")
        result = await session.execute(
            update(OAuthState)
            .where(OAuthState.state == state, OAuthState.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            raise OAuthStateError("state_used")
        return Authorization(row.team_id, row.user_id, _verifier(cipher, row.code_verifier_enc))


def _verifier(cipher: TokenCipher, encrypted: str) -> str:
    try:
        return cipher.decrypt(encrypted)
    except ValueError:  # encrypted with a key no longer configured: this flow cannot finish
        raise OAuthStateError("state_unknown") from None


def _check_usable(row: OAuthState | None, now: datetime) -> None:
    if row is None:
        raise OAuthStateError("state_unknown")
    if row.used_at is not None:
        raise OAuthStateError("state_used")
    if row.expires_at <= now:
        raise OAuthStateError("state_expired")


# --------------------------------------------------------------------------- connection


async def complete_connection(
    session_factory: SessionFactory,
    *,
    clock: Clock,
    cipher: TokenCipher,
    endpoint: TokenEndpoint,
    http: httpx.AsyncClient,
    state: str,
    code: str,
    binding: str | None,
    sleep: Sleep | None = None,
) -> ConnectionInfo:
    """Finish the callback: use the state, exchange the code, read the company, store the connection.

    Args:
        session_factory: Database sessions.
        clock: Time source.
        cipher: Encrypts the tokens at rest.
        endpoint: The token endpoint.
        http: Shared HTTP client for the API.
        state: ``state`` from the callback.
        code: ``code`` from the callback.
        binding: The secret from the browser's cookie (None when it sent none).
        sleep: How the client waits on the rate limit (tests move a fake clock); ``asyncio.sleep`` if None.

    Returns:
        The stored connection.

    Raises:
        OAuthStateError: The state is unknown, expired, reused or the browser is not the one that opened the start
            link (nothing is called or stored).
        OAuthGrantError: The code was refused (``code_invalid``).
        GatewayError: The token endpoint or the API failed.
    """
    started = await consume_state(session_factory, clock=clock, cipher=cipher, state=state, binding=binding)
    tokens = await endpoint.exchange_code(code=code, code_verifier=started.code_verifier, clock=clock)
    company = await ContaAzulClient(
        http,
        api_url=endpoint.config.api_url,
        tokens=StaticTokenSource(tokens.access_token),
        team_id=started.team_id,
        clock=clock,
        sleep=sleep,
    ).connected_company()
    info = await _store_connection(
        session_factory,
        clock=clock,
        cipher=cipher,
        team_id=started.team_id,
        user_id=started.user_id,
        tokens=tokens,
        company=company,
    )
    logger.info("team %s connected to conta azul company %s", started.team_id, company.id)
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
                row.refresh_lease_owner = None
                row.refresh_lease_until = None
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
