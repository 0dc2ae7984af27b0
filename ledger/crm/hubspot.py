"""``hubspot``: a HubSpot deal-based workflow's "Send a webhook" action, with the deal's properties in the body.

Signed ``X-HubSpot-Signature-v3``: base64 HMAC-SHA256, keyed with the HubSpot app's client secret, of method + URI +
body + ``X-HubSpot-Request-Timestamp`` (milliseconds, within 5 minutes). The URI is the one HubSpot called, our
public address, with the characters HubSpot decodes decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote
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
    read_mapping,
    read_required_text,
    read_text,
)
from ledger.crm.source import CrmSettings, Delivery, Ignored
from ledger.errors import WebhookRefused
from ledger.receivables import HubSpotFields, ReceivableRules, WonDeal


class HubSpotSource:
    """HubSpot workflow webhooks, as a :class:`~ledger.crm.source.CrmSource`."""

    name = "hubspot"

    def configured(self, settings: CrmSettings) -> bool:
        return bool(settings.hubspot_client_secrets)

    def authenticate(self, delivery: Delivery, settings: CrmSettings, *, now: datetime) -> str | None:
        uri = hubspot_uri(settings.public_base_url, delivery.path_qs)
        signature = verify_hubspot(
            settings.hubspot_client_secrets,
            method=delivery.method,
            uri=uri,
            headers=delivery.headers,
            body=delivery.body,
            now=now,
        )
        return "crm:hubspot:" + signature[:88]

    async def read(self, data: Any, rules: ReceivableRules, settings: CrmSettings) -> WonDeal | Ignored:
        return parse_hubspot(data, rules.hubspot, tz=settings.timezone)


def hubspot_uri(base_url: str, path_qs: str) -> str:
    """The URI HubSpot signed: our public address, with the characters HubSpot decodes decoded."""
    uri = base_url.rstrip("/") + path_qs
    for encoded in ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B"):
        for variant in (encoded, encoded.lower()):
            uri = uri.replace(variant, unquote(encoded))
    return uri


def sign_hubspot(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """The ``X-HubSpot-Signature-v3`` HubSpot computes for a request."""
    message = method.upper().encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot(
    secrets: Sequence[str], *, method: str, uri: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> str:
    """Check a HubSpot v3 signature; returns it (to spot a replay).

    Raises:
        WebhookRefused: 401 when headers are missing, the timestamp is older than 5 minutes, or no secret matches.
    """
    signature = headers.get("X-HubSpot-Signature-v3", "")
    timestamp = read_integer(headers.get("X-HubSpot-Request-Timestamp", ""))
    if not signature or timestamp is None:
        raise WebhookRefused(401, "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    if not signature.isascii():  # compare_digest refuses to compare non-ASCII text; no HubSpot signature has any
        raise WebhookRefused(401, "signature does not match")
    if abs(now.timestamp() * 1000 - timestamp) > REPLAY_WINDOW_SECONDS * 1000:
        raise WebhookRefused(401, "stale X-HubSpot-Request-Timestamp (more than 5 minutes away)")
    if not any(hmac.compare_digest(sign_hubspot(s, method, uri, body, timestamp), signature) for s in secrets):
        raise WebhookRefused(401, "signature does not match")
    return signature


def parse_hubspot(data: Any, fields: HubSpotFields, *, tz: ZoneInfo = BRAZIL) -> WonDeal | Ignored:
    """A HubSpot workflow webhook with the deal's properties, either ``{"objectId", "properties": {name:
    {"value"}}}`` (all properties) or a flat object of the chosen ones.

    Raises:
        WebhookRefused: 422 for a won deal that cannot be read, naming the property.
    """
    if isinstance(data, list):
        return Ignored("HubSpot app webhook events carry only ids; send won deals from a workflow (see README)")
    if not isinstance(data, dict):
        raise WebhookRefused(422, "the body must be a JSON object")
    raw_properties = read_mapping(data.get("properties")) or data
    properties = {
        str(k): (v.get("value") if isinstance(v, dict) and "value" in v else v) for k, v in raw_properties.items()
    }
    stage = read_text(properties.get("dealstage"), 100)
    if stage is not None and stage not in fields.won_stages:
        return Ignored(f"deal stage {stage!r} is not a won stage")
    check_currency(properties.get("deal_currency_code"))
    deal_id = data.get("objectId") or properties.get("hs_object_id") or properties.get("dealId")
    return WonDeal(
        source="hubspot",
        deal_id=read_required_text(deal_id, "objectId", 64),
        title=read_text(properties.get("dealname"), 300) or "",
        amount=read_amount(properties.get("amount"), "amount"),
        won_on=read_date(properties.get("closedate"), "closedate", tz) or missing("closedate"),
        customer_name=read_required_text(properties.get(fields.customer_name), fields.customer_name, 200),
        customer_document=read_text(properties.get(fields.document), 32),
        customer_email=read_text(properties.get(fields.email), 100),
        pipeline=read_text(properties.get("pipeline"), 200),
        due_date=read_date(properties.get(fields.due_date), fields.due_date, tz),
        installments=read_count(properties.get(fields.installments), fields.installments),
    )
