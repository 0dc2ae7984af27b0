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
from ledger.validation import amount_problem

REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 256 * 1024
MAX_WHOLE_DIGITS = 18  # ids, counts and millisecond timestamps; longer is junk (and would not fit a BIGINT)
# Deal dates outside these are refused: no deal is won then, and a due term added to year 9999 would overflow.
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2099, 12, 31)
_EARLIEST_UNIX = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_LATEST_UNIX = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())


def load_json(body: bytes) -> Any:
    """The body as JSON, numbers as exact ``Decimal``.

    Raises:
        WebhookRefused: 413 over 256 KiB, 400 when it is not JSON.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRefused(413, "body larger than 256 KiB")
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or an integer of thousands of digits
        raise WebhookRefused(400, "body is not JSON") from None


def read_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def refuse(name: str, problem: str) -> WebhookRefused:
    """A 422 naming the field, also in the answer's ``fields`` (as a refused receivable's are)."""
    return WebhookRefused(422, f"{name} {problem}", field=name)


def missing(name: str) -> date:
    raise refuse(name, "is required")


def read_text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = " ".join(str(value).split())
    return text[:limit] if text else None


def read_required_text(value: Any, name: str, limit: int) -> str:
    text = read_text(value, limit)
    if text is None:
        raise refuse(name, "is required")
    return text


_AMOUNT_PROBLEMS = {
    "amount_not_positive": "must be more than zero",
    "amount_too_large": "is too large (at most 12 digits before the decimal point)",
    "amount_too_many_decimals": "has more than 2 decimal places",
}


def read_amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise refuse(name, "is required (the deal's value in BRL)")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise refuse(name, f"is not a number: {str(value)[:40]!r}") from None
    problem = amount_problem(amount)
    if problem is not None:
        raise refuse(name, _AMOUNT_PROBLEMS[problem])
    return amount


def check_currency(value: Any) -> None:
    if value not in (None, "", "BRL"):
        raise refuse("currency", f"must be BRL: only deals in BRL become receivables (not {str(value)[:8]})")


def read_integer(text: str) -> int | None:
    """A whole number written in ASCII digits (``"٣"`` or ``"²"`` are digits to Python, not to a CRM), else None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_WHOLE_DIGITS else None


def read_date(value: Any, name: str, tz: ZoneInfo) -> date | None:
    """A date from ``2026-11-20``, an ISO date-time (UTC unless it says), ``2026-11-20 14:00:00`` (Pipedrive v1,
    UTC) or Unix time in seconds or milliseconds; date-times become the business date in ``tz``. Dates outside
    2000–2099 are refused with the field named."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise refuse(name, "is not a date")
    if isinstance(value, int | Decimal) or (isinstance(value, str) and read_integer(value) is not None):
        return _from_unix_time(Decimal(value if not isinstance(value, str) else value.strip()), name, tz)
    if not isinstance(value, str):
        raise refuse(name, "is not a date")
    text = value.strip()
    try:
        if len(text) == 10:
            return _within_range(date.fromisoformat(text), name)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return _within_range(moment.astimezone(tz).date(), name)
    except (ValueError, OverflowError):
        raise refuse(name, f"is not a date: {text[:40]!r}") from None


def _from_unix_time(number: Decimal, name: str, tz: ZoneInfo) -> date:
    """Seconds, or milliseconds when the number is that large; bounded before ``datetime`` could overflow on it."""
    if not number.is_finite():
        raise refuse(name, "is not a date")
    if number.adjusted() > 13:  # past the milliseconds of year 2286: out of range, and too big to divide safely
        raise _out_of_range(name)
    seconds = number / 1000 if number.adjusted() >= 11 else number
    if not _EARLIEST_UNIX <= seconds < _LATEST_UNIX:
        raise _out_of_range(name)
    return datetime.fromtimestamp(int(seconds), tz=UTC).astimezone(tz).date()


def _within_range(value: date, name: str) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise _out_of_range(name)
    return value


def _out_of_range(name: str) -> WebhookRefused:
    return refuse(name, f"is out of range (a date from {EARLIEST_DATE.year} to {LATEST_DATE.year})")


def read_count(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    number = read_integer(str(value)) if not isinstance(value, bool) else None
    if number is None:
        raise refuse(name, "must be a whole number")
    return number
