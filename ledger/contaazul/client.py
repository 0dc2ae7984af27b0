"""Conta Azul API v2 client: lookups and entry creation with token refresh, rate limiting and a per-team cache.

The request/response mapping is kept in pure functions (``payable_body_sync``, ``parse_protocol``, ``parse_page`` …)
so it can be tested without I/O; :class:`ContaAzulClient` only adds transport concerns on top.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import email.utils
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, Protocol

import httpx

from ledger.errors import PermanentGatewayError, RetryableGatewayError
from ledger.names import document_digits, name_key
from ledger.ports import Clock

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
EntryKind = Literal["payable", "receivable"]
CategoryKind = Literal["DESPESA", "RECEITA"]
Profile = Literal["Fornecedor", "Cliente"]
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


# --------------------------------------------------------------------------- errors


class ProtocolPending(RetryableGatewayError):
    """The async create was accepted but not resolved before the deadline: reconcile later, never re-post."""

    code = "protocol_pending"

    def __init__(self, protocol_id: str, message: str = "") -> None:
        super().__init__(message or f"protocol {protocol_id} still pending", protocol_id=protocol_id)
        self.protocol_id = protocol_id


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
class CreatedEntry:
    """The outcome of a create: the evento financeiro id, and the protocol when the async route was used."""

    id: str
    route: Route
    protocol_id: str | None
    installment_ids: tuple[str, ...]


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


# --------------------------------------------------------------------------- JSON and normalisation


def dumps(value: Any) -> str:
    """Serialise to JSON text, writing ``Decimal`` as an exact JSON number (never through float)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def _encode(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite amount {value}")
        out.append(format(value, "f"))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        # Floats included on purpose: money must never pass through binary floating point.
        raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON with every fractional number as ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


def format_document(text: str) -> str:
    """``000.000.000-00`` for a CPF, ``00.000.000/0000-00`` for a CNPJ; anything else unchanged."""
    v = document_digits(text)
    if len(v) == 11:
        return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"
    if len(v) == 14:
        return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"
    return text


PROFILE_NAMES = {"FORNECEDOR": "Fornecedor", "CLIENTE": "Cliente", "TRANSPORTADORA": "Transportadora"}


def _profile_key(text: str) -> str:
    return name_key(text).upper()


# --------------------------------------------------------------------------- parsing (pure)


def parse_page(data: Any) -> Page:
    """Read a list envelope: ``itens``/``items`` and ``itens_totais``/``totalItems``; a bare list is one page."""
    if isinstance(data, list):
        return Page([item for item in data if isinstance(item, dict)], None)
    if not isinstance(data, dict):
        return Page([], 0)
    items = data.get("itens")
    if items is None:
        items = data.get("items")
    total: Any = None
    for key in ("itens_totais", "totalItems", "total_itens", "total"):
        if isinstance(data.get(key), int) and not isinstance(data.get(key), bool):
            total = data[key]
            break
    return Page([item for item in items or [] if isinstance(item, dict)], total)


def parse_protocol(data: Any) -> ProtocolStatus:
    """Read a protocol in either spelling (``protocolo``/``data_criacao`` or ``protocolId``/``createdAt``)."""
    if not isinstance(data, dict):
        raise PermanentGatewayError("protocol response is not a JSON object", body=data)
    protocol_id = data.get("protocolo") or data.get("protocolId") or data.get("protocol_id") or data.get("id")
    if not protocol_id:
        raise PermanentGatewayError("protocol response has no protocol id", body=data)
    created = data.get("data_criacao") or data.get("createdAt")
    event_id = data.get("evento_financeiro_id") or data.get("eventoFinanceiroId")
    response = data.get("resposta")
    return ProtocolStatus(
        id=str(protocol_id),
        status=str(data.get("status") or "PENDING").upper(),
        created_at=str(created) if created else None,
        event_id=str(event_id) if event_id else None,
        response=response if isinstance(response, str) or response is None else dumps(response),
    )


def parse_company(data: Mapping[str, Any]) -> ConnectedCompany:
    """Read ``/v1/pessoas/conta-conectada``."""
    name = data.get("razao_social") or data.get("nome_fantasia") or ""
    return ConnectedCompany(
        id=_opt_str(data.get("id_empresa") or data.get("id")),
        name=str(name),
        trade_name=_opt_str(data.get("nome_fantasia")),
        document=_opt_str(data.get("documento")),
        email=_opt_str(data.get("email")),
    )


def parse_account(data: Mapping[str, Any]) -> FinancialAccount:
    """Read one ``/v1/conta-financeira`` item."""
    return FinancialAccount(
        id=str(data["id"]),
        name=str(data.get("nome") or ""),
        type=_opt_str(data.get("tipo")),
        bank=_opt_str(data.get("banco")),
        active=bool(data.get("ativo", True)),
        default=bool(data.get("conta_padrao", False)),
    )


def parse_category(data: Mapping[str, Any]) -> Category:
    """Read one ``/v1/categorias`` item."""
    return Category(
        id=str(data["id"]),
        name=str(data.get("nome") or ""),
        kind=_opt_str(data.get("tipo")),
        parent_id=_opt_str(data.get("categoria_pai")),
    )


def parse_cost_center(data: Mapping[str, Any]) -> CostCenter:
    """Read one ``/v1/centro-de-custo`` item (or the create response)."""
    return CostCenter(
        id=str(data["id"]),
        name=str(data.get("nome") or ""),
        code=_opt_str(data.get("codigo")),
        active=bool(data.get("ativo", True)),
    )


def parse_person(data: Mapping[str, Any]) -> Person:
    """Read one ``/v1/pessoas`` item; ``perfis`` may be strings or ``{"tipo_perfil": …}`` objects."""
    profiles: list[str] = []
    for profile in data.get("perfis") or []:
        value = profile.get("tipo_perfil") if isinstance(profile, dict) else profile
        if value:
            profiles.append(_profile_key(str(value)))
    document = data.get("documento") or data.get("cnpj") or data.get("cpf")
    return Person(
        id=str(data["id"]),
        name=str(data.get("nome") or ""),
        document=_opt_str(document),
        person_type=_opt_str(data.get("tipo_pessoa")),
        profiles=tuple(profiles),
        email=_opt_str(data.get("email")),
    )


def parse_entry_summary(data: Mapping[str, Any]) -> EntrySummary:
    """Read one ``…/buscar`` item; the counterpart is ``fornecedor`` (payables) or ``cliente`` (receivables)."""
    person = data.get("fornecedor") or data.get("cliente") or {}
    return EntrySummary(
        id=str(data["id"]),
        description=str(data.get("descricao") or ""),
        due_date=_opt_date(data.get("data_vencimento")),
        competence_date=_opt_date(data.get("data_competencia")),
        status=_opt_str(data.get("status")),
        total=_opt_money(data.get("total")),
        unpaid=_opt_money(data.get("nao_pago")),
        paid=_opt_money(data.get("pago")),
        person_id=_opt_str(person.get("id")) if isinstance(person, dict) else None,
        person_name=_opt_str(person.get("nome")) if isinstance(person, dict) else None,
    )


def parse_installment_detail(data: Mapping[str, Any]) -> InstallmentDetail:
    """Read ``GET …/parcelas/{id}``: the event and where it came from (``evento.referencia``)."""
    event: dict[str, Any] = data["evento"] if isinstance(data.get("evento"), dict) else {}
    reference: dict[str, Any] = event["referencia"] if isinstance(event.get("referencia"), dict) else {}
    return InstallmentDetail(
        id=str(data["id"]),
        event_id=_opt_str(event.get("id")),
        reference_id=_opt_str(reference.get("id")),
        reference_origin=_opt_str(reference.get("origem")),
        description=_opt_str(data.get("descricao")),
    )


def parse_created(data: Any) -> tuple[str, tuple[str, ...]]:
    """Read the sync-create 201 body: the event ``id`` and its installment ids (shape unverified, see §3.5)."""
    if not isinstance(data, dict):
        raise PermanentGatewayError("create response is not a JSON object", body=data)
    entry_id = data.get("id") or data.get("id_evento") or data.get("evento_financeiro_id")
    if not entry_id and isinstance(data.get("evento"), dict):
        entry_id = data["evento"].get("id")
    if not entry_id:
        raise PermanentGatewayError("create response has no id", body=data)
    parcels = data.get("parcelas")
    if parcels is None and isinstance(data.get("condicao_pagamento"), dict):
        parcels = data["condicao_pagamento"].get("parcelas")
    ids = tuple(str(p["id"]) for p in parcels or [] if isinstance(p, dict) and p.get("id"))
    return str(entry_id), ids


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: integer seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def error_message(body: Any) -> str | None:
    """The human message of an error body (often Portuguese), whatever key it comes under."""
    if isinstance(body, str):
        return body.strip()[:500] or None
    if isinstance(body, list):
        parts = [m for m in (error_message(item) for item in body) if m]
        return "; ".join(parts) or None
    if not isinstance(body, dict):
        return None
    for key in ("mensagem", "message", "error_description", "detail", "descricao", "erro", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, dict | list):
            nested = error_message(value)
            if nested:
                return nested
    for key in ("erros", "errors", "detalhes", "details"):
        if key in body:
            nested = error_message(body[key])
            if nested:
                return nested
    return None


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _opt_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _opt_money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        # str() first: an int or Decimal converts exactly, and a stray float keeps its shortest repr.
        return Decimal(str(value))
    except InvalidOperation:
        return None


# --------------------------------------------------------------------------- request bodies (pure)


# Our references (PAG-2026-000123, REC-…) in text people typed are removed from what Conta Azul receives, so the
# one token at the end of an entry's description is always ours: a requester cannot make a retry of one request
# adopt another request's entry by writing its reference in a description.
REFERENCE_LIKE = re.compile(r"\b(?:PAG|REC)-\d{4}-\d{6,}\b", re.IGNORECASE)


def entry_description(draft: EntryDraft) -> str:
    """The description sent to Conta Azul: the text without reference-like tokens, then ``[<our reference>]``."""
    text = " ".join(REFERENCE_LIKE.sub("", draft.description).split())
    return f"{text} [{draft.external_reference}]" if text else f"[{draft.external_reference}]"


def carries_reference(description: str, reference: str) -> bool:
    """Whether an entry's (or installment's) description ends with our exact reference token."""
    return re.search(re.escape(f"[{reference}]") + r"(?: \(\d+/\d+\))?\s*$", description) is not None


def _money(value: Decimal) -> Decimal:
    if not value.is_finite() or value != value.quantize(CENTS):
        raise ValueError(f"amount must have at most 2 decimal places: {value}")
    return value.quantize(CENTS)


def _rateio(draft: EntryDraft) -> list[dict[str, Any]]:
    amount = _money(draft.amount)
    split: dict[str, Any] = {"id_categoria": draft.category_id, "valor": amount}
    if draft.cost_center_id:
        split["rateio_centro_custo"] = [{"id_centro_custo": draft.cost_center_id, "valor": amount}]
    return [split]


def _parcelas(draft: EntryDraft, description: str) -> list[dict[str, Any]]:
    parcels = draft.parcels()
    result = []
    for position, (due, amount) in enumerate(parcels, start=1):
        value = _money(amount)
        if value <= 0:
            raise ValueError(f"installment {position} must be positive: {amount}")
        # Only the installment description shows in the ERP, so it repeats the entry's (reference included).
        text = description if len(parcels) == 1 else f"{description} ({position}/{len(parcels)})"
        result.append(
            {
                "descricao": text,
                "data_vencimento": due.isoformat(),
                "nota": draft.notes or draft.external_reference,
                "conta_financeira": draft.account_id,
                "detalhe_valor": {
                    "valor_bruto": value,
                    "valor_liquido": value,
                    "desconto": 0,
                    "juros": 0,
                    "multa": 0,
                    "taxa": 0,
                },
                "metodo_pagamento": draft.payment_method,
            }
        )
    return result


def _check_sums(body: Mapping[str, Any]) -> None:
    total: Decimal = body["valor"]
    if total <= 0:
        raise ValueError(f"amount must be positive: {total}")
    split_sum = sum((split["valor"] for split in body["rateio"]), Decimal(0))
    parcel_sum = sum((p["detalhe_valor"]["valor_bruto"] for p in body["condicao_pagamento"]["parcelas"]), Decimal(0))
    if split_sum != total or parcel_sum != total:
        raise ValueError(f"valor {total} must equal the rateio sum {split_sum} and the parcelas sum {parcel_sum}")
    for split in body["rateio"]:
        centers = split.get("rateio_centro_custo")
        if centers and sum((c["valor"] for c in centers), Decimal(0)) != split["valor"]:
            raise ValueError("cost-center split must equal its category split")


def _observation(draft: EntryDraft) -> str:
    return draft.notes or f"Aprova {draft.external_reference}"


def _sync_body(draft: EntryDraft, person_key: Literal["id_fornecedor", "id_cliente"]) -> dict[str, Any]:
    description = entry_description(draft)
    body: dict[str, Any] = {
        "descricao": description,
        "data_competencia": draft.competence_date.isoformat(),
        "valor": _money(draft.amount),
        "conta_financeira": draft.account_id,
        person_key: draft.person_id,
        "observacao": _observation(draft),
        "referencia_externa": draft.external_reference,
        "rateio": _rateio(draft),
        "condicao_pagamento": {"parcelas": _parcelas(draft, description)},
    }
    _check_sums(body)
    return body


def _async_body(draft: EntryDraft) -> dict[str, Any]:
    description = entry_description(draft)
    body: dict[str, Any] = {
        "data_competencia": draft.competence_date.isoformat(),
        "valor": _money(draft.amount),
        "descricao": description,
        "observacao": _observation(draft),
        "contato": draft.person_id,
        "conta_financeira": draft.account_id,
        "rateio": _rateio(draft),
        "condicao_pagamento": {"parcelas": _parcelas(draft, description)},
    }
    _check_sums(body)
    return body


def payable_body_sync(draft: EntryDraft) -> dict[str, Any]:
    """Body for ``POST /v1/financeiro/contas-a-pagar`` (201, supplier in ``id_fornecedor``)."""
    return _sync_body(draft, "id_fornecedor")


def receivable_body_sync(draft: EntryDraft) -> dict[str, Any]:
    """Body for ``POST /v1/financeiro/contas-a-receber`` (201, customer in ``id_cliente``)."""
    return _sync_body(draft, "id_cliente")


def payable_body_async(draft: EntryDraft) -> dict[str, Any]:
    """Body for ``POST /v1/financeiro/eventos-financeiros/contas-a-pagar`` (202 protocol, ``contato``)."""
    return _async_body(draft)


def receivable_body_async(draft: EntryDraft) -> dict[str, Any]:
    """Body for ``POST /v1/financeiro/eventos-financeiros/contas-a-receber`` (identical shape to payables)."""
    return _async_body(draft)


def person_body(name: str, document: str | None, profile: Profile, email: str | None = None) -> dict[str, Any]:
    """Body for ``POST /v1/pessoas``: Física with ``cpf`` (11) or Jurídica with ``cnpj`` (14), accented values."""
    body: dict[str, Any] = {"nome": name[:200]}
    if document:
        doc = document_digits(document)
        if len(doc) == 11:
            body.update(tipo_pessoa="Física", cpf=format_document(doc))
        elif len(doc) == 14:
            body.update(tipo_pessoa="Jurídica", cnpj=format_document(doc))
        else:
            raise ValueError("document must be a CPF (11 digits) or a CNPJ (14 characters)")
    else:
        # Without a document we cannot tell; suppliers of an SMB are mostly companies.
        body["tipo_pessoa"] = "Jurídica"
    body["perfis"] = [{"tipo_perfil": profile}]
    if email:
        body["email"] = email
    return body


# --------------------------------------------------------------------------- rate limiting and cache


class _LoopLock:
    """An asyncio.Lock remade per event loop, so a long-lived registry survives test loops."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock = asyncio.Lock()
            self._loop = loop
        return self._lock


def check_send_by(send_by: datetime | None, now: datetime, wait: float, why: str) -> None:
    """Refuse a wait that would let a request leave after ``send_by`` (the posting lease's last safe moment)."""
    if send_by is not None and now + timedelta(seconds=wait) > send_by:
        raise RetryableGatewayError(f"not sent: {why} ({wait:.1f}s) would outlast the posting lease", retry_after=wait)


class RateLimiter:
    """Sliding-window limiter for one connected account: at most ``per_second`` and ``per_minute`` requests."""

    # The server counts a request when it arrives, somewhere between our send and the answer. So through slot()
    # a request holds its place from the send until one window length after the answer: whatever the latency,
    # the server never sees more than the limit in any window.

    def __init__(
        self, *, clock: Clock, sleep: Sleep | None = None, per_second: int = 10, per_minute: int = 600
    ) -> None:
        """Use ``clock`` for time and ``sleep`` to wait (inject both to test without real waiting)."""
        if per_second < 1 or per_minute < 1:
            raise ValueError("rate limits must be positive")
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        self.per_second = per_second
        self.per_minute = per_minute
        self._finished: list[datetime] = []  # sorted instants from which past requests stop counting down
        self._in_flight = 0
        self._blocked_until: datetime | None = None
        self._lock = _LoopLock()
        self.total_granted = 0
        self.total_waited = 0.0

    async def acquire(self) -> None:
        """Wait until one more request fits in both windows and count it as sent and answered right now."""
        await self._wait_for_room()
        bisect.insort(self._finished, self._clock.now())

    @contextlib.asynccontextmanager
    async def slot(self, *, send_by: datetime | None = None) -> AsyncIterator[None]:
        """Wait for room, then hold it while the request is in flight; it keeps counting after it ends.

        With ``send_by``, a wait that would end later raises ``RetryableGatewayError`` instead of waiting.
        """
        await self._wait_for_room(send_by)
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            bisect.insort(self._finished, self._clock.now())

    def block_until(self, until: datetime) -> None:
        """Hold every request until ``until`` (after a 429, the whole team backs off)."""
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until

    async def _wait_for_room(self, send_by: datetime | None = None) -> None:
        async with self._lock.get():
            while True:
                now = self._clock.now()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self.total_granted += 1
                    return
                check_send_by(send_by, now, wait, "waiting for the rate limit")
                self.total_waited += wait
                await self._sleep(wait)

    def _wait_needed(self, now: datetime) -> float:
        minute_ago = now - timedelta(minutes=1)
        drop = bisect.bisect_right(self._finished, minute_ago)
        del self._finished[:drop]
        waits = [0.0]
        if self._blocked_until is not None and self._blocked_until > now:
            waits.append((self._blocked_until - now).total_seconds())
        for limit, span in ((self.per_second, timedelta(seconds=1)), (self.per_minute, timedelta(minutes=1))):
            recent = self._finished[bisect.bisect_right(self._finished, now - span) :]
            count = len(recent) + self._in_flight
            if count >= limit:
                # In-flight requests free their place no sooner than one span from now.
                frees_at = recent + [now] * self._in_flight
                waits.append((frees_at[count - limit] + span - now).total_seconds())
        return max(waits)


class LookupCache:
    """A small TTL cache of lookups for one team, shared by every client of that team."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[datetime, Any]] = {}

    def get(self, key: tuple[str, ...], now: datetime) -> Any:
        """The cached value, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: tuple[str, ...], value: Any, expires_at: datetime) -> None:
        """Remember ``value`` (not None: misses are never cached) until ``expires_at``."""
        if value is None:
            raise ValueError("None cannot be cached")
        self._entries[key] = (expires_at, value)

    def forget(self, key: tuple[str, ...]) -> None:
        """Drop one entry."""
        self._entries.pop(key, None)

    def invalidate(self, kind: str) -> None:
        """Drop every entry whose key starts with ``kind``."""
        for key in [k for k in self._entries if k[0] == kind]:
            del self._entries[key]

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()


# --------------------------------------------------------------------------- the client


class TokenSource(Protocol):
    """Where the client gets bearer tokens; :class:`ledger.contaazul.tokens.TokenManager` is the real one."""

    async def access_token(self, team_id: str) -> str:
        """A currently valid access token for the team."""
        ...

    async def invalidate(self, team_id: str, token: str) -> None:
        """Report that the API rejected ``token`` (401), so the next call gets a fresh one."""
        ...


class StaticTokenSource:
    """A token source with one fixed token (right after the OAuth exchange, or in scripts)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self, team_id: str) -> str:
        """Always the same token."""
        return self._token

    async def invalidate(self, team_id: str, token: str) -> None:
        """Nothing to refresh."""


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    data: Any


class ContaAzulClient:
    """Typed access to one team's Conta Azul account."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        tokens: TokenSource,
        team_id: str,
        clock: Clock,
        limiter: RateLimiter | None = None,
        cache: LookupCache | None = None,
        cache_ttl: timedelta = timedelta(minutes=5),
        route: Route = "sync",
        sleep: Sleep | None = None,
        page_size: int = 100,
        max_429_retries: int = 3,
        max_retry_wait: timedelta = timedelta(seconds=30),
        get_retries: int = 2,
        protocol_timeout: timedelta = timedelta(seconds=90),
        request_timeout: timedelta = timedelta(seconds=20),
    ) -> None:
        """Bind a shared ``http`` client to one team.

        Args:
            http: Shared HTTP client (owns timeouts and pooling; the caller closes it).
            api_url: API base, e.g. ``https://api-v2.contaazul.com``.
            tokens: Source of access tokens for ``team_id``.
            team_id: The Slack team whose connection is used.
            clock: Time source for caches, rate limiting and protocol deadlines.
            limiter: The team's rate limiter; None gives this client one of its own.
            cache: The team's lookup cache; None gives this client one of its own.
            cache_ttl: How long lookups (accounts, categories, cost centers, people) are reused.
            route: ``"sync"`` (201 with id) or ``"async"`` (202 + protocol) create endpoints.
            sleep: Awaitable sleep, injectable so tests do not wait.
            page_size: ``tamanho_pagina`` for list calls (one of 10…1000).
            max_429_retries: 429s absorbed per request before giving up.
            max_retry_wait: Longest ``Retry-After`` waited in-process; longer ones are raised to the caller.
            get_retries: Extra attempts for GETs after a 5xx, timeout or dropped connection.
            protocol_timeout: How long an async create's protocol is polled before ``ProtocolPending``.
            request_timeout: The longest one create call may take, answer included (a posting's lease must
                outlast it).
        """
        if page_size not in PAGE_SIZES:
            raise ValueError(f"page_size must be one of {PAGE_SIZES}")
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._tokens = tokens
        self.team_id = team_id
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        # Shared per team by whoever builds the clients (the connector); a lone client has its own.
        self._limiter = limiter or RateLimiter(clock=clock, sleep=sleep)
        self._cache = cache if cache is not None else LookupCache()
        self.cache_ttl = cache_ttl
        self.route: Route = route
        self.page_size = page_size
        self.max_429_retries = max_429_retries
        self.max_retry_wait = max_retry_wait
        self.get_retries = get_retries
        self.protocol_timeout = protocol_timeout
        self.request_timeout = request_timeout

    @property
    def limiter(self) -> RateLimiter:
        """The team's rate limiter."""
        return self._limiter

    @property
    def cache(self) -> LookupCache:
        """The team's lookup cache."""
        return self._cache

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Any = None,
        send_by: datetime | None = None,
    ) -> _Response:
        """One API call: a 401 refreshes the token once, 429s wait their Retry-After, GETs retry transient errors.

        ``send_by`` (a create's): no attempt leaves after it and no wait reaches past it; the call raises
        ``RetryableGatewayError`` instead, having created nothing.
        """
        url = f"{self._api_url}{path}"
        idempotent = method in ("GET", "HEAD")
        content = dumps(body).encode("utf-8") if body is not None else None
        refreshed = False
        throttled = 0
        failures = 0
        while True:
            token = await self._tokens.access_token(self.team_id)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            check_send_by(send_by, self._clock.now(), 0, "the token refresh")
            try:
                async with self._limiter.slot(send_by=send_by), asyncio.timeout(self._total_timeout(send_by)):
                    response = await self._http.request(method, url, params=params, content=content, headers=headers)
            except TimeoutError as exc:
                # A create bounded by its lease gave up waiting: it may still land, so the outcome is unknown.
                logger.warning("conta azul %s %s timed out", method, path)
                raise RetryableGatewayError(f"{method} {path} timed out", outcome_unknown=True) from exc
            except httpx.TransportError as exc:
                # ConnectError/ConnectTimeout mean nothing reached the server, so even a POST is safe to repeat.
                nothing_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
                if (idempotent or nothing_sent) and failures < self.get_retries:
                    failures += 1
                    check_send_by(send_by, self._clock.now(), 0.2 * 2**failures, "a reconnection")
                    await self._sleep(0.2 * 2**failures)
                    continue
                logger.warning("conta azul %s %s %s", method, path, kind)
                raise RetryableGatewayError(
                    f"{method} {path} {kind}", outcome_unknown=not (idempotent or nothing_sent)
                ) from exc

            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                await self._tokens.invalidate(self.team_id, token)
                continue
            if status == 429:
                wait = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
                delay = 1.0 if wait is None else wait
                self._limiter.block_until(self._clock.now() + timedelta(seconds=delay))
                if throttled < self.max_429_retries and delay <= self.max_retry_wait.total_seconds():
                    check_send_by(send_by, self._clock.now(), delay, "a Retry-After")
                    throttled += 1
                    logger.info("conta azul %s %s throttled, waiting %.1fs", method, path, delay)
                    await self._sleep(delay)
                    continue
                raise RetryableGatewayError(
                    f"{method} {path} rate limited", status=429, body=_body_of(response), retry_after=delay
                )
            if status >= 500:
                if idempotent and failures < self.get_retries:
                    failures += 1
                    await self._sleep(0.2 * 2**failures)
                    continue
                data = _body_of(response)
                logger.warning("conta azul %s %s -> %s", method, path, status)
                raise RetryableGatewayError(
                    f"{method} {path} failed with {status}: {error_message(data) or 'server error'}",
                    status=status,
                    body=data,
                    outcome_unknown=not idempotent,
                )
            if status >= 400:
                data = _body_of(response)
                logger.warning("conta azul %s %s -> %s", method, path, status)
                raise PermanentGatewayError(
                    f"{method} {path} refused with {status}: {error_message(data) or response.reason_phrase}",
                    status=status,
                    body=data,
                )
            return _Response(status, _body_of(response))

    def _total_timeout(self, send_by: datetime | None) -> float | None:
        """A create under a lease must end within ``request_timeout`` in all (httpx bounds each read, not the
        whole exchange); other calls keep httpx's own timeouts."""
        return self.request_timeout.total_seconds() if send_by is not None else None

    async def _get(self, path: str, params: QueryParams | None = None) -> Any:
        return (await self._request("GET", path, params=params)).data

    async def _pages(self, path: str, params: QueryParams, *, max_pages: int = 100) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for number in range(1, max_pages + 1):
            page = parse_page(await self._get(path, {**params, "pagina": number, "tamanho_pagina": self.page_size}))
            items.extend(page.items)
            if len(page.items) < self.page_size or (page.total is not None and len(items) >= page.total):
                break
        return items

    def _cached(self, key: tuple[str, ...]) -> Any:
        return self._cache.get(key, self._clock.now())

    def _remember(self, key: tuple[str, ...], value: Any) -> None:
        self._cache.put(key, value, self._clock.now() + self.cache_ttl)

    # ------------------------------------------------------------------ lookups

    async def connected_company(self) -> ConnectedCompany:
        """The company this connection posts to.

        Returns:
            The connected company (razão social, CNPJ, id).

        Raises:
            PermanentGatewayError: The API refused (4xx other than a recoverable 401/429).
            RetryableGatewayError: 429 beyond retries, 5xx, timeout or dropped connection.
        """
        data = await self._get("/v1/pessoas/conta-conectada")
        if not isinstance(data, dict):
            raise PermanentGatewayError("unexpected conta-conectada response", body=data)
        return parse_company(data)

    async def financial_accounts(self, active_only: bool = True) -> list[FinancialAccount]:
        """Financial accounts (cached).

        Args:
            active_only: Leave out inactive accounts.

        Returns:
            The accounts, in API order.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        key = ("accounts", str(active_only))
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        params: dict[str, str | int | bool] = {"apenas_ativo": True} if active_only else {}
        accounts = [parse_account(item) for item in await self._pages("/v1/conta-financeira", params)]
        if active_only:
            accounts = [a for a in accounts if a.active]
        self._remember(key, tuple(accounts))
        return accounts

    async def categories(self, kind: CategoryKind) -> list[Category]:
        """Every category of one kind (cached), all pages.

        Args:
            kind: ``"DESPESA"`` for payables, ``"RECEITA"`` for receivables.

        Returns:
            The categories of that kind.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        key = ("categories", kind)
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        # The spec marks permite_apenas_filhos as required while real clients omit it; sending false is harmless.
        params = {"tipo": kind, "permite_apenas_filhos": False}
        categories = [parse_category(item) for item in await self._pages("/v1/categorias", params)]
        # Filter locally too, in case the tipo filter is ignored.
        categories = [c for c in categories if c.kind is None or c.kind.upper() == kind]
        self._remember(key, tuple(categories))
        return categories

    async def find_category(self, name: str, kind: CategoryKind, *, confirm_miss: bool = False) -> Category | None:
        """The category whose name matches exactly, ignoring case, accents and extra spaces.

        Args:
            name: Category name as the user typed or picked it.
            kind: ``"DESPESA"`` or ``"RECEITA"``.
            confirm_miss: On a miss, look again past the cache (posting must not fail on a list older than a
                category just created or renamed in Conta Azul).

        Returns:
            The category, or None when there is none with that name (categories cannot be created via the API).

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        wanted = name_key(name)
        from_cache = self._cached(("categories", kind)) is not None
        found = next((c for c in await self.categories(kind) if name_key(c.name) == wanted), None)
        if found is None and confirm_miss and from_cache:
            self._cache.forget(("categories", kind))
            found = next((c for c in await self.categories(kind) if name_key(c.name) == wanted), None)
        return found

    async def cost_centers(self) -> list[CostCenter]:
        """Every cost center, active first (cached).

        Returns:
            The cost centers.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        key = ("cost_centers",)
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        items = await self._pages("/v1/centro-de-custo", {"filtro_rapido": "TODOS"})
        centers = sorted((parse_cost_center(item) for item in items), key=lambda c: not c.active)
        self._remember(key, tuple(centers))
        return centers

    async def find_cost_center(self, name: str, *, confirm_miss: bool = False) -> CostCenter | None:
        """The cost center with this exact name (case/accents/spaces ignored), preferring an active one.

        Args:
            name: Cost center name.
            confirm_miss: On a miss, look again past the cache (before creating one that may exist already).

        Returns:
            The cost center or None.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        wanted = name_key(name)
        from_cache = self._cached(("cost_centers",)) is not None
        found = next((c for c in await self.cost_centers() if name_key(c.name) == wanted), None)
        if found is None and confirm_miss and from_cache:
            self._cache.forget(("cost_centers",))
            found = next((c for c in await self.cost_centers() if name_key(c.name) == wanted), None)
        return found

    async def create_cost_center(self, name: str, code: str | None = None) -> CostCenter:
        """Create a cost center (any 2xx is success) and forget cached cost centers.

        Args:
            name: Name of the new cost center.
            code: Optional ``codigo``.

        Returns:
            The created cost center.

        Raises:
            PermanentGatewayError: The API refused (e.g. a duplicate name).
            RetryableGatewayError: Transient failure; the outcome may be unknown, so look it up before retrying.
        """
        try:
            response = await self._request("POST", "/v1/centro-de-custo", body={"nome": name, "codigo": code})
        finally:
            self._cache.invalidate("cost_centers")
        if isinstance(response.data, dict) and response.data.get("id"):
            return parse_cost_center(response.data)
        found = await self.find_cost_center(name)
        if found is None:
            raise RetryableGatewayError(f"cost center {name!r} was accepted but is not listed yet")
        return found

    async def find_person(
        self, document: str | None = None, name: str | None = None, profile: Profile = "Fornecedor"
    ) -> Person | None:
        """Find a supplier or customer by CPF/CNPJ first, then by exact name.

        Args:
            document: CPF or CNPJ, formatted or not.
            name: Exact name (case, accents and spaces ignored).
            profile: ``"Fornecedor"`` or ``"Cliente"``.

        Returns:
            The person, or None when neither matches.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        if document and document_digits(document):
            found = await self._person_by_document(document_digits(document), profile)
            if found is not None:
                return found
        if name and name.strip():
            return await self._person_by_name(name, profile)
        return None

    async def _person_by_document(self, doc: str, profile: Profile) -> Person | None:
        key = ("people", "document", profile, doc)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        # The filter's format is undocumented (digits vs. formatted): try both, and always compare locally.
        for variant in dict.fromkeys((doc, format_document(doc))):
            people = await self._people({"documentos": variant, "tipo_perfil": profile})
            matches = [p for p in people if p.document and document_digits(p.document) == doc]
            if matches:
                person = _prefer_profile(matches, profile)
                self._remember(key, person)
                return person
        return None

    async def _person_by_name(self, name: str, profile: Profile) -> Person | None:
        wanted = name_key(name)
        key = ("people", "name", profile, wanted)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        people = await self._people({"busca": " ".join(name.split()), "tipo_perfil": profile})
        matches = [p for p in people if name_key(p.name) == wanted]
        if not matches:
            return None
        person = _prefer_profile(matches, profile)
        self._remember(key, person)
        return person

    async def search_people(self, text: str, profile: Profile = "Fornecedor", limit: int = 50) -> list[Person]:
        """People of one profile whose name or document contains ``text`` (type-ahead; cached).

        Args:
            text: What the person typed; empty lists the first ``limit``.
            profile: ``Fornecedor`` or ``Cliente``.
            limit: At most this many, in the API's order.

        Returns:
            Matching people.
        """
        typed = " ".join(text.split())
        key = ("people", "search", profile, name_key(typed))
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        params: dict[str, str | int] = {"tipo_perfil": profile}
        if typed:
            params["busca"] = typed
        people = [parse_person(item) for item in await self._pages("/v1/pessoas", params, max_pages=1)][:limit]
        self._remember(key, people)
        return people

    async def _people(self, params: QueryParams) -> list[Person]:
        return [parse_person(item) for item in await self._pages("/v1/pessoas", params, max_pages=20)]

    async def create_person(
        self, name: str, document: str | None = None, profile: Profile = "Fornecedor", email: str | None = None
    ) -> Person:
        """Create a person with one profile and forget cached people lookups.

        Args:
            name: Name (razão social or full name), up to 200 characters.
            document: CPF (→ Física) or CNPJ (→ Jurídica), formatted or not.
            profile: ``"Fornecedor"`` or ``"Cliente"``.
            email: Optional e-mail.

        Returns:
            The created person.

        Raises:
            ValueError: The document is neither a CPF nor a CNPJ.
            PermanentGatewayError: The API refused (e.g. an invalid or duplicate document).
            RetryableGatewayError: Transient failure; look the person up before retrying.
        """
        body = person_body(name, document, profile, email)
        try:
            response = await self._request("POST", "/v1/pessoas", body=body)
        finally:
            self._cache.invalidate("people")
        if isinstance(response.data, dict) and response.data.get("id"):
            person = parse_person(response.data)
            if not person.profiles:
                person = Person(
                    person.id, person.name, person.document, person.person_type, (_profile_key(profile),), person.email
                )
            return person
        found = await self.find_person(document=document, name=name, profile=profile)
        if found is None:
            raise RetryableGatewayError(f"person {name!r} was accepted but is not listed yet")
        return found

    async def add_profile(self, person: Person, profile: Profile) -> Person:
        """Give an existing person one more profile (a supplier who also buys from us): PATCH the whole list.

        Args:
            person: The person as found (its current profiles are kept).
            profile: ``"Fornecedor"`` or ``"Cliente"``.

        Returns:
            The person with the profile added.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure (the PATCH is idempotent: retrying is safe).
        """
        wanted = tuple(sorted({*person.profiles, _profile_key(profile)}))
        body = {"perfis": [{"tipo_perfil": PROFILE_NAMES.get(key, key.title())} for key in wanted]}
        try:
            await self._request("PATCH", f"/v1/pessoas/{person.id}", body=body)
        finally:
            self._cache.invalidate("people")
        return Person(person.id, person.name, person.document, person.person_type, wanted, person.email)

    # ------------------------------------------------------------------ entries

    async def create_payable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry:
        """Create an account payable through the configured route.

        Args:
            draft: The entry; its external reference goes into the description (and ``referencia_externa``).
            send_by: Nothing is sent, and no protocol polled, after this instant (the posting lease's margin).

        Returns:
            The created entry's id (the evento financeiro) and, on the async route, the protocol.

        Raises:
            ValueError: Amounts are inconsistent (rateio/parcelas sums) or have more than 2 decimals.
            PermanentGatewayError: Refused (400…) or the protocol ended in ERROR.
            ProtocolPending: Accepted but unresolved in time; call ``resolve_protocol`` later, never re-post.
            RetryableGatewayError: Transient failure; if ``params["outcome_unknown"]``, reconcile before retrying.
        """
        return await self._create("payable", draft, send_by)

    async def create_receivable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry:
        """Create an account receivable through the configured route.

        Args:
            draft: The entry (``person_id`` is the customer).
            send_by: As for :meth:`create_payable`.

        Returns:
            The created entry's id and, on the async route, the protocol.

        Raises:
            ValueError: Amounts are inconsistent.
            PermanentGatewayError: Refused or the protocol ended in ERROR.
            ProtocolPending: Accepted but unresolved in time.
            RetryableGatewayError: Transient failure; reconcile before retrying when the outcome is unknown.
        """
        return await self._create("receivable", draft, send_by)

    async def _create(self, kind: EntryKind, draft: EntryDraft, send_by: datetime | None) -> CreatedEntry:
        if self.route == "sync":
            body = payable_body_sync(draft) if kind == "payable" else receivable_body_sync(draft)
            response = await self._request("POST", SYNC_PATHS[kind], body=body, send_by=send_by)
            if isinstance(response.data, dict) and _looks_like_protocol(response.data):
                return await self._follow_protocol(kind, draft, parse_protocol(response.data), "sync", send_by)
            entry_id, installment_ids = parse_created(response.data)
            return CreatedEntry(entry_id, "sync", None, installment_ids)
        body = payable_body_async(draft) if kind == "payable" else receivable_body_async(draft)
        response = await self._request("POST", ASYNC_PATHS[kind], body=body, send_by=send_by)
        return await self._follow_protocol(kind, draft, parse_protocol(response.data), "async", send_by)

    async def _follow_protocol(
        self, kind: EntryKind, draft: EntryDraft, protocol: ProtocolStatus, route: Route, send_by: datetime | None
    ) -> CreatedEntry:
        if protocol.status == "ERROR":
            raise _protocol_error(protocol)
        if protocol.status == "SUCCESS" and protocol.event_id:
            return CreatedEntry(protocol.event_id, route, protocol.id, ())
        timeout = self.protocol_timeout
        if send_by is not None:  # polling must end within the lease too; a later attempt resumes it
            timeout = max(timedelta(0), min(timeout, send_by - self._clock.now()))
        event_id = await self.resolve_protocol(
            protocol.id, kind=kind, due_date=draft.parcels()[0][0], reference=draft.external_reference, timeout=timeout
        )
        return CreatedEntry(event_id, route, protocol.id, ())

    async def resolve_protocol(
        self,
        protocol_id: str,
        *,
        kind: EntryKind,
        due_date: date,
        reference: str | None = None,
        timeout: timedelta | None = None,
    ) -> str:
        """Poll an async-create protocol until it yields the evento financeiro id.

        Falls back to matching ``evento.referencia.id`` on installments due that day when ``/v1/protocolo``
        answers 404 (reference §3.5).

        Args:
            protocol_id: The id returned by the 202.
            kind: ``"payable"`` or ``"receivable"`` (where to search in the fallback).
            due_date: First installment's due date (narrows the fallback search).
            reference: Our external reference, to narrow the fallback search by description.
            timeout: How long to poll; defaults to the client's ``protocol_timeout``.

        Returns:
            The evento financeiro id.

        Raises:
            PermanentGatewayError: The protocol ended in ERROR.
            ProtocolPending: Still unresolved at the deadline (carries ``protocol_id``).
            RetryableGatewayError: Transient failure while polling.
        """
        deadline = self._clock.now() + (timeout if timeout is not None else self.protocol_timeout)
        delay = 0.5
        use_fallback = False
        checked: set[str] = set()
        while True:
            if not use_fallback:
                try:
                    protocol = parse_protocol(await self._get(PROTOCOL_PATH.format(id=protocol_id)))
                except PermanentGatewayError as exc:
                    if exc.status != 404:
                        raise
                    logger.info("protocol endpoint 404 for %s; matching installments instead", protocol_id)
                    use_fallback = True
                else:
                    if protocol.status == "ERROR":
                        raise _protocol_error(protocol)
                    if protocol.status == "SUCCESS":
                        if protocol.event_id:
                            return protocol.event_id
                        use_fallback = True
            if use_fallback:
                event_id = await self._event_for_protocol(kind, protocol_id, due_date, reference, checked)
                if event_id:
                    return event_id
            now = self._clock.now()
            if now >= deadline:
                raise ProtocolPending(protocol_id)
            await self._sleep(min(delay, (deadline - now).total_seconds()))
            delay = min(delay * 2, 10.0)

    async def _event_for_protocol(
        self, kind: EntryKind, protocol_id: str, due_date: date, reference: str | None, checked: set[str]
    ) -> str | None:
        candidates = await self.search_entries(kind, due_date, due_date, description=reference)
        if reference:
            candidates = [c for c in candidates if reference in c.description] or await self.search_entries(
                kind, due_date, due_date
            )
        for candidate in candidates:
            if candidate.id in checked:
                continue
            detail = await self.installment(candidate.id)
            checked.add(candidate.id)
            if detail.reference_id == protocol_id and detail.event_id:
                return detail.event_id
        return None

    async def installment(self, installment_id: str) -> InstallmentDetail:
        """One installment with its event reference.

        Args:
            installment_id: Parcela id (from ``search_entries``).

        Returns:
            The installment's event id and ``evento.referencia``.

        Raises:
            PermanentGatewayError: Not found or refused.
            RetryableGatewayError: Transient failure.
        """
        data = await self._get(INSTALLMENT_PATH.format(id=installment_id))
        if not isinstance(data, dict):
            raise PermanentGatewayError("unexpected installment response", body=data)
        return parse_installment_detail(data)

    async def search_entries(
        self, kind: EntryKind, due_from: date, due_to: date, description: str | None = None
    ) -> list[EntrySummary]:
        """Installments of payables or receivables due in a date range, all pages.

        Args:
            kind: ``"payable"`` or ``"receivable"``.
            due_from: First due date (inclusive).
            due_to: Last due date (inclusive).
            description: Optional ``descricao`` filter (its matching rule is undocumented: also check locally).

        Returns:
            The installments found.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        params: dict[str, str | int | bool] = {
            "data_vencimento_de": due_from.isoformat(),
            "data_vencimento_ate": due_to.isoformat(),
        }
        if description:
            params["descricao"] = description
        return [parse_entry_summary(item) for item in await self._pages(SEARCH_PATHS[kind], params)]

    async def find_entries_by_reference(
        self, kind: EntryKind, reference: str, due_from: date, due_to: date
    ) -> list[EntrySummary]:
        """The installments whose description ends with our exact ``reference`` token, for reconciling a retry.

        The caller still compares amount and counterparty before adopting one (see ``ledger.outbox``).

        Args:
            kind: ``"payable"`` or ``"receivable"``.
            reference: Our external reference (e.g. ``PAG-2026-000123``).
            due_from: First due date to look at.
            due_to: Last due date to look at.

        Returns:
            The matching installments (usually none or one).

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        for description in (reference, None):
            # The ``descricao`` filter's matching rule is undocumented: without it, scan the window ourselves.
            found = [
                entry
                for entry in await self.search_entries(kind, due_from, due_to, description=description)
                if carries_reference(entry.description, reference)
            ]
            if found:
                return found
        return []


