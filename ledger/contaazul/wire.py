"""Conta Azul API v2 wire format: JSON with exact money, response parsing and request bodies.

Everything here is pure (no I/O, no clock of its own, no state), so the whole request/response mapping
(``payable_body_sync``, ``parse_protocol``, ``parse_page`` …) can be tested without HTTP;
:class:`ledger.contaazul.client.ContaAzulClient` only adds transport concerns on top.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ledger.contaazul.models import (
    CENTS,
    Category,
    ConnectedCompany,
    CostCenter,
    Counterparty,
    EntryDraft,
    EntryKind,
    EntrySummary,
    FinancialAccount,
    InstallmentDetail,
    Page,
    Person,
    PersonType,
    Profile,
    ProtocolStatus,
)
from ledger.errors import PermanentGatewayError
from ledger.names import document_digits, name_key

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


def person_type(document: str) -> PersonType | None:
    """``Física`` for a CPF (11 characters), ``Jurídica`` for a CNPJ (14, alphanumeric too); None otherwise."""
    size = len(document_digits(document))
    if size == 11:
        return "Física"
    if size == 14:
        return "Jurídica"
    return None


def profile_key(text: str) -> str:
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
            profiles.append(profile_key(str(value)))
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


def parse_created(data: Any) -> tuple[str, tuple[str, ...]] | None:
    """Read the sync-create 201 body: the event ``id`` and its installment ids (shape unverified, see §3.5); None
    when the body names no entry (it was created all the same: the caller finds it by reference)."""
    if not isinstance(data, dict):
        return None
    entry_id = data.get("id") or data.get("id_evento") or data.get("evento_financeiro_id")
    if not entry_id and isinstance(data.get("evento"), dict):
        entry_id = data["evento"].get("id")
    if not entry_id or not isinstance(entry_id, str | int):
        return None
    parcels = data.get("parcelas")
    if parcels is None and isinstance(data.get("condicao_pagamento"), dict):
        parcels = data["condicao_pagamento"].get("parcelas")
    ids = tuple(str(p["id"]) for p in parcels or [] if isinstance(p, dict) and p.get("id"))
    return str(entry_id), ids


# Where a create's answer may name the counterparty, by kind (the sync route's keys first; its 201 is unverified).
_COUNTERPARTY_KEYS: Mapping[EntryKind, tuple[str, ...]] = {
    "payable": ("id_fornecedor", "fornecedor", "contato"),
    "receivable": ("id_cliente", "cliente", "contato"),
}


def reported_counterparty(data: Any, kind: EntryKind) -> Counterparty | None:
    """The supplier (payable) or customer (receivable) a create's answer reports, as an id or a ``{id, nome}``
    object; ``Counterparty(None)`` when the key is there but empty, None when no such key is in the answer."""
    if not isinstance(data, dict):
        return None
    for key in _COUNTERPARTY_KEYS[kind]:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, dict):
            return Counterparty(_opt_str(value.get("id")), _opt_str(value.get("nome")))
        return Counterparty(_opt_str(value) if isinstance(value, str | int) else None)
    return None


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
        kind = person_type(document)
        if kind is None:
            raise ValueError("document must be a CPF (11 digits) or a CNPJ (14 characters)")
        body["tipo_pessoa"] = kind
        body["cpf" if kind == "Física" else "cnpj"] = format_document(document)
    else:
        # Without a document we cannot tell; suppliers of an SMB are mostly companies.
        body["tipo_pessoa"] = "Jurídica"
    body["perfis"] = [{"tipo_perfil": profile}]
    if email:
        body["email"] = email
    return body


__all__ = [
    "PROFILE_NAMES",
    "REFERENCE_LIKE",
    "carries_reference",
    "dumps",
    "entry_description",
    "error_message",
    "format_document",
    "loads",
    "parse_account",
    "parse_category",
    "parse_company",
    "parse_cost_center",
    "parse_created",
    "parse_entry_summary",
    "parse_installment_detail",
    "parse_page",
    "parse_person",
    "parse_protocol",
    "parse_retry_after",
    "payable_body_async",
    "payable_body_sync",
    "person_body",
    "person_type",
    "profile_key",
    "receivable_body_async",
    "receivable_body_sync",
    "reported_counterparty",
]
