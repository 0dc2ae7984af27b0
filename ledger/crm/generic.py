"""``generic``: Aprova's own JSON (README, "Won deals"), for any CRM or automation tool.

Signed ``X-Aprova-Signature: v1=<hex>`` with HMAC-SHA256 over ``"{X-Aprova-Timestamp}." + raw body``; the timestamp
(Unix seconds) must be within 5 minutes. Any of the configured secrets may sign, so a secret can be rotated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ledger.clock import BRAZIL
from ledger.crm.fields import (
    REPLAY_WINDOW_SECONDS,
    check_currency,
    missing,
    read_amount,
    read_count,
    read_date,
    read_integer,
    read_required_text,
    read_text,
)
from ledger.crm.source import CrmSettings, Delivery, Ignored
from ledger.errors import WebhookRefused
from ledger.receivables import ReceivableRules, WonDeal


class GenericSource:
    """Aprova's signed JSON, as a :class:`~ledger.crm.source.CrmSource`."""

    name = "generic"

    def configured(self, settings: CrmSettings) -> bool:
        return bool(settings.webhook_secrets)

    def authenticate(self, delivery: Delivery, settings: CrmSettings, *, now: datetime) -> str | None:
        signature = verify_generic(settings.webhook_secrets, delivery.headers, delivery.body, now)
        return "crm:generic:" + signature[3:67]

    async def read(self, data: Any, rules: ReceivableRules, settings: CrmSettings) -> WonDeal | Ignored:
        return parse_generic(data, tz=settings.timezone)


def sign_generic(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Aprova-Signature`` value a sender puts on ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_generic(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """Check an Aprova-signed delivery; returns its signature (to spot a replay of the same request).

    Raises:
        WebhookRefused: 401 when headers are missing, the timestamp is outside 5 minutes, or no secret matches.
    """
    timestamp_text, signature = headers.get("X-Aprova-Timestamp", ""), headers.get("X-Aprova-Signature", "")
    if not timestamp_text or not signature:
        raise WebhookRefused(401, "missing X-Aprova-Timestamp or X-Aprova-Signature")
    if not signature.isascii():  # compare_digest refuses to compare non-ASCII text; no signature of ours has any
        raise WebhookRefused(401, "signature does not match")
    timestamp = read_integer(timestamp_text)
    if timestamp is None or abs(now.timestamp() - timestamp) > REPLAY_WINDOW_SECONDS:
        raise WebhookRefused(401, "stale or invalid X-Aprova-Timestamp (more than 5 minutes away)")
    if not any(hmac.compare_digest(sign_generic(s, timestamp, body), signature) for s in secrets):
        raise WebhookRefused(401, "signature does not match")
    return signature


def parse_generic(data: Any, *, tz: ZoneInfo = BRAZIL) -> WonDeal:
    """Aprova's documented format (README, "Won deals").

    Raises:
        WebhookRefused: 422 naming the field that is missing or unusable.
    """
    if not isinstance(data, dict):
        raise WebhookRefused(422, "the body must be a JSON object")
    customer = data.get("customer")
    if not isinstance(customer, dict):
        raise WebhookRefused(422, "customer must be an object with at least a name")
    check_currency(data.get("currency"))
    return WonDeal(
        source="generic",
        deal_id=read_required_text(data.get("deal_id"), "deal_id", 64),
        title=read_text(data.get("title"), 300) or "",
        amount=read_amount(data.get("value"), "value"),
        won_on=read_date(data.get("won_at"), "won_at", tz) or missing("won_at"),
        customer_name=read_required_text(customer.get("name"), "customer.name", 200),
        customer_document=read_text(customer.get("document"), 32),
        customer_email=read_text(customer.get("email"), 100),
        pipeline=read_text(data.get("pipeline"), 200),
        products=_products(data.get("products")),
        due_date=read_date(data.get("due_date"), "due_date", tz),
        installments=read_count(data.get("installments"), "installments"),
    )


def _products(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise WebhookRefused(422, "products must be a list of names")
    return tuple(
        name for item in value if (name := read_text(item.get("name") if isinstance(item, dict) else item, 200))
    )
