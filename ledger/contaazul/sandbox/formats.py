"""How the sandbox writes values the way the API does: timestamps, amounts, and the accent-blind search key."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

# Brazil has had no DST since 2019, so a fixed offset is exact and avoids needing tzdata.
SAO_PAULO = timezone(timedelta(hours=-3), "America/Sao_Paulo")


def fold(text: str) -> str:
    """Case- and accent-insensitive comparison key."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def fmt_utc(dt: datetime) -> str:
    """2026-08-05T14:30:00Z (as in the spec examples for data_criacao)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_sp(dt: datetime) -> str:
    """São Paulo local time without offset (the spec's data_alteracao convention)."""
    return dt.astimezone(SAO_PAULO).strftime("%Y-%m-%dT%H:%M:%S")


def money_out(value: float) -> float:
    """Amounts are rendered rounded to cents."""
    return round(value + 0.0, 2)