def _looks_like_protocol(data: Mapping[str, Any]) -> bool:
    return any(key in data for key in ("protocolo", "protocolId"))


def _protocol_error(protocol: ProtocolStatus) -> PermanentGatewayError:
    return PermanentGatewayError(
        f"Conta Azul rejected the entry (protocol {protocol.id}): {protocol.response or 'no reason given'}",
        body=protocol.response,
        protocol_id=protocol.id,
    )


def _prefer_profile(people: list[Person], profile: Profile) -> Person:
    wanted = _profile_key(profile)
    return next((p for p in people if wanted in p.profiles), people[0])


def _body_of(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return loads(response.content)
    except ValueError:
        return response.text[:2000]


__all__ = [
    "ASYNC_PATHS",
    "PAYMENT_METHODS",
    "SYNC_PATHS",
    "Category",
    "ConnectedCompany",
    "ContaAzulClient",
    "CostCenter",
    "CreatedEntry",
    "EntryDraft",
    "EntrySummary",
    "FinancialAccount",
    "InstallmentDetail",
    "LookupCache",
    "Page",
    "Person",
    "ProtocolPending",
    "ProtocolStatus",
    "RateLimiter",
    "StaticTokenSource",
    "TokenSource",
    "carries_reference",
    "dumps",
    "entry_description",
    "error_message",
    "format_document",
    "loads",
    "parse_page",
    "parse_protocol",
    "parse_retry_after",
    "payable_body_async",
    "payable_body_sync",
    "person_body",
    "receivable_body_async",
    "receivable_body_sync",
]
