"""What a CRM module implements (:class:`CrmSource`) and the values it trades with the web handler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ledger.receivables import ReceivableRules, WonDeal


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook request as the CRM sent it: everything a signature can cover."""

    method: str
    path_qs: str  # path and query string as received (HubSpot signs the full URI)
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed delivery that is not a newly won deal (another stage, an update to a won deal…)."""

    reason: str


class CrmSettings(Protocol):
    """The settings CRM modules read: secrets, API access, and where dates fall (``bot.settings.Settings``)."""

    @property
    def timezone(self) -> ZoneInfo: ...
    @property
    def public_base_url(self) -> str: ...
    @property
    def webhook_secrets(self) -> tuple[str, ...]: ...
    @property
    def pipedrive_webhook_user(self) -> str | None: ...
    @property
    def pipedrive_webhook_password(self) -> str | None: ...
    @property
    def pipedrive_api_url(self) -> str | None: ...
    @property
    def pipedrive_api_token(self) -> str | None: ...
    @property
    def hubspot_client_secrets(self) -> tuple[str, ...]: ...


@runtime_checkable
class CrmSource(Protocol):
    """A CRM that reports won deals to ``POST /crm/{name}``: how to trust a delivery and what it says."""

    name: str

    def configured(self, settings: CrmSettings) -> bool:
        """Whether the settings hold the secrets this CRM's deliveries are checked with; without them, 404."""
        ...

    def authenticate(self, delivery: Delivery, settings: CrmSettings, *, now: datetime) -> str | None:
        """Check the sender with the CRM's own scheme.

        Returns:
            A key that repeats only when the same signed request is replayed, or None when the scheme has none.

        Raises:
            WebhookRefused: 401 when the delivery is not from the CRM, or is stale.
        """
        ...

    async def read(self, data: Any, rules: ReceivableRules, settings: CrmSettings) -> WonDeal | Ignored:
        """The won deal in a delivery's JSON, or why the delivery changes nothing.

        Raises:
            WebhookRefused: 422 naming what cannot be read; 502 when the CRM's API, asked for more, fails.
        """
        ...
