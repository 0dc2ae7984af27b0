"""Plain data records held by the sandbox state (JSON-friendly dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON = dict[str, Any]


@dataclass
class Company:
    """The connected ERP account (one per sandbox)."""

    id: str
    razao_social: str
    nome_fantasia: str
    documento: str
    email: str
    data_fundacao: str


@dataclass
class FinancialAccount:
    """A conta financeira (bank account, petty cash, card receivables...)."""

    id: str
    nome: str
    tipo: str
    banco: str
    codigo_banco: int | None
    agencia: str | None
    numero: str | None
    ativo: bool = True
    conta_padrao: bool = False
    possui_config_boleto_bancario: bool = False


@dataclass
class Category:
    """A financial category (RECEITA or DESPESA), optionally under a parent."""

    id: str
    nome: str
    tipo: str
    categoria_pai: str | None
    entrada_dre: str
    considera_custo_dre: bool = False
    versao: int = 0


@dataclass
class CostCenter:
    """A centro de custo."""

    id: str
    nome: str
    codigo: str | None
    ativo: bool = True


@dataclass
class Person:
    """A pessoa (customer / supplier / carrier). tipo_pessoa and perfis are kept in the read (upper-case) form."""

    id: str
    id_legado: int
    uuid_legado: str
    nome: str
    tipo_pessoa: str
    documento: str | None
    perfis: list[str]
    data_criacao: datetime
    data_alteracao: datetime
    email: str | None = None
    telefone_celular: str | None = None
    telefone_comercial: str | None = None
    nome_fantasia: str | None = None
    codigo: str | None = None
    observacao: str | None = None
    optante_simples: bool | None = None
    enderecos: list[JSON] = field(default_factory=list)
    inscricoes: list[JSON] = field(default_factory=list)
    ativo: bool = True


@dataclass
class NewEntry:
    """A validated payable/receivable body, common to the async and the sync routes."""

    tipo: str  # DESPESA (payable) | RECEITA (receivable)
    descricao: str
    data_competencia: str
    valor: float
    observacao: str | None
    contato_id: str
    conta_financeira_id: str
    rateio: list[JSON]
    parcelas: list[JSON]
    referencia_externa: str | None = None


@dataclass
class Event:
    """A stored evento financeiro (the payable/receivable itself)."""

    id: str
    id_legado: int
    tipo: str
    descricao: str
    data_competencia: str
    valor: float
    observacao: str | None
    contato_id: str | None  # None when stored without its supplier/customer (`counterparty_ignored`)
    conta_financeira_id: str
    rateio: list[JSON]
    referencia_id: str
    referencia_origem: str
    referencia_externa: str | None
    route: str  # "async" | "sync": which create endpoint produced it
    data_criacao: datetime
    data_alteracao: datetime
    versao: int = 1


@dataclass
class Installment:
    """A stored parcela of an event."""

    id: str
    id_legado: int
    evento_id: str
    indice: int
    descricao: str
    data_vencimento: str
    nota: str | None
    conta_financeira_id: str
    detalhe_valor: JSON
    metodo_pagamento: str | None
    data_criacao: datetime
    data_alteracao: datetime
    versao: int = 1


@dataclass
class Protocol:
    """An async creation protocol; resolved lazily by the clock."""

    id: str
    tipo: str
    data_criacao: datetime
    resolve_at: datetime
    status: str  # PENDING | SUCCESS | ERROR
    entry: JSON | None  # NewEntry as a dict, None when the body was invalid
    error: str | None
    force_error: bool = False
    discarded: bool = False  # silently dropped by Conta Azul: PENDING forever, nothing created
    evento_id: str | None = None
    resposta: str | None = None


@dataclass
class PendingAuthorization:
    """An /oauth2/authorize request waiting for the consent form."""

    request_id: str
    client_id: str
    redirect_uri: str
    state: str | None
    scope: str
    expires_at: datetime
    code_challenge: str | None = None  # PKCE S256 (RFC 7636), when the client sent one


@dataclass
class AuthCode:
    """A single-use authorization code."""

    code: str
    client_id: str
    redirect_uri: str
    company_id: str
    expires_at: datetime
    used: bool = False
    code_challenge: str | None = None


@dataclass
class AccessToken:
    """An issued bearer token."""

    token: str
    client_id: str
    company_id: str
    expires_at: datetime


@dataclass
class RefreshToken:
    """An issued refresh token (rotated on every use)."""

    token: str
    client_id: str
    company_id: str
    issued_at: datetime


@dataclass
class RequestRecord:
    """One request seen by the sandbox (status 0 = connection dropped)."""

    method: str
    path: str
    status: int
    at: datetime
    query: str = ""
