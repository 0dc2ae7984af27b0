"""Deal-won webhooks from CRMs: who sent them (each CRM's own scheme) and what they say, as a :class:`WonDeal`.

Three formats, each authenticated the way its sender documents:

- ``generic``: Aprova's own JSON (README, "Won deals"), signed ``X-Aprova-Signature: v1=<hex>`` with
  HMAC-SHA256 over ``"{X-Aprova-Timestamp}." + raw body``; the timestamp (Unix seconds) must be within 5 minutes.
- ``hubspot``: a HubSpot workflow's "Send a webhook" action, signed ``X-HubSpot-Signature-v3``: base64
  HMAC-SHA256 of method + URI + body + ``X-HubSpot-Request-Timestamp`` (milliseconds, within 5 minutes).
- ``pipedrive``: Pipedrive's deal webhooks (v2 ``meta``/``data``/``previous``, and v1 ``current``). Pipedrive
  signs nothing: it sends the HTTP Basic credentials set on the webhook, checked here in constant time.

Nothing here does I/O except :func:`fetch_pipedrive_parties`, which asks Pipedrive's API for the organization
and person a v2 deal only names by id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import httpx

from ledger.clock import BRAZIL
from ledger.errors import WebhookRefused
from ledger.receivables import HubSpotFields, PipedriveFields, WonDeal

REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed delivery that is not a newly won deal (another stage, an update to a won deal…)."""

    reason: str


@dataclass(frozen=True, slots=True)
class PipedriveDeal:
    """A v2 deal whose customer Pipedrive only names by id: complete it with :func:`fetch_pipedrive_parties`."""

    deal: WonDeal
    org_id: int | None
    person_id: int | None


