"""The approval fingerprint: one canonical definition of what approvers approve.

Every field that moves money or shapes the Conta Azul entry is a field of :class:`ApprovalTerms`, and nothing
else decides what is posted: the posting worker builds the entry from the terms, after checking that their digest
is the one every step approved. ``MATERIAL_FIELDS`` (the terms' fields) is therefore the one list of fields
whose change starts approval over; ``NON_MATERIAL_FIELDS`` names every other column of a request with the reason
it may change freely, and a test fails when a new column is in neither list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

TERMS_VERSION = 1


@dataclass(frozen=True, slots=True)
class ApprovalTerms:
    """What is approved, named as the request's columns; the account is None for "the company's default"."""

    kind: str
    vendor_name: str
    vendor_document: str | None
    amount: Decimal
    competence_date: date
    due_date: date
    category: str
    cost_center: str | None
    payment_method: str
    payment_code: str | None
    invoice_number: str | None
    installments: int
    financial_account_id: str | None

    @classmethod
    def of(cls, source: Any) -> ApprovalTerms:
        """The terms of a request (an ORM row, or any object or mapping with the same attribute names)."""
        get = source.get if isinstance(source, Mapping) else lambda name: getattr(source, name)
        values: dict[str, Any] = {name: get(name) for name in MATERIAL_FIELDS}
        values["installments"] = int(values["installments"] or 1)
        return cls(**values)

    def canonical(self) -> bytes:
        """The terms as sorted, compact JSON: amounts with two decimals, dates ISO, text exactly as stored."""
        data: dict[str, Any] = {"v": TERMS_VERSION}
        for name in MATERIAL_FIELDS:  # flat values: read as they are (``asdict`` would copy each, for nothing)
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = f"{value.quantize(Decimal('0.01'))}"
            elif isinstance(value, date):
                value = value.isoformat()
            data[name] = value
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def digest(self) -> str:
        """SHA-256 of the canonical form, 64 hex digits: what each decision records."""
        return hashlib.sha256(self.canonical()).hexdigest()


MATERIAL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ApprovalTerms))

# Every other column of a payment request, and why changing it does not change what is paid.
NON_MATERIAL_FIELDS: dict[str, str] = {
    "id": "identity",
    "reference": "identity, assigned once",
    "team_id": "fixed at submission; never changes",
    "requester_id": "fixed at submission; the requester never decides",
    "submission_key": "de-duplicates modal deliveries",
    "source": "where the request came from (Slack or a CRM)",
    "description": "free text shown with the entry; changes are audited and shown in the thread",
    "notes": "free text shown with the entry; changes are audited and shown in the thread",
    "counterparty_email": "only used to create a new customer's record",
    "possible_duplicates": "a warning for approvers, not part of the payment",
    "approval_round": "bookkeeping of approval itself",
    "attachments": "supporting documents, audited when added",
    "financial_account_name": "display name of financial_account_id",
    "terms_digest": "the fingerprint itself",
    "status": "workflow state",
    "version": "compare-and-set counter",
    "current_step": "workflow state",
    "tracking_channel": "where Slack shows the request",
    "tracking_ts": "where Slack shows the request",
    "decided_by": "workflow state",
    "decided_at": "workflow state",
    "decision_reason": "workflow state",
    "contaazul_id": "the posting's outcome",
    "posted_at": "the posting's outcome",
    "created_at": "bookkeeping",
    "updated_at": "bookkeeping",
}


def short_digest(digest: str | None) -> str:
    """The first 8 hex digits as ``ABCD-1234``: enough for a person to compare two messages at a glance."""
    if not digest:
        return "—"
    head = digest[:8].upper()
    return f"{head[:4]}-{head[4:]}"


def digest_of(source: Any) -> str:
    """Shorthand for ``ApprovalTerms.of(source).digest()``."""
    return ApprovalTerms.of(source).digest()
