"""OAuth connection and token refresh against the Conta Azul sandbox on loopback (SQLite, and PostgreSQL if up)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
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
    complete_connection,
    consume_state,
    disconnect,
    exchange_code,
    get_connection_info,
    refresh_tokens,
    set_default_account,
    start_authorization,
)
from ledger.contaazul.sandbox import Sandbox
from ledger.contaazul.tokens import TokenManager
from ledger.errors import ConnectionNeedsReconnect, NotConnected, OAuthGrantError, OAuthStateError
from ledger.models import Base, ContaAzulConnection

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CLIENT_ID = "aprova-test"
CLIENT_SECRET = "test-secret"
REDIRECT_URI = "https://aprova.example/contaazul/callback"
TEAM = "T0001"
ADMIN = "U0ADMIN"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(Fernet.generate_key().decode())


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
    return query["code"][0], query["state"][0]


async def connect(
    sessions: Factory, clock: FixedClock, cipher: TokenCipher, http: httpx.AsyncClient, config: OAuthConfig
) -> ConnectionInfo:
    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    code, state = await authorize(http, url)
    return await complete_connection(
        sessions, clock=clock, cipher=cipher, http=http, config=config, state=state, code=code
    )


async def stored(sessions: Factory, team_id: str = TEAM) -> ContaAzulConnection | None:
    async with sessions() as session:
        return (
            await session.execute(select(ContaAzulConnection).where(ContaAzulConnection.team_id == team_id))
        ).scalar_one_or_none()


def manager(
    sessions: Factory, cipher: TokenCipher, clock: FixedClock, http: httpx.AsyncClient, config: OAuthConfig
) -> TokenManager:
    return TokenManager(sessions, cipher=cipher, clock=clock, http=http, config=config)


# --------------------------------------------------------------------------- OAuth


@pytest.mark.anyio
async def test_authorize_url_shape(sessions: Factory, clock: FixedClock, config: OAuthConfig) -> None:
    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{config.auth_url}/oauth2/authorize"
    assert "scope=openid+profile+aws.cognito.signin.user.admin" in parts.query
    query = parse_qs(parts.query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == [SCOPE]
    assert len(query["state"][0]) >= 43


@pytest.mark.anyio
async def test_code_exchange_stores_encrypted_connection(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    config: OAuthConfig,
) -> None:
    info = await connect(sessions, clock, cipher, http, config)
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


@pytest.mark.anyio
async def test_reused_code_is_code_invalid(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, config: OAuthConfig
) -> None:
    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    code, _ = await authorize(http, url)
    await exchange_code(http, config=config, code=code, clock=clock)
    with pytest.raises(OAuthGrantError) as info:
        await exchange_code(http, config=config, code=code, clock=clock)
    assert info.value.code == "code_invalid"


@pytest.mark.anyio
async def test_expired_code_is_code_invalid(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, config: OAuthConfig
) -> None:
    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    code, _ = await authorize(http, url)
    clock.advance(timedelta(minutes=3, seconds=1))
    with pytest.raises(OAuthGrantError) as info:
        await exchange_code(http, config=config, code=code, clock=clock)
    assert info.value.code == "code_invalid"


@pytest.mark.anyio
async def test_state_forged_reused_expired(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    config: OAuthConfig,
) -> None:
    with pytest.raises(OAuthStateError) as forged:
        await complete_connection(
            sessions, clock=clock, cipher=cipher, http=http, config=config, state="forged", code="x"
        )
    assert forged.value.code == "state_unknown"

    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    code, state = await authorize(http, url)
    assert await consume_state(sessions, clock=clock, state=state) == (TEAM, ADMIN)
    with pytest.raises(OAuthStateError) as reused:
        await complete_connection(
            sessions, clock=clock, cipher=cipher, http=http, config=config, state=state, code=code
        )
    assert reused.value.code == "state_used"

    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    code, state = await authorize(http, url)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(OAuthStateError) as expired:
        await consume_state(sessions, clock=clock, state=state)
    assert expired.value.code == "state_expired"

    # None of these reached the token endpoint or stored anything.
    assert sandbox.state.token_issue_count == 0
    assert await stored(sessions) is None


@pytest.mark.anyio
async def test_concurrent_callbacks_with_one_state_use_it_once(
    sandbox: Sandbox, sessions: Factory, clock: FixedClock, http: httpx.AsyncClient, config: OAuthConfig
) -> None:
    url = await start_authorization(sessions, clock=clock, config=config, team_id=TEAM, user_id=ADMIN)
    _, state = await authorize(http, url)
    results = await asyncio.gather(
        *(consume_state(sessions, clock=clock, state=state) for _ in range(10)), return_exceptions=True
    )
    assert sum(1 for r in results if r == (TEAM, ADMIN)) == 1
    assert all(isinstance(r, OAuthStateError) and r.code == "state_used" for r in results if r != (TEAM, ADMIN))


@pytest.mark.anyio
async def test_disconnect_removes_tokens(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    config: OAuthConfig,
) -> None:
    await connect(sessions, clock, cipher, http, config)
    assert await disconnect(sessions, team_id=TEAM) is True
    assert await stored(sessions) is None
    assert await disconnect(sessions, team_id=TEAM) is False
    with pytest.raises(NotConnected):
        await manager(sessions, cipher, clock, http, config).access_token(TEAM)
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
    config: OAuthConfig,
) -> None:
    await connect(sessions, clock, cipher, http, config)
    tokens = manager(sessions, cipher, clock, http, config)
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
    config: OAuthConfig,
) -> None:
    await connect(sessions, clock, cipher, http, config)
    before = await stored(sessions)
    assert before is not None
    old_access, old_refresh = cipher.decrypt(before.access_token_enc), cipher.decrypt(before.refresh_token_enc)

    clock.advance(timedelta(hours=1))
    tokens = manager(sessions, cipher, clock, http, config)
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
        await refresh_tokens(http, config=config, refresh_token=old_refresh, clock=clock)
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
    config: OAuthConfig,
) -> None:
    await connect(sessions, clock, cipher, http, config)
    clock.advance(timedelta(hours=2))
    tokens = manager(sessions, cipher, clock, http, config)
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
    config: OAuthConfig,
) -> None:
    await connect(sessions, clock, cipher, http, config)
    sandbox.revoke_refresh_tokens()
    clock.advance(timedelta(hours=1))
    tokens = manager(sessions, cipher, clock, http, config)

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
    info = await connect(sessions, clock, cipher, http, config)
    assert info.status == "active"
    assert await tokens.access_token(TEAM)
    row = await stored(sessions)
    assert row is not None and row.needs_reconnect_alerted_at is None
    assert await tokens.claim_reconnect_alert(TEAM) is False  # active: nothing to alert


@pytest.mark.anyio
async def test_api_401_invalidates_and_retries_once_with_a_refreshed_token(
    sandbox: Sandbox,
    sessions: Factory,
    clock: FixedClock,
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    config: OAuthConfig,
) -> None:
    await connect(sessions, clock, cipher, http, config)
    tokens = manager(sessions, cipher, clock, http, config)
    client = ContaAzulClient(
        http,
        api_url=config.api_url,
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


# --------------------------------------------------------------------------- PostgreSQL: two "processes"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=2)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    name = f"aprova_t_{uuid.uuid4().hex}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.anyio
async def test_two_processes_refresh_once_on_postgresql(
    pg_url: str, sandbox: Sandbox, clock: FixedClock, cipher: TokenCipher, http: httpx.AsyncClient, config: OAuthConfig
) -> None:
    engine_a, engine_b = db.create_engine(pg_url), db.create_engine(pg_url)
    try:
        async with engine_a.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions_a, sessions_b = db.create_session_factory(engine_a), db.create_session_factory(engine_b)
        await connect(sessions_a, clock, cipher, http, config)
        assert await get_connection_info(sessions_b, team_id=TEAM) is not None  # warm both pools
        clock.advance(timedelta(hours=2))
        # A slow token endpoint keeps the refresh in flight while the other process reads the row.
        sandbox.slow_next(1, seconds=0.2, path_prefix="/oauth2/token")
        # Separate engines, managers (so separate asyncio locks) and HTTP clients: only the row lock is shared.
        async with httpx.AsyncClient(timeout=5.0) as http_b:
            process_a = manager(sessions_a, cipher, clock, http, config)
            process_b = manager(sessions_b, cipher, clock, http_b, config)
            calls = [process_a.access_token(TEAM) for _ in range(25)] + [
                process_b.access_token(TEAM) for _ in range(25)
            ]
            results = await asyncio.gather(*calls)
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