# --------------------------------------------------------------------------- signatures


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
    timestamp = _integer(timestamp_text)
    if timestamp is None or abs(now.timestamp() - timestamp) > REPLAY_WINDOW_SECONDS:
        raise WebhookRefused(401, "stale or invalid X-Aprova-Timestamp (more than 5 minutes away)")
    if not any(hmac.compare_digest(sign_generic(s, timestamp, body), signature) for s in secrets):
        raise WebhookRefused(401, "signature does not match")
    return signature


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
    timestamp = _integer(headers.get("X-HubSpot-Request-Timestamp", ""))
    if not signature or timestamp is None:
        raise WebhookRefused(401, "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    if abs(now.timestamp() * 1000 - timestamp) > REPLAY_WINDOW_SECONDS * 1000:
        raise WebhookRefused(401, "stale X-HubSpot-Request-Timestamp (more than 5 minutes away)")
    if not any(hmac.compare_digest(sign_hubspot(s, method, uri, body, timestamp), signature) for s in secrets):
        raise WebhookRefused(401, "signature does not match")
    return signature


def verify_basic_auth(user: str, password: str, headers: Mapping[str, str]) -> None:
    """Pipedrive's only scheme: the HTTP Basic credentials set on the webhook.

    Raises:
        WebhookRefused: 401 when they are missing or wrong.
    """
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRefused(401, "missing HTTP Basic credentials")
    try:
        given_user, _, given_password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise WebhookRefused(401, "malformed HTTP Basic credentials") from None
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    if not (hmac.compare_digest(given_password.encode(), password.encode()) and user_ok):
        raise WebhookRefused(401, "wrong HTTP Basic credentials")


# --------------------------------------------------------------------------- payloads


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
    _currency(data.get("currency"))
    return WonDeal(
        source="generic",
        deal_id=_required_text(data.get("deal_id"), "deal_id", 64),
        title=_text(data.get("title"), 300) or "",
        amount=_amount(data.get("value"), "value"),
        won_on=_date(data.get("won_at"), "won_at", tz) or _missing("won_at"),
        customer_name=_required_text(customer.get("name"), "customer.name", 200),
        customer_document=_text(customer.get("document"), 32),
        customer_email=_text(customer.get("email"), 100),
        pipeline=_text(data.get("pipeline"), 200),
        products=_products(data.get("products")),
        due_date=_date(data.get("due_date"), "due_date", tz),
        installments=_count(data.get("installments"), "installments"),
    )


def parse_pipedrive(data: Any, fields: PipedriveFields, *, tz: ZoneInfo = BRAZIL) -> WonDeal | PipedriveDeal | Ignored:
    """A Pipedrive deal webhook, v2 (``meta``/``data``/``previous``) or v1 (``meta``/``current``/``previous``).

    Only the change that makes a deal won counts: a deal created won, or one whose previous status was another.

    Raises:
        WebhookRefused: 422 for a won deal that cannot be read (no value, another currency).
    """
    if not isinstance(data, dict) or not isinstance(data.get("meta"), dict):
        raise WebhookRefused(422, "not a Pipedrive webhook (no meta)")
    meta = data["meta"]
    version_two = "data" in data and "current" not in data
    entity = meta.get("entity") if version_two else meta.get("object")
    if entity != "deal":
        return Ignored(f"not a deal ({entity})")
    deal = data.get("data") if version_two else data.get("current")
    previous = data.get("previous") if isinstance(data.get("previous"), dict) else None
    if not isinstance(deal, dict) or deal.get("status") != "won":
        return Ignored("the deal is not won")
    action = str(meta.get("action", ""))
    created = action in ("create", "added")
    if not created and (previous is None or previous.get("status") in (None, "won")):
        return Ignored("the deal was already won")
    _currency(deal.get("currency"))
    custom = _mapping(deal.get("custom_fields")) or deal
    won = _date(deal.get("won_time"), "won_time", tz) or _date(meta.get("timestamp"), "meta.timestamp", tz)
    won_deal = WonDeal(
        source="pipedrive",
        deal_id=_required_text(deal.get("id"), "id", 64),
        title=_text(deal.get("title"), 300) or "",
        amount=_amount(deal.get("value"), "value"),
        won_on=won or _missing("won_time"),
        customer_name=_text(deal.get("org_name"), 200) or _text(deal.get("person_name"), 200) or "",
        customer_document=_custom(custom, fields.document_field),
        customer_email=_custom(custom, fields.email_field) or _text(deal.get("cc_email"), 100),
        pipeline=_text(deal.get("pipeline_id"), 64),
        due_date=_date(_custom(custom, fields.due_date_field), "due date field", tz),
        installments=_count(_custom(custom, fields.installments_field), "installments field"),
    )
    if won_deal.customer_name:
        return won_deal
    return PipedriveDeal(won_deal, _integer(str(deal.get("org_id") or "")), _integer(str(deal.get("person_id") or "")))


async def fetch_pipedrive_parties(
    http: httpx.AsyncClient, *, api_url: str, token: str, pending: PipedriveDeal, fields: PipedriveFields
) -> WonDeal:
    """Complete a v2 deal with its organization's name and CNPJ field, and its person's name and e-mail.

    Raises:
        WebhookRefused: 422 when the deal has neither, 502 when Pipedrive's API fails.
    """
    deal = pending.deal
    headers = {"x-api-token": token, "Accept": "application/json"}
    name, document, email = "", deal.customer_document, deal.customer_email
    try:
        if pending.org_id:
            org = await _pipedrive_get(http, f"{api_url.rstrip('/')}/api/v2/organizations/{pending.org_id}", headers)
            name = _text(org.get("name"), 200) or ""
            custom = _mapping(org.get("custom_fields")) or org
            document = document or _custom(custom, fields.document_field)
        if pending.person_id and (not name or not email):
            person = await _pipedrive_get(http, f"{api_url.rstrip('/')}/api/v2/persons/{pending.person_id}", headers)
            name = name or _text(person.get("name"), 200) or ""
            listed = person.get("emails")
            emails = listed if isinstance(listed, list) else []
            primary = [e for e in emails if isinstance(e, dict) and e.get("primary")] or emails
            if not email and primary and isinstance(primary[0], dict):
                email = _text(primary[0].get("value"), 100)
    except httpx.HTTPError as exc:
        raise WebhookRefused(502, f"Pipedrive's API could not be reached: {type(exc).__name__}") from None
    if not name:
        raise WebhookRefused(422, "the deal has no organization or person to bill")
    return replace(deal, customer_name=name, customer_document=document, customer_email=email)


async def _pipedrive_get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await http.get(url, headers=headers)
    if response.status_code != 200:
        raise WebhookRefused(502, f"Pipedrive's API answered {response.status_code} for {url.rsplit('/api', 1)[-1]}")
    data = response.json().get("data")
    return data if isinstance(data, dict) else {}


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
    raw_properties = _mapping(data.get("properties")) or data
    properties = {
        str(k): (v.get("value") if isinstance(v, dict) and "value" in v else v) for k, v in raw_properties.items()
    }
    stage = _text(properties.get("dealstage"), 100)
    if stage is not None and stage not in fields.won_stages:
        return Ignored(f"deal stage {stage!r} is not a won stage")
    _currency(properties.get("deal_currency_code"))
    deal_id = data.get("objectId") or properties.get("hs_object_id") or properties.get("dealId")
    return WonDeal(
        source="hubspot",
        deal_id=_required_text(deal_id, "objectId", 64),
        title=_text(properties.get("dealname"), 300) or "",
        amount=_amount(properties.get("amount"), "amount"),
        won_on=_date(properties.get("closedate"), "closedate", tz) or _missing("closedate"),
        customer_name=_required_text(properties.get(fields.customer_name), fields.customer_name, 200),
        customer_document=_text(properties.get(fields.document), 32),
        customer_email=_text(properties.get(fields.email), 100),
        pipeline=_text(properties.get("pipeline"), 200),
        due_date=_date(properties.get(fields.due_date), fields.due_date, tz),
        installments=_count(properties.get(fields.installments), fields.installments),
    )


# --------------------------------------------------------------------------- field readers


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _missing(name: str) -> date:
    raise WebhookRefused(422, f"{name} is required")


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = " ".join(str(value).split())
    return text[:limit] if text else None


def _required_text(value: Any, name: str, limit: int) -> str:
    text = _text(value, limit)
    if text is None:
        raise WebhookRefused(422, f"{name} is required")
    return text


def _custom(custom: Mapping[str, Any], key: str | None) -> Any:
    """A custom field by its key; v2 wraps some values as ``{"value": …}``."""
    if not key:
        return None
    value = custom.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    return value


def _amount(value: Any, name: str) -> Decimal:
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


def _currency(value: Any) -> None:
    if value not in (None, "", "BRL"):
        raise WebhookRefused(422, f"only deals in BRL become receivables (this one is in {str(value)[:8]})")


def _integer(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _date(value: Any, name: str, tz: ZoneInfo) -> date | None:
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


def _count(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    number = _integer(str(value)) if not isinstance(value, bool) else None
    if number is None:
        raise WebhookRefused(422, f"{name} must be a whole number")
    return number


def _products(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise WebhookRefused(422, "products must be a list of names")
    return tuple(name for item in value if (name := _text(item.get("name") if isinstance(item, dict) else item, 200)))
