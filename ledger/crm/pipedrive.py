"""``pipedrive``: Pipedrive's deal webhooks, v2 (``meta``/``data``/``previous``) and v1 (``current``).

Pipedrive signs nothing: it sends the HTTP Basic credentials set on the webhook, checked here in constant time. Those
repeat on every delivery, so there is no replay key; the deal id is what makes a deal count once.

A v2 deal names its organization and person by id only; :func:`fetch_pipedrive_parties` asks Pipedrive's API for
them (``PIPEDRIVE_API_URL`` and ``PIPEDRIVE_API_TOKEN``).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ledger.clock import BRAZIL
from ledger.crm.fields import (
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
from ledger.receivables import PipedriveFields, ReceivableRules, WonDeal

PIPEDRIVE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class PipedriveDeal:
    """A v2 deal whose customer Pipedrive only names by id: complete it with :func:`fetch_pipedrive_parties`."""

    deal: WonDeal
    org_id: int | None
    person_id: int | None


class PipedriveSource:
    """Pipedrive's deal webhooks, as a :class:`~ledger.crm.source.CrmSource`."""

    name = "pipedrive"

    def configured(self, settings: CrmSettings) -> bool:
        return bool(settings.pipedrive_webhook_user and settings.pipedrive_webhook_password)

    def authenticate(self, delivery: Delivery, settings: CrmSettings, *, now: datetime) -> str | None:
        user, password = settings.pipedrive_webhook_user or "", settings.pipedrive_webhook_password or ""
        verify_basic_auth(user, password, delivery.headers)
        return None  # Basic credentials repeat on every delivery; the deal id is what makes it once

    async def read(self, data: Any, rules: ReceivableRules, settings: CrmSettings) -> WonDeal | Ignored:
        parsed = parse_pipedrive(data, rules.pipedrive, tz=settings.timezone)
        if not isinstance(parsed, PipedriveDeal):
            return parsed
        if not (settings.pipedrive_api_url and settings.pipedrive_api_token):
            raise WebhookRefused(
                422, "the deal names its customer by id only: set PIPEDRIVE_API_URL and PIPEDRIVE_API_TOKEN to read it"
            )
        async with httpx.AsyncClient(timeout=PIPEDRIVE_TIMEOUT) as http:
            return await fetch_pipedrive_parties(
                http,
                api_url=settings.pipedrive_api_url,
                token=settings.pipedrive_api_token,
                pending=parsed,
                fields=rules.pipedrive,
            )


def verify_basic_auth(user: str, password: str, headers: Mapping[str, str]) -> None:
    """Pipedrive's only scheme: the HTTP Basic credentials set on the webhook.

    Raises:
        WebhookRefused: 401 when they are missing or wrong.
    """
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRefused(401, "missing HTTP Basic credentials")
    try:  # ValueError: base64 of non-ASCII text, or credentials that are not UTF-8
        given_user, _, given_password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        raise WebhookRefused(401, "malformed HTTP Basic credentials") from None
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    if not (hmac.compare_digest(given_password.encode(), password.encode()) and user_ok):
        raise WebhookRefused(401, "wrong HTTP Basic credentials")


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
    check_currency(deal.get("currency"))
    custom = read_mapping(deal.get("custom_fields")) or deal
    won = read_date(deal.get("won_time"), "won_time", tz) or read_date(meta.get("timestamp"), "meta.timestamp", tz)
    won_deal = WonDeal(
        source="pipedrive",
        deal_id=read_required_text(deal.get("id"), "id", 64),
        title=read_text(deal.get("title"), 300) or "",
        amount=read_amount(deal.get("value"), "value"),
        won_on=won or missing("won_time"),
        customer_name=read_text(deal.get("org_name"), 200) or read_text(deal.get("person_name"), 200) or "",
        customer_document=_custom(custom, fields.document_field),
        customer_email=_custom(custom, fields.email_field) or read_text(deal.get("cc_email"), 100),
        pipeline=read_text(deal.get("pipeline_id"), 64),
        due_date=read_date(_custom(custom, fields.due_date_field), "due date field", tz),
        installments=read_count(_custom(custom, fields.installments_field), "installments field"),
    )
    if won_deal.customer_name:
        return won_deal
    org_id, person_id = read_integer(str(deal.get("org_id") or "")), read_integer(str(deal.get("person_id") or ""))
    return PipedriveDeal(won_deal, org_id, person_id)


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
            name = read_text(org.get("name"), 200) or ""
            custom = read_mapping(org.get("custom_fields")) or org
            document = document or _custom(custom, fields.document_field)
        if pending.person_id and (not name or not email):
            person = await _pipedrive_get(http, f"{api_url.rstrip('/')}/api/v2/persons/{pending.person_id}", headers)
            name = name or read_text(person.get("name"), 200) or ""
            listed = person.get("emails")
            emails = listed if isinstance(listed, list) else []
            primary = [e for e in emails if isinstance(e, dict) and e.get("primary")] or emails
            if not email and primary and isinstance(primary[0], dict):
                email = read_text(primary[0].get("value"), 100)
    except httpx.HTTPError as exc:
        raise WebhookRefused(502, f"Pipedrive's API could not be reached: {type(exc).__name__}") from None
    if not name:
        raise WebhookRefused(422, "the deal has no organization or person to bill")
    return replace(deal, customer_name=name, customer_document=document, customer_email=email)


async def _pipedrive_get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await http.get(url, headers=headers)
    if response.status_code != 200:
        raise WebhookRefused(502, f"Pipedrive's API answered {response.status_code} for {url.rsplit('/api', 1)[-1]}")
    try:
        data = read_mapping(response.json()).get("data")
    except ValueError:
        raise WebhookRefused(502, f"Pipedrive's API answered with no JSON for {url.rsplit('/api', 1)[-1]}") from None
    return read_mapping(data)


def _custom(custom: Mapping[str, Any], key: str | None) -> Any:
    """A custom field by its key; v2 wraps some values as ``{"value": …}``."""
    if not key:
        return None
    value = custom.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    return value
