"""Access tokens for a team's Conta Azul connection, refreshed once at a time across tasks and processes.

The refresh token rotates on every use, so two concurrent refreshes would lock the team out: the second one
presents a token the first already spent. A refresh therefore runs under a per-team asyncio lock (tasks of one
process) and a lease on the connection row (processes): a short transaction claims the lease, the token endpoint
is called with no transaction open, and a second short transaction stores the rotated pair and frees the lease.
No database lock is held while Conta Azul answers (on SQLite a held write lock would stop every Approve click for
as long as the token endpoint takes); another process finding the lease taken waits for the tokens it will store.

Tokens that no configured key decrypts (the encryption key was replaced without ``rotate-key``) mark the connection
``needs_reconnect``, as a refused refresh token does: admins are told once, and nothing crashes on them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import Sleep
from ledger.contaazul.oauth import (
    STATUS_ACTIVE,
    STATUS_NEEDS_RECONNECT,
    SessionFactory,
    TokenEndpoint,
    TokenSet,
    lock_connection_row,
)
from ledger.errors import ConnectionNeedsReconnect, NotConnected, OAuthGrantError, RetryableGatewayError
from ledger.models import ContaAzulConnection
from ledger.ports import Clock

logger = logging.getLogger(__name__)

__all__ = ["ConnectionNeedsReconnect", "KeyRotation", "NotConnected", "TokenManager", "rotate_stored_tokens"]

# How often a process waiting for another one's refresh looks again.
LEASE_POLL_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class _Lease:
    """This caller may refresh: the refresh token to present, and the row version it was read at."""

    owner: str
    token_version: int
    refresh_token: str = field(repr=False)


class TokenManager:
    """Hands out valid access tokens per team, refreshing (and persisting the rotated pair) when needed."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        cipher: TokenCipher,
        clock: Clock,
        endpoint: TokenEndpoint,
        leeway: timedelta = timedelta(seconds=60),
        recheck_after: timedelta = timedelta(seconds=5),
        refresh_timeout: timedelta = timedelta(seconds=20),
        sleep: Sleep | None = None,
    ) -> None:
        """Refresh within ``leeway`` of expiry; reuse a token read from the DB for ``recheck_after`` (0 = never).

        ``refresh_timeout`` bounds one call to the token endpoint, answer included; the lease lasts three times
        as long, so it never runs out under a refresh still in flight. ``sleep`` is how a process waits for
        another one's refresh (tests pass their clock's).
        """
        # recheck_after bounds how late this process notices a disconnect or reconnect made by another process.
        self._session_factory = session_factory
        self._cipher = cipher
        self._clock = clock
        self._endpoint = endpoint
        self._leeway = leeway
        self._recheck_after = recheck_after
        self._refresh_timeout = refresh_timeout
        self._lease_length = refresh_timeout * 3
        self._sleep: Sleep = sleep or asyncio.sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._memo: dict[str, tuple[str, datetime, datetime]] = {}  # team -> (token, expires_at, read_at)
        self.refresh_count = 0

    async def access_token(self, team_id: str, *, min_validity: timedelta | None = None) -> str:
        """A valid access token for the team, refreshing it first when it is (nearly) expired.

        Args:
            team_id: Slack team id.
            min_validity: Refresh unless the token stays valid at least this long (the proactive refresh job
                asks for minutes); the leeway when not given.

        Returns:
            The bearer token (never log it).

        Raises:
            NotConnected: The team has no connection.
            ConnectionNeedsReconnect: The refresh token was refused, or the tokens cannot be decrypted with the
                configured keys; nothing is retried until a reconnect.
            RetryableGatewayError: The token endpoint failed transiently.
        """
        leeway = max(self._leeway, min_validity or self._leeway)
        token = self._remembered(team_id, leeway)
        if token is not None:
            return token
        # One reader per team at a time: a burst of callers costs one query, and at most one refresh.
        async with self._lock(team_id):
            token = self._remembered(team_id, leeway)
            if token is not None:
                return token
            async with self._session_factory() as session:
                row = (
                    await session.execute(
                        select(
                            ContaAzulConnection.status,
                            ContaAzulConnection.access_token_enc,
                            ContaAzulConnection.access_expires_at,
                            ContaAzulConnection.token_version,
                        ).where(ContaAzulConnection.team_id == team_id)
                    )
                ).one_or_none()
            if row is None:
                raise NotConnected(f"team {team_id} is not connected to Conta Azul")
            if row.status == STATUS_NEEDS_RECONNECT:
                raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul")
            if self._fresh(row.access_expires_at, leeway):
                access = await self._decrypt_or_strand(team_id, row.access_token_enc, row.token_version)
                return self._remember(team_id, access, row.access_expires_at)
            return await self._refresh(team_id, leeway)

    async def invalidate(self, team_id: str, rejected_token: str) -> None:
        """Mark ``rejected_token`` expired (the API answered 401) so the next ``access_token`` refreshes.

        Only the token still stored is expired, so a late 401 for an already replaced token costs nothing.

        Args:
            team_id: Slack team id.
            rejected_token: The access token the API refused.
        """
        async with self._lock(team_id):
            self._memo.pop(team_id, None)
            now = self._clock.now()
            async with self._session_factory.begin() as session:
                row = await lock_connection_row(session, team_id)
                if row is None or row.status != STATUS_ACTIVE or row.access_expires_at <= now:
                    return
                if self._readable(row.access_token_enc) == rejected_token:
                    row.access_expires_at = now
                    row.updated_at = now
                    logger.info("conta azul access token of team %s rejected; will refresh", team_id)

    def forget(self, team_id: str) -> None:
        """Drop the team's token kept in memory (call after disconnecting or reconnecting the team)."""
        self._memo.pop(team_id, None)

    async def claim_reconnect_alert(self, team_id: str) -> bool:
        """True exactly once per ``needs_reconnect`` episode, so admins are alerted once.

        Args:
            team_id: Slack team id.

        Returns:
            Whether this caller should send the alert.
        """
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            result = await session.execute(
                update(ContaAzulConnection)
                .where(
                    ContaAzulConnection.team_id == team_id,
                    ContaAzulConnection.status == STATUS_NEEDS_RECONNECT,
                    ContaAzulConnection.needs_reconnect_alerted_at.is_(None),
                )
                .values(needs_reconnect_alerted_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def _fresh(self, expires_at: datetime, leeway: timedelta | None = None) -> bool:
        return expires_at - (leeway or self._leeway) > self._clock.now()

    def _remembered(self, team_id: str, leeway: timedelta) -> str | None:
        memo = self._memo.get(team_id)
        if memo is None:
            return None
        token, expires_at, read_at = memo
        if self._fresh(expires_at, leeway) and self._clock.now() - read_at < self._recheck_after:
            return token
        del self._memo[team_id]
        return None

    def _remember(self, team_id: str, token: str, expires_at: datetime) -> str:
        if self._recheck_after > timedelta(0):
            self._memo[team_id] = (token, expires_at, self._clock.now())
        return token

    def _lock(self, team_id: str) -> asyncio.Lock:
        lock = self._locks.get(team_id)
        if lock is None:
            lock = self._locks[team_id] = asyncio.Lock()
        return lock

    def _readable(self, ciphertext: str) -> str | None:
        try:
            return self._cipher.decrypt(ciphertext)
        except ValueError:
            return None

    async def _decrypt_or_strand(self, team_id: str, ciphertext: str, token_version: int) -> str:
        """Decrypt a stored token; one no configured key opens marks the connection to reconnect."""
        plaintext = self._readable(ciphertext)
        if plaintext is None:
            await self._strand(team_id, token_version)
            raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul (tokens unreadable)")
        return plaintext

    async def _strand(self, team_id: str, token_version: int) -> None:
        """``needs_reconnect`` for tokens no configured key decrypts, unless they were replaced meanwhile."""
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            await session.execute(
                update(ContaAzulConnection)
                .where(ContaAzulConnection.team_id == team_id, ContaAzulConnection.token_version == token_version)
                .values(
                    status=STATUS_NEEDS_RECONNECT, refresh_lease_owner=None, refresh_lease_until=None, updated_at=now
                )
                .execution_options(synchronize_session=False)
            )
        logger.warning(
            "conta azul tokens of team %s cannot be decrypted with any key in APROVA_ENCRYPTION_KEY; "
            "the connection needs reconnecting",
            team_id,
        )

    async def _refresh(self, team_id: str, leeway: timedelta) -> str:
        while True:
            claimed = await self._claim(team_id, leeway)
            if isinstance(claimed, str):
                return claimed
            if claimed is None:
                await self._sleep(LEASE_POLL_SECONDS)  # another process is refreshing: wait for what it stores
                continue
            stored = await self._refresh_with(team_id, claimed)
            if stored is not None:
                return stored
            # The row changed under the refresh (reconnected, disconnected): read it again.

    async def _claim(self, team_id: str, leeway: timedelta) -> str | _Lease | None:
        """A short transaction: the token if it is fresh after all, a lease to refresh, or None while another
        process holds one."""
        now = self._clock.now()
        async with self._session_factory.begin() as session:
            row = await lock_connection_row(session, team_id)
            if row is None:
                raise NotConnected(f"team {team_id} is not connected to Conta Azul")
            if row.status == STATUS_NEEDS_RECONNECT:
                raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul")
            version, access_enc, expires_at = row.token_version, row.access_token_enc, row.access_expires_at
            refreshable = not self._fresh(expires_at, leeway)  # else another process refreshed while we waited
            if refreshable:
                if row.refresh_lease_until is not None and row.refresh_lease_until > now:
                    return None
                refresh_token = self._readable(row.refresh_token_enc)
                if refresh_token is not None:
                    row.refresh_lease_owner = uuid.uuid4().hex
                    row.refresh_lease_until = now + self._lease_length
                    return _Lease(row.refresh_lease_owner, version, refresh_token)
        if refreshable:  # the refresh token is unreadable
            await self._strand(team_id, version)
            raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul (tokens unreadable)")
        access = await self._decrypt_or_strand(team_id, access_enc, version)
        return self._remember(team_id, access, expires_at)

    async def _refresh_with(self, team_id: str, lease: _Lease) -> str | None:
        """Call the token endpoint holding no transaction, then store the outcome; None if the row moved on."""
        self.refresh_count += 1
        try:
            async with asyncio.timeout(self._refresh_timeout.total_seconds()):
                tokens = await self._endpoint.refresh(refresh_token=lease.refresh_token, clock=self._clock)
        except OAuthGrantError:
            if not await self._finish(team_id, lease, None):
                return None
            logger.warning("conta azul refresh token of team %s refused; connection needs reconnect", team_id)
            raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul") from None
        except TimeoutError as exc:
            await self._release(team_id, lease)
            raise RetryableGatewayError("token endpoint timed out (refresh_token)", outcome_unknown=True) from exc
        except BaseException:
            await self._release(team_id, lease)
            raise
        if not await self._finish(team_id, lease, tokens):
            logger.warning("conta azul connection of team %s changed during a refresh; its result is dropped", team_id)
            return None
        # Committed: the rotated refresh token is safe before the new access token is used.
        logger.info("conta azul tokens of team %s refreshed (version %s)", team_id, lease.token_version + 1)
        return self._remember(team_id, tokens.access_token, tokens.expires_at)

    async def _finish(self, team_id: str, lease: _Lease, tokens: TokenSet | None) -> bool:
        """Store the rotated tokens (or ``needs_reconnect`` when refused) if the row is still the one leased."""
        now = self._clock.now()
        done: dict[str, object] = {"refresh_lease_owner": None, "refresh_lease_until": None, "updated_at": now}
        if tokens is None:
            values = done | {"status": STATUS_NEEDS_RECONNECT}
        else:
            values = done | {
                "access_token_enc": self._cipher.encrypt(tokens.access_token),
                "refresh_token_enc": self._cipher.encrypt(tokens.refresh_token),
                "access_expires_at": tokens.expires_at,
                "token_version": lease.token_version + 1,
                "last_refresh_at": now,
            }
        async with self._session_factory.begin() as session:
            result = await session.execute(
                update(ContaAzulConnection)
                .where(
                    ContaAzulConnection.team_id == team_id,
                    ContaAzulConnection.token_version == lease.token_version,
                    ContaAzulConnection.refresh_lease_owner == lease.owner,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def _release(self, team_id: str, lease: _Lease) -> None:
        """Give the lease back after a failed call, so the next caller tries at once."""
        async with self._session_factory.begin() as session:
            await session.execute(
                update(ContaAzulConnection)
                .where(ContaAzulConnection.team_id == team_id, ContaAzulConnection.refresh_lease_owner == lease.owner)
                .values(refresh_lease_owner=None, refresh_lease_until=None)
                .execution_options(synchronize_session=False)
            )


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """What ``rotate_stored_tokens`` did: connections re-encrypted, and those no configured key could open."""

    rotated: list[str]
    stranded: list[str]


async def rotate_stored_tokens(session_factory: SessionFactory, *, cipher: TokenCipher, clock: Clock) -> KeyRotation:
    """Re-encrypt every stored token with the cipher's first key, so older keys can be retired.

    A connection whose tokens no configured key decrypts is marked ``needs_reconnect`` (its admins are alerted once
    by the running app) instead of stopping the rotation. Each connection is its own short transaction.
    """
    async with session_factory() as session:
        teams = list(await session.scalars(select(ContaAzulConnection.team_id).order_by(ContaAzulConnection.team_id)))
    rotated: list[str] = []
    stranded: list[str] = []
    for team_id in teams:
        async with session_factory.begin() as session:
            row = await lock_connection_row(session, team_id)
            if row is None:
                continue  # disconnected meanwhile
            try:
                access, refresh = cipher.rotate(row.access_token_enc), cipher.rotate(row.refresh_token_enc)
            except ValueError:
                if row.status != STATUS_NEEDS_RECONNECT:
                    row.status = STATUS_NEEDS_RECONNECT
                    row.needs_reconnect_alerted_at = None
                    row.updated_at = clock.now()
                stranded.append(team_id)
                continue
            row.access_token_enc, row.refresh_token_enc = access, refresh
            row.updated_at = clock.now()
            rotated.append(team_id)
    if stranded:
        logger.warning(
            "conta azul tokens of %s team(s) unreadable with the configured keys; marked to reconnect", len(stranded)
        )
    return KeyRotation(rotated=rotated, stranded=stranded)
