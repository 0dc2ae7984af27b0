"""Domain values shared by the ledger and its callers: statuses, payment methods, the request draft."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    POSTING = "posting"
    POSTED = "posted"
    POST_FAILED = "post_failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class RequestKind(enum.StrEnum):
    PAYABLE = "payable"  # a payment request
    RECEIVABLE = "receivable"  # a won deal, or one a finance admin typed in


class StepStatus(enum.StrEnum):
    WAITING = "waiting"  # a later step, not yet open
    OPEN = "open"  # the step being decided now
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"  # the request ended (cancelled or rejected) before this step was decided


class PaymentMethod(enum.StrEnum):
    BOLETO = "boleto"
    PIX = "pix"
    TRANSFER = "transfer"
    CARD = "card"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a request (an invoice, a boleto): where Slack keeps it."""

    file_id: str
    name: str
    permalink: str
    download_url: str | None = None  # url_private_download: the bot fetches it to share it with approvers

    def as_dict(self) -> dict[str, str | None]:
        return {"id": self.file_id, "name": self.name, "permalink": self.permalink, "download_url": self.download_url}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Attachment:
        """The attachment back from what ``as_dict`` stored."""
        download_url = stored.get("download_url")
        return cls(
            file_id=str(stored.get("id")),
            name=str(stored["name"]),
            permalink=str(stored.get("permalink") or ""),
            download_url=str(download_url) if download_url else None,
        )


@dataclass(frozen=True, slots=True)
class RequestDraft:
    """A payment request as the requester typed it, already validated and normalised."""

    description: str
    vendor_name: str
    amount: Decimal
    competence_date: date
    due_date: date
    category: str
    payment_method: PaymentMethod
    vendor_document: str | None = None  # normalised CPF/CNPJ (digits, or letters for alphanumeric CNPJ)
    cost_center: str | None = None
    payment_code: str | None = None  # boleto line (digits) or PIX key (normalised)
    invoice_number: str | None = None
    notes: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One approval step the policy asks for, with its approvers already resolved to user ids."""

    name: str
    approvers: tuple[str, ...]
