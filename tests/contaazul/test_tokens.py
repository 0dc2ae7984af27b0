"""OAuth connection and token refresh against the Conta Azul sandbox on loopback (SQLite, and PostgreSQL if up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ledger import db
from ledger.clock import FixedClock
from ledger.contaazul.client import ContaAzulClient
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import RateLimiter
from ledger.contaazul.oauth import (
    SCOPE,
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
from ledger.contaazul.sandbox import Sandbox
from ledger.contaazul.sandbox.oauth import s256_challenge
from ledger.contaazul.tokens import TokenManager
from ledger.errors import (
    ConnectionNeedsReconnect,
    NotConnected,
    OAuthGrantError,
    OAuthStateError,
    RetryableGatewayError,
)
from ledger.models import Base, ContaAzulConnection, OAuthState

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CLIENT_ID = "aprova-test"
CLIENT_SECRET = "test-secret"
REDIRECT_URI = "https://aprova.example/contaazul/callback"
TEAM = "T0001"
ADMIN = "U0ADMIN"
BROWSER = "the-secret-in-the-admins-cookie"
CIPHER = TokenCipher(Fernet.generate_key().decode())  # what keeps the PKCE verifiers of these flows

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def cipher() -> TokenCipher:
    return CIPHER


@pytest.fixture
async def sandbox(clock: FixedClock) -> AsyncIterator[Sandbox]:
    sb = Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock.now, auto_consent=True)
    await sb.start(port=0)
    try:
        yield sb
    finally:
        await sb.stop()


@pytest.fixture
def config(sandbox: Sandbox) -> OAuthConfig:
    return OAuthConfig(CLIENT_ID, CLIENT_SECRET, sandbox.auth_url, sandbox.api_url, REDIRECT_URI)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
async def endpoint(config: OAuthConfig) -> AsyncIterator[TokenEndpoint]:
    token_endpoint = TokenEndpoint(config, timeout=5.0)
    try:
        yield token_endpoint
    finally:
        await token_endpoint.aclose()


async def make_sqlite(path: Path) -> tuple[AsyncEngine, Factory]:
    engine = db.create_engine(f"sqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return engine, db.create_session_factory(engine)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Factory]:
    engine, factory = await make_sqlite(tmp_path / "tokens.db")
    try:
        yield factory
    finally:
        await engine.dispose()


async def authorize(http: httpx.AsyncClient, url: str) -> tuple[str, str]:
    """Play the browser: the sandbox auto-consents and redirects back with code and state."""
    response = await http.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "error" not in query, query
    return query["code"][0], query["state"][0]


async def begin(sessions: Factory, clock: FixedClock, endpoint: TokenEndpoint, binding: str = BROWSER) -> str:
    """``/contaazul connect`` and its start link opened in the admin's browser: Conta Azul's authorize URL."""
    state = await start_authorization(sessions, clock=clock, cipher=CIPHER, team_id=TEAM, user_id=ADMIN)
    return await open_in_browser(sessions, clock=clock, cipher=CIPHER, endpoint=endpoint, state=state, binding=binding)


async def connect(
    sessions: Factory, clock: FixedClock, cipher: TokenCipher, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> ConnectionInfo:
    code, state = await authorize(http, await begin(sessions, clock, endpoint))
    return await complete_connection(
        sessions, clock=clock, cipher=cipher, endpoint=endpoint, http=http, state=state, code=code, binding=BROWSER
    )


async def stored(sessions: Factory, team_id: str = TEAM) -> ContaAzulConnection | None:
    async with sessions() as session:
        return (
            await session.execute(select(ContaAzulConnection).where(ContaAzulConnection.team_id == team_id))
        ).scalar_one_or_none()


def manager(
    sessions: Factory, cipher: TokenCipher, clock: FixedClock, endpoint: TokenEndpoint, **options: object
) -> TokenManager:
    return TokenManager(sessions, cipher=cipher, clock=clock, endpoint=endpoint, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- OAuth


@pytest.mark.anyio
async def test_authorize_url_shape_carries_a_pkce_challenge(
    sessions: Factory, clock: FixedClock, config: OAuthConfig, endpoint: TokenEndpoint
) -> None:
    url = await begin(sessions, clock, endpoint)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{config.auth_url}/oauth2/authorize"
    assert "scope=openid+profile+aws.cognito.signin.user.admin" in parts.query
    query = parse_qs(parts.query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == [SCOPE]
    assert len(query["state"][0]) >= 43
    async with sessions() as session:
        row = await session.get(OAuthState, query["state"][0])
    assert row is not None and row.code_verifier_enc is not None
    verifier = CIPHER.decrypt(row.code_verifier_enc)  # kept encrypted, like the tokens
    assert 43 <= len(verifier) <= 128 and verifier not in row.code_verifier_enc
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [s256_challenge(verifier)]
    assert verifier not in url  # the verifier never leaves Aprova before the code exchange


@pytest.mark.anyio
async def test_code_exchange_stores_encrypted_connection(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    info = await connect(sessions, clock, cipher, http, endpoint)
    assert info.company_name == "Padaria Pão Quente Ltda"
    assert info.company_document == sandbox.state.company.documento
    assert info.company_id == sandbox.state.company.id
    assert (info.connected_by, info.status, info.connected_at) == (ADMIN, "active", T0)

    row = await stored(sessions)
    assert row is not None and row.access_expires_at == T0 + timedelta(hours=1)
    access = cipher.decrypt(row.access_token_enc)
    refresh = cipher.decrypt(row.refresh_token_enc)
    assert access in sandbox.state.access_tokens and refresh in sandbox.state.refresh_tokens
    assert access not in row.access_token_enc and refresh not in row.refresh_token_enc

    assert await get_connection_info(sessions, team_id=TEAM) == info
    updated = await set_default_account(sessions, clock=clock, team_id=TEAM, account_id="acc", account_name="Itaú")
    assert (updated.default_account_id, updated.default_account_name) == ("acc", "Itaú")


async def callback(sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, endpoint: TokenEndpoint) -> tuple:
    """A consent given: the code, and the verifier the callback would present with it."""
    code, state = await authorize(http, await begin(sessions, clock, endpoint))
    verifier = (await consume_state(sessions, clock=clock, cipher=CIPHER, state=state, binding=BROWSER)).code_verifier
    return code, verifier


@pytest.mark.anyio
async def test_reused_code_is_code_invalid(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    code, verifier = await callback(sessions, clock, http, endpoint)
    await endpoint.exchange_code(code=code, code_verifier=verifier, clock=clock)
    with pytest.raises(OAuthGrantError) as info:
        await endpoint.exchange_code(code=code, code_verifier=verifier, clock=clock)
    assert info.value.code == "code_invalid"


@pytest.mark.anyio
async def test_expired_code_is_code_invalid(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    code, verifier = await callback(sessions, clock, http, endpoint)
    clock.advance(timedelta(minutes=3, seconds=1))
    with pytest.raises(OAuthGrantError) as info:
        await endpoint.exchange_code(code=code, code_verifier=verifier, clock=clock)
    assert info.value.code == "code_invalid"


@pytest.mark.anyio
async def test_a_code_without_its_verifier_is_refused(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    """PKCE end to end: a code intercepted on its way back is worthless without the verifier Aprova kept."""
    code, verifier = await callback(sessions, clock, http, endpoint)
    for wrong in ("", "x" * 64, verifier[:-1] + ("A" if verifier[-1] != "A" else "B")):
        with pytest.raises(OAuthGrantError) as info:
            await endpoint.exchange_code(code=code, code_verifier=wrong, clock=clock)
        assert info.value.code == "code_invalid"
    tokens = await endpoint.exchange_code(code=code, code_verifier=verifier, clock=clock)
    assert tokens.access_token in sandbox.state.access_tokens


@pytest.mark.anyio
async def test_state_forged_reused_expired(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    def complete(state: str, code: str) -> Any:
        return complete_connection(
            sessions, clock=clock, cipher=cipher, endpoint=endpoint, http=http, state=state, code=code, binding=BROWSER
        )

    with pytest.raises(OAuthStateError) as forged:
        await complete("forged", "x")
    assert forged.value.code == "state_unknown"

    code, state = await authorize(http, await begin(sessions, clock, endpoint))
    assert (await consume_state(sessions, clock=clock, cipher=CIPHER, state=state, binding=BROWSER)).team_id == TEAM
    with pytest.raises(OAuthStateError) as reused:
        await complete(state, code)
    assert reused.value.code == "state_used"

    code, state = await authorize(http, await begin(sessions, clock, endpoint))
    clock.advance(timedelta(minutes=10))
    with pytest.raises(OAuthStateError) as expired:
        await consume_state(sessions, clock=clock, cipher=CIPHER, state=state, binding=BROWSER)
    assert expired.value.code == "state_expired"

    # None of these reached the token endpoint or stored anything.
    assert sandbox.state.token_issue_count == 0
    assert await stored(sessions) is None


@pytest.mark.anyio
async def test_only_the_browser_that_opened_the_start_link_completes(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    state = await start_authorization(sessions, clock=clock, cipher=CIPHER, team_id=TEAM, user_id=ADMIN)
    url = await open_in_browser(sessions, clock=clock, cipher=CIPHER, endpoint=endpoint, state=state, binding=BROWSER)
    with pytest.raises(OAuthStateError) as again:  # the start link works once
        await open_in_browser(
            sessions, clock=clock, cipher=CIPHER, endpoint=endpoint, state=state, binding="another browser"
        )
    assert again.value.code == "state_used"

    code, _ = await authorize(http, url)
    for stranger in (None, "", "another browser"):  # the authorize URL leaked: its callback from elsewhere
        with pytest.raises(OAuthStateError) as refused:
            await complete_connection(
                sessions,
                clock=clock,
                cipher=cipher,
                endpoint=endpoint,
                http=http,
                state=state,
                code=code,
                binding=stranger,
            )
        assert refused.value.code == "browser_mismatch"
    assert sandbox.state.token_issue_count == 0 and await stored(sessions) is None

    # Refusing strangers did not use the state up: the admin's own callback still connects.
    info = await complete_connection(
        sessions, clock=clock, cipher=cipher, endpoint=endpoint, http=http, state=state, code=code, binding=BROWSER
    )
    assert (info.team_id, info.connected_by) == (TEAM, ADMIN)

    # A state whose start link was never opened has no browser: nothing completes it.
    state = await start_authorization(sessions, clock=clock, cipher=CIPHER, team_id=TEAM, user_id=ADMIN)
    with pytest.raises(OAuthStateError) as unopened:
        await consume_state(sessions, clock=clock, cipher=CIPHER, state=state, binding=BROWSER)
    assert unopened.value.code == "browser_mismatch"


@pytest.mark.anyio
async def test_concurrent_callbacks_with_one_state_use_it_once(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    _, state = await authorize(http, await begin(sessions, clock, endpoint))
    results = await asyncio.gather(
        *(consume_state(sessions, clock=clock, cipher=CIPHER, state=state, binding=BROWSER) for _ in range(10)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert [(r.team_id, r.user_id) for r in won] == [(TEAM, ADMIN)]
    assert all(isinstance(r, OAuthStateError) and r.code == "state_used" for r in results if r not in won)


@pytest.mark.anyio
async def test_disconnect_removes_tokens(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    assert await disconnect(sessions, team_id=TEAM) is True
    assert await stored(sessions) is None
    assert await disconnect(sessions, team_id=TEAM) is False
    with pytest.raises(NotConnected):
        await manager(sessions, cipher, clock, endpoint).access_token(TEAM)
    with pytest.raises(NotConnected):
        await set_default_account(sessions, clock=clock, team_id=TEAM, account_id="a", account_name="b")


# --------------------------------------------------------------------------- refresh


@pytest.mark.anyio
async def test_fresh_token_is_served_without_refresh(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    tokens = manager(sessions, cipher, clock, endpoint)
    clock.advance(timedelta(minutes=58, seconds=59))  # 61 s left: outside the 60 s leeway
    first = await tokens.access_token(TEAM)
    clock.advance(timedelta(seconds=2))  # 59 s left: inside the leeway
    second = await tokens.access_token(TEAM)
    assert first != second
    assert sandbox.state.refresh_count == 1


@pytest.mark.anyio
async def test_refresh_rotation_is_persisted_and_old_refresh_token_dies(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    before = await stored(sessions)
    assert before is not None
    old_access, old_refresh = cipher.decrypt(before.access_token_enc), cipher.decrypt(before.refresh_token_enc)

    clock.advance(timedelta(hours=1))
    tokens = manager(sessions, cipher, clock, endpoint)
    new_access = await tokens.access_token(TEAM)

    after = await stored(sessions)
    assert after is not None
    assert new_access != old_access and cipher.decrypt(after.access_token_enc) == new_access
    new_refresh = cipher.decrypt(after.refresh_token_enc)
    assert new_refresh != old_refresh and new_refresh in sandbox.state.refresh_tokens
    assert after.token_version == before.token_version + 1
    assert after.last_refresh_at == clock.now()
    assert after.access_expires_at == clock.now() + timedelta(hours=1)

    with pytest.raises(OAuthGrantError) as info:
        await endpoint.refresh(refresh_token=old_refresh, clock=clock)
    assert info.value.code == "refresh_invalid"
    # The rotated token still works: the failed replay did not revoke it.
    clock.advance(timedelta(hours=1))
    assert await tokens.access_token(TEAM) not in (old_access, new_access)


@pytest.mark.anyio
async def test_fifty_concurrent_calls_refresh_once_on_sqlite(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    clock.advance(timedelta(hours=2))
    tokens = manager(sessions, cipher, clock, endpoint)
    results = await asyncio.gather(*(tokens.access_token(TEAM) for _ in range(50)))
    assert len(set(results)) == 1
    assert sandbox.state.refresh_count == 1
    assert tokens.refresh_count == 1


@pytest.mark.anyio
async def test_invalid_grant_marks_needs_reconnect_without_retrying(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    sandbox.revoke_refresh_tokens()
    clock.advance(timedelta(hours=1))
    tokens = manager(sessions, cipher, clock, endpoint)

    results = await asyncio.gather(*(tokens.access_token(TEAM) for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, ConnectionNeedsReconnect) for r in results)
    assert sandbox.state.refresh_count == 1
    with pytest.raises(ConnectionNeedsReconnect):
        await tokens.access_token(TEAM)
    assert sandbox.state.refresh_count == 1  # no second attempt, ever

    info = await get_connection_info(sessions, team_id=TEAM)
    assert info is not None and info.needs_reconnect
    assert await tokens.claim_reconnect_alert(TEAM) is True
    assert await tokens.claim_reconnect_alert(TEAM) is False

    # Reconnecting heals the connection and re-arms the alert.
    info = await connect(sessions, clock, cipher, http, endpoint)
    assert info.status == "active"
    assert await tokens.access_token(TEAM)
    row = await stored(sessions)
    assert row is not None and row.needs_reconnect_alerted_at is None
    assert await tokens.claim_reconnect_alert(TEAM) is False  # active: nothing to alert


@pytest.mark.anyio
async def test_a_lease_left_by_a_dead_process_is_waited_out_then_taken_over(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    clock.advance(timedelta(hours=2))
    # Another process claimed the refresh and died before storing anything: its lease still runs for 10 seconds.
    async with sessions.begin() as session:
        await session.execute(
            update(ContaAzulConnection).values(
                refresh_lease_owner="a-dead-process", refresh_lease_until=clock.now() + timedelta(seconds=10)
            )
        )
    started = clock.now()
    tokens = manager(sessions, cipher, clock, endpoint, sleep=clock.sleep)  # waiting moves the test's clock
    access = await tokens.access_token(TEAM)
    assert clock.now() - started >= timedelta(seconds=10)  # nobody refreshed while the lease held
    assert access in sandbox.state.access_tokens and sandbox.state.refresh_count == 1
    row = await stored(sessions)
    assert row is not None and row.refresh_lease_owner is None and row.refresh_lease_until is None


@pytest.mark.anyio
async def test_a_token_endpoint_slower_than_the_refresh_timeout_frees_the_lease(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    clock.advance(timedelta(hours=2))
    sandbox.hold(path_prefix="/oauth2/token")
    tokens = manager(sessions, cipher, clock, endpoint, refresh_timeout=timedelta(seconds=0.2))
    with pytest.raises(RetryableGatewayError) as info:
        await tokens.access_token(TEAM)
    assert info.value.params.get("outcome_unknown") is True  # Conta Azul may still rotate the refresh token
    row = await stored(sessions)
    assert row is not None and row.status == "active" and row.refresh_lease_owner is None


@pytest.mark.anyio
async def test_api_401_invalidates_and_retries_once_with_a_refreshed_token(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    endpoint: TokenEndpoint,
) -> None:
    await connect(sessions, clock, cipher, http, endpoint)
    tokens = manager(sessions, cipher, clock, endpoint)
    client = ContaAzulClient(
        http,
        api_url=endpoint.config.api_url,
        tokens=tokens,
        team_id=TEAM,
        clock=clock,
        limiter=RateLimiter(clock=clock, per_second=1000, per_minute=100000),
    )
    sandbox.expire_all_access_tokens()  # our DB still believes the token is good for an hour
    seen = len(sandbox.state.api_calls())

    companies = await asyncio.gather(*(client.connected_company() for _ in range(5)))
    assert {c.name for c in companies} == {"Padaria Pão Quente Ltda"}
    assert sandbox.state.refresh_count == 1
    statuses = [r.status for r in sandbox.state.api_calls()[seen:]]
    assert statuses.count(200) == 5
    assert 1 <= statuses.count(401) <= 5  # each caller retried at most once


# --------------------------------------------------------------------------- two "processes" on one database


@pytest.mark.anyio
async def test_two_processes_refresh_once(
    database_url: str,
    sandbox: Sandbox,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    config: OAuthConfig,
    endpoint: TokenEndpoint,
) -> None:
    engine_a, engine_b = db.create_engine(database_url), db.create_engine(database_url)
    try:
        async with engine_a.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions_a, sessions_b = db.create_session_factory(engine_a), db.create_session_factory(engine_b)
        await connect(sessions_a, clock, cipher, http, endpoint)
        assert await get_connection_info(sessions_b, team_id=TEAM) is not None  # warm both pools
        clock.advance(timedelta(hours=2))
        # A slow token endpoint keeps the refresh in flight while the other process reads the row.
        sandbox.slow_next(1, seconds=0.2, path_prefix="/oauth2/token")
        # Separate engines, managers (so separate asyncio locks) and HTTP clients: only the connection row is
        # shared. The processes wait for each other in real time (the clock stays frozen, so no lease runs out).
        endpoint_b = TokenEndpoint(config, timeout=5.0)
        try:
            process_a = manager(sessions_a, cipher, clock, endpoint)
            process_b = manager(sessions_b, cipher, clock, endpoint_b)
            calls = [process_a.access_token(TEAM) for _ in range(25)] + [
                process_b.access_token(TEAM) for _ in range(25)
            ]
            results = await asyncio.gather(*calls)
        finally:
            await endpoint_b.aclose()
        assert len(set(results)) == 1
        assert sandbox.state.refresh_count == 1
        assert process_a.refresh_count + process_b.refresh_count == 1
        row = await stored(sessions_b)
        assert row is not None and row.token_version == 2
    finally:
        await engine_a.dispose()
        await engine_b.dispose()


# --------------------------------------------------------------------------- the connector's per-team state


@pytest.mark.anyio
async def test_each_connector_keeps_its_own_limits_and_lookups_per_team(
    sessions: Factory, clock: FixedClock, cipher: TokenCipher, config: OAuthConfig
) -> None:
    """Limits and caches belong to the connector that was configured with them (no process-wide registry, where
    the first caller's limits silently won)."""
    slow = ContaAzul(config=config, session_factory=sessions, clock=clock, cipher=cipher, rate_limits=(2, 100))
    fast = ContaAzul(config=config, session_factory=sessions, clock=clock, cipher=cipher, rate_limits=(10, 600))
    try:
        first, again = slow.client(TEAM), slow.client(TEAM)
        assert first.limiter is again.limiter and first.cache is again.cache  # one company, one budget
        assert (first.limiter.per_second, first.limiter.per_minute) == (2, 100)
        other = fast.client(TEAM)
        assert (other.limiter.per_second, other.limiter.per_minute) == (10, 600)
        assert other.cache is not first.cache and slow.client("T0OTHER").limiter is not first.limiter
        first.cache.put(("categories", "DESPESA"), ["x"], clock.now() + timedelta(minutes=5))
        await slow.disconnect(TEAM)  # a new connection may be another company: its lookups start over
        assert slow.client(TEAM).cache.get(("categories", "DESPESA"), clock.now()) is None
    finally:
        await slow.aclose()
        await fast.aclose()
