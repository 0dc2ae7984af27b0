"""What every CRM module reads with: the body's limits and JSON, the replay window, and single-field readers.

The readers turn whatever a CRM put in a field into our types, or refuse the delivery with a 422 naming the field.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from ledger.errors import WebhookRefused

REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 256 * 1024


def load_json(body: bytes) -> Any:
    """The body as JSON, numbers as exact ``Decimal``.

    Raises:
        WebhookRefused: 413 over 256 KiB, 400 when it is not JSON.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRefused(413, "body larger than 256 KiB")
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise WebhookRefused(400, "body is not JSON") from None


def read_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def missing(name: str) -> date:
    raise WebhookRefused(422, f"{name} is required")


def read_text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = " ".join(str(value).split())
    return text[:limit] if text else None


def read_required_text(value: Any, name: str, limit: int) -> str:
    text = read_text(value, limit)
    if text is None:
        raise WebhookRefused(422, f"{name} is required")
    return text


def read_amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise WebhookRefused(422, f"{name} is required (the deal's value in BRL)")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise WebhookRefused(422, f"{name} is not a number: {str(value)[:40]!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise WebhookRefused(422, f"{name} must be more than zero")
    if amount != amount.quantize(Decimal("0.01")):
        raise WebhookRefused(422, f"{name} has more than 2 decimal places")
    return amount


def check_currency(value: Any) -> None:
    if value not in (None, "", "BRL"):
        raise WebhookRefused(422, f"only deals in BRL become receivables (this one is in {str(value)[:8]})")


def read_integer(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def read_date(value: Any, name: str, tz: ZoneInfo) -> date | None:
    """A date from ``2026-11-20``, an ISO date-time (UTC unless it says), ``2026-11-20 14:00:00`` (Pipedrive v1,
    UTC) or Unix time in seconds or milliseconds; date-times become the business date in ``tz``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise WebhookRefused(422, f"{name} is not a date")
    if isinstance(value, int | Decimal) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        moment = datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
        return moment.astimezone(tz).date()
    if not isinstance(value, str):
        raise WebhookRefused(422, f"{name} is not a date")
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRefused(422, f"{name} is not a date: {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def read_count(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    number = read_integer(str(value)) if not isinstance(value, bool) else None
    if number is None:
        raise WebhookRefused(422, f"{name} must be a whole number")
    return number
