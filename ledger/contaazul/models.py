"""Conta Azul API v2 values: the frozen dataclasses the client returns and takes, type aliases and constant tables.

Plain data with no behaviour beyond trivial helpers and no I/O, so every other module of the package (and the bot)
can import it without pulling in HTTP, rate limiting or parsing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

EntryKind = Literal["payable", "receivable"]
CategoryKind = Literal["DESPESA", "RECEITA"]
Profile = Literal["Fornecedor", "Cliente"]
PersonType = Literal["Física", "Jurídica", "Estrangeira"]
Route = Literal["sync", "async"]
QueryParams = Mapping[str, str | int | bool]

CENTS: Final = Decimal("0.01")
PAGE_SIZES: Final = (10, 20, 50, 100, 200, 500, 1000)

# Conta Azul enum values for the payment methods the Slack form offers (reference §3.5, ParcelaCondicaoPagamento).
PAYMENT_METHODS: Final[Mapping[str, str]] = {
    "boleto": "BOLETO_BANCARIO",
    "pix": "PIX_PAGAMENTO_INSTANTANEO",
    "transfer": "TRANSFERENCIA_BANCARIA",
    "card": "CARTAO_CREDITO",
    "other": "OUTRO",
}

SYNC_PATHS: Final[Mapping[EntryKind, str]] = {
    "payable": "/v1/financeiro/contas-a-pagar",
    "receivable": "/v1/financeiro/contas-a-receber",
}
ASYNC_PATHS: Final[Mapping[EntryKind, str]] = {
    "payable": "/v1/financeiro/eventos-financeiros/contas-a-pagar",
    "receivable": "/v1/financeiro/eventos-financeiros/contas-a-receber",
}
SEARCH_PATHS: Final[Mapping[EntryKind, str]] = {
    "payable": "/v1/financeiro/eventos-financeiros/contas-a-pagar/buscar",
    "receivable": "/v1/financeiro/eventos-financeiros/contas-a-receber/buscar",
}
INSTALLMENT_PATH: Final = "/v1/financeiro/eventos-financeiros/parcelas/{id}"
PROTOCOL_PATH: Final = "/v1/protocolo/{id}"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ConnectedCompany:
    """The ERP account behind the token (``GET /v1/pessoas/conta-conectada``)."""

    id: str | None
    name: str
    trade_name: str | None
    document: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class FinancialAccount:
    """A conta financeira (bank account, cash, card…)."""

    id: str
    name: str
    type: str | None
    bank: str | None
    active: bool
    default: bool


@dataclass(frozen=True, slots=True)
class Category:
    """A financial category; ``kind`` is DESPESA or RECEITA."""

    id: str
    name: str
    kind: str | None
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class CostCenter:
    """A centro de custo."""

    id: str
    name: str
    code: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class Person:
    """A pessoa (supplier or customer); ``profiles`` upper-cased without accents, e.g. ``("FORNECEDOR",)``."""

    id: str
    name: str
    document: str | None
    person_type: str | None
    profiles: tuple[str, ...]
    email: str | None


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """A payable or receivable ready to send; ids are Conta Azul UUIDs, money is exact."""

    description: str
    amount: Decimal
    competence_date: date
    due_date: date
    person_id: str
    account_id: str
    category_id: str
    cost_center_id: str | None
    payment_method: str  # Conta Azul enum, e.g. BOLETO_BANCARIO (see PAYMENT_METHODS)
    external_reference: str
    notes: str | None = None
    installments: Sequence[tuple[date, Decimal]] = ()  # empty: one installment of ``amount`` on ``due_date``

    def parcels(self) -> list[tuple[date, Decimal]]:
        """The installments to send: the explicit ones, or a single one for the whole amount."""
        return [(d, a) for d, a in self.installments] or [(self.due_date, self.amount)]


@dataclass(frozen=True, slots=True)
class ProtocolStatus:
    """An async-create protocol as returned by the POST (202) or ``GET /v1/protocolo/{id}``."""

    id: str
    status: str  # PENDING | SUCCESS | ERROR
    created_at: str | None
    event_id: str | None
    response: str | None


@dataclass(frozen=True, slots=True)
class Counterparty:
    """The supplier or customer Conta Azul shows on an entry; ``id`` None when it shows none."""

    id: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedEntry:
    """The outcome of a create: the evento financeiro id, the protocol when the async route was used, and the
    counterparty the create's answer reports (None when the answer does not say: read the entry back to know)."""

    id: str
    route: Route
    protocol_id: str | None
    installment_ids: tuple[str, ...]
    counterparty: Counterparty | None = None


@dataclass(frozen=True, slots=True)
class EntrySummary:
    """One installment as listed by ``…/buscar``."""

    id: str
    description: str
    due_date: date | None
    competence_date: date | None
    status: str | None
    total: Decimal | None
    unpaid: Decimal | None
    paid: Decimal | None
    person_id: str | None
    person_name: str | None


@dataclass(frozen=True, slots=True)
class InstallmentDetail:
    """One installment with its event (``GET …/parcelas/{id}``), enough to match an async protocol."""

    id: str
    event_id: str | None
    reference_id: str | None
    reference_origin: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list endpoint, whatever the envelope spelling."""

    items: list[dict[str, Any]]
    total: int | None


__all__ = [
    "ASYNC_PATHS",
    "CENTS",
    "INSTALLMENT_PATH",
    "PAGE_SIZES",
    "PAYMENT_METHODS",
    "PROTOCOL_PATH",
    "SEARCH_PATHS",
    "SYNC_PATHS",
    "Category",
    "CategoryKind",
    "ConnectedCompany",
    "CostCenter",
    "Counterparty",
    "CreatedEntry",
    "EntryDraft",
    "EntryKind",
    "EntrySummary",
    "FinancialAccount",
    "InstallmentDetail",
    "Page",
    "Person",
    "PersonType",
    "Profile",
    "ProtocolStatus",
    "QueryParams",
    "Route",
]
