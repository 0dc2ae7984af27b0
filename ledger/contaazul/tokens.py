"""Access tokens for a team's Conta Azul connection, refreshed once at a time across tasks and processes.

The refresh token rotates on every use, so two concurrent refreshes would lock the team out: the second one
presents a token the first already spent. Refresh therefore runs under a per-team asyncio lock (tasks of one
process) inside a transaction holding the connection row (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) so other processes wait, re-read, and reuse the tokens the winner committed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.oauth import (
    STATUS_ACTIVE,
    STATUS_NEEDS_RECONNECT,
    OAuthConfig,
    SessionFactory,
    TokenSet,
    lock_connection_row,
    refresh_tokens,
)
from ledger.errors import ConnectionNeedsReconnect, NotConnected, OAuthGrantError
from ledger.models import ContaAzulConnection
from ledger.ports import Clock

logger = logging.getLogger(__name__)

__all__ = ["ConnectionNeedsReconnect", "NotConnected", "TokenManager"]


class TokenManager:
    """Hands out valid access tokens per team, refreshing (and persisting the rotated pair) when needed."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        cipher: TokenCipher,
        clock: Clock,
        http: httpx.AsyncClient,
        config: OAuthConfig,
        leeway: timedelta = timedelta(seconds=60),
        recheck_after: timedelta = timedelta(seconds=5),
    ) -> None:
        """Refresh within ``leeway`` of expiry; reuse a token read from the DB for ``recheck_after`` (0 = never)."""
        # recheck_after bounds how late this process notices a disconnect or reconnect made by another process.
        self._session_factory = session_factory
        self._cipher = cipher
        self._clock = clock
        self._http = http
        self._config = config
        self._leeway = leeway
        self._recheck_after = recheck_after
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
            ConnectionNeedsReconnect: The refresh token was refused; nothing is retried until a reconnect.
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
                        ).where(ContaAzulConnection.team_id == team_id)
                    )
                ).one_or_none()
            if row is None:
                raise NotConnected(f"team {team_id} is not connected to Conta Azul")
            if row.status == STATUS_NEEDS_RECONNECT:
                raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul")
            if self._fresh(row.access_expires_at, leeway):
                return self._remember(team_id, self._cipher.decrypt(row.access_token_enc), row.access_expires_at)
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
                if self._cipher.decrypt(row.access_token_enc) == rejected_token:
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

    async def _refresh(self, team_id: str, leeway: timedelta) -> str:
        tokens: TokenSet | None = None
        async with self._session_factory.begin() as session:
            row = await lock_connection_row(session, team_id)
            if row is None:
                raise NotConnected(f"team {team_id} is not connected to Conta Azul")
            if row.status == STATUS_NEEDS_RECONNECT:
                raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul")
            if self._fresh(row.access_expires_at, leeway):
                # Another process refreshed while we waited for the row.
                return self._remember(team_id, self._cipher.decrypt(row.access_token_enc), row.access_expires_at)
            now = self._clock.now()
            self.refresh_count += 1
            try:
                # The row stays locked during the call: that is what makes the refresh single-flight.
                tokens = await refresh_tokens(
                    self._http,
                    config=self._config,
                    refresh_token=self._cipher.decrypt(row.refresh_token_enc),
                    clock=self._clock,
                )
            except OAuthGrantError:
                row.status = STATUS_NEEDS_RECONNECT
                row.updated_at = now
            else:
                row.access_token_enc = self._cipher.encrypt(tokens.access_token)
                row.refresh_token_enc = self._cipher.encrypt(tokens.refresh_token)
                row.access_expires_at = tokens.expires_at
                row.token_version = row.token_version + 1
                row.last_refresh_at = now
                row.updated_at = now
            version = row.token_version
        # Committed: the rotated refresh token is safe before the new access token is used.
        if tokens is None:
            logger.warning("conta azul refresh token of team %s refused; connection needs reconnect", team_id)
            raise ConnectionNeedsReconnect(f"team {team_id} must reconnect Conta Azul")
        logger.info("conta azul tokens of team %s refreshed (version %s)", team_id, version)
        return self._remember(team_id, tokens.access_token, tokens.expires_at)
