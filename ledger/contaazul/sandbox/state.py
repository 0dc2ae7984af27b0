"""In-memory state of the Conta Azul sandbox: data, OAuth grants, protocols, rate windows, faults.

Pure Python (no HTTP): the aiohttp layer in `app.py` parses requests and renders what this module returns.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import secrets
import tempfile
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from . import seed
from .documents import normalize
from .faults import Faults
from .models import (
    JSON,
    AccessToken,
    AuthCode,
    Category,
    Company,
    CostCenter,
    Event,
    FinancialAccount,
    Installment,
    NewEntry,
    PendingAuthorization,
    Person,
    Protocol,
    RefreshToken,
    RequestRecord,
)

SCOPE = "openid profile aws.cognito.signin.user.admin"
PAGE_SIZES = (10, 20, 50, 100, 200, 500, 1000)
# Brazil has had no DST since 2019, so a fixed offset is exact and avoids needing tzdata.
SAO_PAULO = timezone(timedelta(hours=-3), "America/Sao_Paulo")
PROTOCOL_OK = "Operação realizada com sucesso."
PROTOCOL_FAILED = "Ocorreu um erro inesperado ao processar o evento financeiro. Tente novamente mais tarde."
BUSCAR_STATUS = ("PERDIDO", "RECEBIDO", "EM_ABERTO", "RENEGOCIADO", "RECEBIDO_PARCIAL", "ATRASADO")
# The spec's example shows an English `status` next to the Portuguese `status_traduzido`.
_STATUS_EN = {"EM_ABERTO": "PENDING", "ATRASADO": "OVERDUE"}


def utcnow() -> datetime:
    """Default clock."""
    return datetime.now(UTC)


def fold(text: str) -> str:
    """Case- and accent-insensitive comparison key."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def fmt_utc(dt: datetime) -> str:
    """2026-08-05T14:30:00Z (as in the spec examples for data_criacao)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_sp(dt: datetime) -> str:
    """São Paulo local time without offset (the spec's data_alteracao convention)."""
    return dt.astimezone(SAO_PAULO).strftime("%Y-%m-%dT%H:%M:%S")


def money_out(value: float) -> float:
    """Amounts are rendered rounded to cents."""
    return round(value + 0.0, 2)


class OAuthError(Exception):
    """An RFC 6749 token-endpoint error."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class TokenGrant:
    """What the token endpoint returns."""

    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int

    def body(self) -> JSON:
        """The token response JSON."""
        return {
            "access_token": self.access_token,
            "id_token": self.id_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SandboxState:
    """All sandbox data for one connected company, plus knobs tests can turn.

    Settings (plain attributes, change them freely):
    `cost_center_list_key` ("items" per spec | "itens" as observed), `protocol_key_style` ("new" | "old"),
    `protocol_delay_seconds`, `rate_limit_per_second` / `rate_limit_per_minute` (None = off),
    `access_token_ttl`, `auth_code_ttl`, `require_permite_apenas_filhos`, `pessoas_default_tipo_perfil`,
    `leaf_categories_only`.

    Note: rate windows and expiries follow `clock`; with a frozen test clock advance it (or set the rate limits to
    None), otherwise more than 10 API calls in a row answer 429.
    """

    def __init__(
        self,
        *,
        client_id: str = "aprova-local",
        client_secret: str = "local-secret",
        redirect_uris: list[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        state_file: str | None = None,
    ) -> None:
        self.clock: Callable[[], datetime] = clock or utcnow
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris) if redirect_uris is not None else None
        self.state_file = state_file
        self.issuer = "http://127.0.0.1"

        self.cost_center_list_key = "items"
        self.protocol_key_style = "new"
        self.protocol_delay_seconds = 0.0
        self.rate_limit_per_second: int | None = 10
        self.rate_limit_per_minute: int | None = 600
        self.access_token_ttl = 3600
        self.auth_code_ttl = 180
        self.require_permite_apenas_filhos = True
        self.pessoas_default_tipo_perfil: str | None = None
        self.leaf_categories_only = False

        self.company: Company = seed.company()
        self.accounts: dict[str, FinancialAccount] = {a.id: a for a in seed.accounts()}
        self.categories: dict[str, Category] = {c.id: c for c in seed.categories()}
        self.cost_centers: dict[str, CostCenter] = {c.id: c for c in seed.cost_centers()}
        self.people: dict[str, Person] = {p.id: p for p in seed.people()}
        self.events: dict[str, Event] = {}
        self.installments: dict[str, Installment] = {}
        self.protocols: dict[str, Protocol] = {}
        self.next_legacy_id = 5000

        self.pending_authorizations: dict[str, PendingAuthorization] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.refresh_count = 0  # every refresh_token grant received (success or not)
        self.refresh_success_count = 0
        self.token_issue_count = 0

        self.request_log: list[RequestRecord] = []
        self.faults = Faults()
        self._rate_windows: dict[str, deque[datetime]] = {}
        if state_file and os.path.exists(state_file):
            self.load(state_file)

    # --- time -------------------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Current (aware UTC) time from the injected clock."""
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("sandbox clock must return an aware datetime")
        return now

    def today_sp(self) -> date:
        """Today in São Paulo (decides ATRASADO)."""
        return self.now().astimezone(SAO_PAULO).date()

    def _legacy_id(self) -> int:
        self.next_legacy_id += 1
        return self.next_legacy_id

    # --- OAuth ------------------------------------------------------------------------------------------------------

    def redirect_allowed(self, redirect_uri: str) -> bool:
        """None = any absolute http(s) URL; otherwise an exact match, like the app registration."""
        if not redirect_uri.startswith(("http://", "https://")):
            return False
        return self.redirect_uris is None or redirect_uri in self.redirect_uris

    def begin_authorization(self, client_id: str, redirect_uri: str, state: str | None, scope: str) -> str:
        """Remember an authorize request for the consent form; returns its request_id."""
        request_id = secrets.token_urlsafe(16)
        self.pending_authorizations[request_id] = PendingAuthorization(
            request_id, client_id, redirect_uri, state, scope, self.now() + timedelta(minutes=10)
        )
        return request_id

    def take_authorization(self, request_id: str) -> PendingAuthorization | None:
        """Pop a pending authorize request (None if unknown or stale)."""
        pending = self.pending_authorizations.pop(request_id, None)
        if pending is None or self.now() >= pending.expires_at:
            return None
        return pending

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        """A new single-use authorization code (lifetime `auth_code_ttl`)."""
        code = secrets.token_urlsafe(24)
        self.auth_codes[code] = AuthCode(
            code, client_id, redirect_uri, self.company.id, self.now() + timedelta(seconds=self.auth_code_ttl)
        )
        return code

    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> str:
        """Check client credentials; raises invalid_client (401)."""
        if not client_id or client_secret is None:
            raise OAuthError("invalid_client", "Client authentication failed", 401)
        ok_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        ok_secret = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        if not (ok_id and ok_secret):
            raise OAuthError("invalid_client", "Client authentication failed", 401)
        return client_id

    def exchange_code(self, client_id: str, code: str | None, redirect_uri: str | None) -> TokenGrant:
        """grant_type=authorization_code."""
        if not code:
            raise OAuthError("invalid_request", "code is required")
        grant = self.auth_codes.get(code)
        if grant is None or grant.used:
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if self.now() >= grant.expires_at:
            raise OAuthError("invalid_grant", "Authorization code expired")
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri or client_id mismatch")
        grant.used = True
        return self.issue_tokens(client_id, grant.company_id)

    def refresh(self, client_id: str, refresh_token: str | None) -> TokenGrant:
        """grant_type=refresh_token; rotates the refresh token (the old one becomes invalid_grant)."""
        self.refresh_count += 1
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        current = self.refresh_tokens.get(refresh_token)
        if current is None or current.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid Refresh Token")
        del self.refresh_tokens[refresh_token]
        self.refresh_success_count += 1
        return self.issue_tokens(client_id, current.company_id)

    def issue_tokens(self, client_id: str | None = None, company_id: str | None = None) -> TokenGrant:
        """Mint a token pair directly (also handy for tests that skip the browser flow)."""
        client_id = client_id or self.client_id
        company_id = company_id or self.company.id
        now = self.now()
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(48)
        self.access_tokens[access] = AccessToken(
            access, client_id, company_id, now + timedelta(seconds=self.access_token_ttl)
        )
        self.refresh_tokens[refresh] = RefreshToken(refresh, client_id, company_id, now)
        self.token_issue_count += 1
        self._changed()
        return TokenGrant(access, self._id_token(client_id, now), refresh, self.access_token_ttl)

    def _id_token(self, client_id: str, now: datetime) -> str:
        # A JWT-shaped Cognito-like id_token, HS256-signed with the client secret (never needed by the API).
        header = {"alg": "HS256", "typ": "JWT"}
        iat = int(now.timestamp())
        payload = {
            "sub": seed.seed_id("usuario", self.company.email),
            "aud": client_id,
            "iss": self.issuer,
            "token_use": "id",
            "email": self.company.email,
            "name": self.company.razao_social,
            "auth_time": iat,
            "iat": iat,
            "exp": iat + self.access_token_ttl,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
        sig = hmac.new(self.client_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(sig)}"

    def check_access_token(self, token: str) -> tuple[str | None, str]:
        """(company_id, "") when valid, else (None, reason)."""
        record = self.access_tokens.get(token)
        if record is None:
            return None, "Invalid access token"
        if self.now() >= record.expires_at:
            return None, "The Token has expired."
        return record.company_id, ""

    def expire_all_access_tokens(self) -> None:
        """Every issued access token is expired from now on (API answers 401)."""
        now = self.now()
        for record in self.access_tokens.values():
            record.expires_at = min(record.expires_at, now)
        self._changed()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token becomes invalid (next refresh -> invalid_grant)."""
        self.refresh_tokens.clear()
        self._changed()

    # --- rate limiting & request log -----------------------------------------------------------------------------

    def check_rate_limit(self, company_id: str) -> int | None:
        """Record one API call; returns Retry-After seconds when a sliding window is full (call not recorded)."""
        now = self.now()
        window = self._rate_windows.setdefault(company_id, deque())
        while window and now - window[0] >= timedelta(minutes=1):
            window.popleft()
        waits: list[float] = []
        per_min = self.rate_limit_per_minute
        if per_min is not None and len(window) >= per_min:
            oldest = window[len(window) - per_min] if per_min > 0 else now
            waits.append((oldest + timedelta(minutes=1) - now).total_seconds())
        per_sec = self.rate_limit_per_second
        if per_sec is not None:
            recent = [t for t in window if now - t < timedelta(seconds=1)]
            if len(recent) >= per_sec:
                oldest = recent[len(recent) - per_sec] if per_sec > 0 else now
                waits.append((oldest + timedelta(seconds=1) - now).total_seconds())
        if waits:
            return max(1, math.ceil(max(waits)))
        window.append(now)
        return None

    def log_request(self, method: str, path: str, status: int, query: str = "") -> None:
        """Append to `request_log` (status 0 = connection dropped)."""
        self.request_log.append(RequestRecord(method, path, status, self.now(), query))

    def api_calls(self, prefix: str = "/v1/", method: str | None = None) -> list[RequestRecord]:
        """Logged requests under `prefix` (default: the API, excluding OAuth)."""
        return [r for r in self.request_log if r.path.startswith(prefix) and (method is None or r.method == method)]

    # --- reference data -------------------------------------------------------------------------------------------

    def find_person_by_document(self, document: str) -> Person | None:
        """Person whose documento equals `document` (formatting ignored)."""
        key = normalize(document)
        for person in self.people.values():
            if person.documento and normalize(person.documento) == key:
                return person
        return None

    def create_person(self, fields_: JSON) -> Person:
        """Store a validated person."""
        now = self.now()
        pid = str(uuid.uuid4())
        person = Person(
            id=pid,
            id_legado=self._legacy_id(),
            uuid_legado=str(uuid.uuid4()),
            data_criacao=now,
            data_alteracao=now,
            **fields_,
        )
        self.people[pid] = person
        self._changed()
        return person

    def create_cost_center(self, nome: str, codigo: str | None) -> CostCenter:
        """Store a new active cost center."""
        cc = CostCenter(str(uuid.uuid4()), nome, codigo, True)
        self.cost_centers[cc.id] = cc
        self._changed()
        return cc

    # --- financial entries ----------------------------------------------------------------------------------------

    def create_protocol(self, tipo: str, entry: NewEntry | None, error: str | None) -> Protocol:
        """Accept an async creation; it resolves (or fails) once `protocol_delay_seconds` elapsed."""
        now = self.now()
        protocol = Protocol(
            id=str(uuid.uuid4()),
            tipo=tipo,
            data_criacao=now,
            resolve_at=now + timedelta(seconds=self.protocol_delay_seconds),
            status="PENDING",
            entry=asdict(entry) if entry is not None else None,
            error=error,
            force_error=self.faults.take_protocol_error(),
        )
        self.protocols[protocol.id] = protocol
        self._changed()
        return protocol

    def resolve_protocols(self) -> None:
        """Settle due PENDING protocols (called before every API request, so reads see a consistent world)."""
        if self.faults.protocols_stay_pending:
            return
        now = self.now()
        changed = False
        for protocol in self.protocols.values():
            if protocol.status != "PENDING" or now < protocol.resolve_at:
                continue
            changed = True
            if protocol.force_error:
                protocol.status, protocol.resposta = "ERROR", PROTOCOL_FAILED
            elif protocol.entry is None:
                protocol.status, protocol.resposta = "ERROR", protocol.error
            else:
                event = self.store_entry(NewEntry(**protocol.entry), referencia_id=protocol.id, route="async")
                protocol.status, protocol.resposta, protocol.evento_id = "SUCCESS", PROTOCOL_OK, event.id
        if changed:
            self._changed()

    def store_entry(self, entry: NewEntry, *, referencia_id: str | None = None, route: str = "sync") -> Event:
        """Persist an event and its installments."""
        now = self.now()
        event_id = str(uuid.uuid4())
        event = Event(
            id=event_id,
            id_legado=self._legacy_id(),
            tipo=entry.tipo,
            descricao=entry.descricao,
            data_competencia=entry.data_competencia,
            valor=entry.valor,
            observacao=entry.observacao,
            contato_id=entry.contato_id,
            conta_financeira_id=entry.conta_financeira_id,
            rateio=entry.rateio,
            referencia_id=referencia_id or event_id,
            referencia_origem="LANCAMENTO_FINANCEIRO",
            referencia_externa=entry.referencia_externa,
            route=route,
            data_criacao=now,
            data_alteracao=now,
        )
        self.events[event_id] = event
        for indice, parcela in enumerate(entry.parcelas, start=1):
            inst = Installment(
                id=str(uuid.uuid4()),
                id_legado=self._legacy_id(),
                evento_id=event_id,
                indice=indice,
                descricao=parcela["descricao"],
                data_vencimento=parcela["data_vencimento"],
                nota=parcela["nota"],
                conta_financeira_id=parcela["conta_financeira"],
                detalhe_valor=parcela["detalhe_valor"],
                metodo_pagamento=parcela["metodo_pagamento"],
                data_criacao=now,
                data_alteracao=now,
            )
            self.installments[inst.id] = inst
        self._changed()
        return event

    def find_event(self, key: str) -> Event | None:
        """Event by uuid or legacy id."""
        if key in self.events:
            return self.events[key]
        if key.isdigit():
            return next((e for e in self.events.values() if e.id_legado == int(key)), None)
        return None

    def event_installments(self, event_id: str) -> list[Installment]:
        """Installments of an event, in order."""
        return sorted((i for i in self.installments.values() if i.evento_id == event_id), key=lambda i: i.indice)

    def installment_status(self, inst: Installment) -> str:
        """EM_ABERTO or ATRASADO (nothing is ever paid in the sandbox)."""
        return "ATRASADO" if date.fromisoformat(inst.data_vencimento) < self.today_sp() else "EM_ABERTO"

    # --- JSON views -------------------------------------------------------------------------------------------------

    def company_json(self) -> JSON:
        """GET /v1/pessoas/conta-conectada."""
        c = self.company
        return {
            "data_fundacao": c.data_fundacao,
            "documento": c.documento,
            "email": c.email,
            "id_empresa": c.id,
            "nome_fantasia": c.nome_fantasia,
            "razao_social": c.razao_social,
        }

    @staticmethod
    def account_json(a: FinancialAccount) -> JSON:
        """ContaFinanceira."""
        return {
            "id": a.id,
            "banco": a.banco,
            "codigo_banco": a.codigo_banco,
            "nome": a.nome,
            "ativo": a.ativo,
            "tipo": a.tipo,
            "conta_padrao": a.conta_padrao,
            "possui_config_boleto_bancario": a.possui_config_boleto_bancario,
            "agencia": a.agencia,
            "numero": a.numero,
        }

    @staticmethod
    def category_json(c: Category) -> JSON:
        """Categoria."""
        return {
            "id": c.id,
            "versao": c.versao,
            "nome": c.nome,
            "categoria_pai": c.categoria_pai,
            "tipo": c.tipo,
            "entrada_dre": c.entrada_dre,
            "considera_custo_dre": c.considera_custo_dre,
        }

    @staticmethod
    def cost_center_json(c: CostCenter) -> JSON:
        """CentroDeCusto."""
        return {"id": c.id, "codigo": c.codigo, "nome": c.nome, "ativo": c.ativo}

    @staticmethod
    def person_json(p: Person, *, full: bool = False) -> JSON:
        """Person in the read format (tipo_pessoa "JURIDICA", perfis ["FORNECEDOR"])."""
        out: JSON = {
            "id": p.id,
            "id_legado": p.id_legado,
            "uuid_legado": p.uuid_legado,
            "nome": p.nome,
            "documento": p.documento,
            "email": p.email,
            "telefone": p.telefone_celular or p.telefone_comercial,
            "tipo_pessoa": p.tipo_pessoa,
            "perfis": list(p.perfis),
            "ativo": p.ativo,
            "data_criacao": fmt_sp(p.data_criacao),
            "data_alteracao": fmt_sp(p.data_alteracao),
            "endereco": dict(p.enderecos[0]) if p.enderecos else None,
        }
        if full:
            out.update(
                {
                    "nome_fantasia": p.nome_fantasia,
                    "codigo": p.codigo,
                    "observacao": p.observacao,
                    "optante_simples": p.optante_simples,
                    "telefone_celular": p.telefone_celular,
                    "telefone_comercial": p.telefone_comercial,
                    "enderecos": [dict(e) for e in p.enderecos],
                    "inscricoes": list(p.inscricoes),
                }
            )
        return out

    def _rateio_json(self, event: Event) -> list[JSON]:
        out: list[JSON] = []
        for item in event.rateio:
            cat = self.categories.get(item["id_categoria"])
            out.append(
                {
                    "id_categoria": item["id_categoria"],
                    "nome_categoria": cat.nome if cat else None,
                    "valor": money_out(item["valor"]),
                    "valor_bruto": money_out(item["valor"]),
                    "rateio_centro_custo": [
                        {
                            "id_centro_custo": s["id_centro_custo"],
                            "nome_centro_custo": cc.nome
                            if (cc := self.cost_centers.get(s["id_centro_custo"]))
                            else None,
                            "valor": money_out(s["valor"]),
                        }
                        for s in item["rateio_centro_custo"]
                    ],
                }
            )
        return out

    def installment_json(self, inst: Installment) -> JSON:
        """Parcela (GET .../parcelas/{id} and .../{id_evento}/parcelas)."""
        event = self.events[inst.evento_id]
        status = self.installment_status(inst)
        total = money_out(inst.detalhe_valor["valor_liquido"])
        account = self.accounts.get(inst.conta_financeira_id)
        return {
            "id": inst.id,
            "versao": inst.versao,
            "indice": inst.indice,
            "conciliado": False,
            "status": "PENDENTE" if status == "EM_ABERTO" else "ATRASADO",
            "valor_pago": 0.0,
            "nao_pago": total,
            "data_vencimento": inst.data_vencimento,
            "data_pagamento_previsto": inst.data_vencimento,
            "descricao": inst.descricao,
            "nota": inst.nota,
            "conta_financeira": self.account_json(account) if account else None,
            "id_conta_financeira": inst.conta_financeira_id,
            "valor_composicao": {k: money_out(v) for k, v in inst.detalhe_valor.items()},
            "metodo_pagamento": inst.metodo_pagamento,
            "nsu": None,
            "baixa_agendada": False,
            "baixas": [],
            "anexos": [],
            "solicitacoes_cobrancas": [],
            "data_alteracao": fmt_sp(inst.data_alteracao),
            "valor_total_liquido": total,
            "evento": {
                "id": event.id,
                "data_competencia": event.data_competencia,
                "tipo": event.tipo,
                "agendado": False,
                "codigo_referencia": None,
                "referencia": {"id": event.referencia_id, "revisao": "1", "origem": event.referencia_origem},
                "condicao_pagamento": {
                    "quantidade_parcelas": len(self.event_installments(event.id)),
                    "montante_fixo": False,
                },
                "rateio": self._rateio_json(event),
            },
        }

    def search_item_json(self, inst: Installment) -> JSON:
        """ContaAPagar / ContaAReceber item of the .../buscar endpoints."""
        event = self.events[inst.evento_id]
        status = self.installment_status(inst)
        total = money_out(inst.detalhe_valor["valor_liquido"])
        person = self.people.get(event.contato_id)
        categorias = [
            {"id": r["id_categoria"], "nome": cat.nome if (cat := self.categories.get(r["id_categoria"])) else None}
            for r in event.rateio
        ]
        centros: dict[str, JSON] = {}
        for r in event.rateio:
            for s in r["rateio_centro_custo"]:
                cc = self.cost_centers.get(s["id_centro_custo"])
                centros[s["id_centro_custo"]] = {"id": s["id_centro_custo"], "nome": cc.nome if cc else None}
        return {
            "id": inst.id,
            "descricao": inst.descricao,
            "data_vencimento": inst.data_vencimento,
            "status": _STATUS_EN[status],
            "status_traduzido": status,
            "total": total,
            "nao_pago": total,
            "pago": 0.0,
            "data_criacao": fmt_utc(inst.data_criacao),
            "data_alteracao": fmt_utc(inst.data_alteracao),
            "data_competencia": event.data_competencia,
            "categorias": categorias,
            "centros_custo": list(centros.values()),
            ("fornecedor" if event.tipo == "DESPESA" else "cliente"): {
                "id": event.contato_id,
                "nome": person.nome if person else None,
            },
        }

    def protocol_json(self, p: Protocol) -> JSON:
        """GET /v1/protocolo/{id}."""
        return {"id": p.id, "resposta": p.resposta, "status": p.status, "evento_financeiro_id": p.evento_id}

    def protocol_accepted_json(self, p: Protocol) -> JSON:
        """The 202 body of the async create endpoints, in the configured key style."""
        if self.protocol_key_style == "old":
            return {"protocolId": p.id, "status": p.status, "createdAt": fmt_utc(p.data_criacao)}
        return {"protocolo": p.id, "status": p.status, "data_criacao": fmt_utc(p.data_criacao)}

    def created_entry_json(self, event: Event) -> JSON:
        """201 body of the sync create endpoints: the entry with its id and installments."""
        contact_key = "id_fornecedor" if event.tipo == "DESPESA" else "id_cliente"
        return {
            "id": event.id,
            "tipo": event.tipo,
            "descricao": event.descricao,
            "data_competencia": event.data_competencia,
            "valor": money_out(event.valor),
            "observacao": event.observacao,
            "referencia_externa": event.referencia_externa,
            "conta_financeira": event.conta_financeira_id,
            contact_key: event.contato_id,
            "rateio": self._rateio_json(event),
            "data_criacao": fmt_utc(event.data_criacao),
            "parcelas": [
                {
                    "id": inst.id,
                    "indice": inst.indice,
                    "descricao": inst.descricao,
                    "data_vencimento": inst.data_vencimento,
                    "nota": inst.nota,
                    "status": "PENDENTE" if self.installment_status(inst) == "EM_ABERTO" else "ATRASADO",
                    "conta_financeira": inst.conta_financeira_id,
                    "detalhe_valor": {k: money_out(v) for k, v in inst.detalhe_valor.items()},
                    "metodo_pagamento": inst.metodo_pagamento,
                }
                for inst in self.event_installments(event.id)
            ],
        }

    def counts(self) -> JSON:
        """Debug counters for GET /_sandbox/state."""
        by_status: dict[str, int] = {"PENDING": 0, "SUCCESS": 0, "ERROR": 0}
        for p in self.protocols.values():
            by_status[p.status] = by_status.get(p.status, 0) + 1
        return {
            "company": self.company.razao_social,
            "entries": len(self.events),
            "payables": sum(1 for e in self.events.values() if e.tipo == "DESPESA"),
            "receivables": sum(1 for e in self.events.values() if e.tipo == "RECEITA"),
            "installments": len(self.installments),
            "people": len(self.people),
            "cost_centers": len(self.cost_centers),
            "categories": len(self.categories),
            "financial_accounts": len(self.accounts),
            "protocols": by_status,
            "requests": len(self.request_log),
            "api_requests": len(self.api_calls()),
            "refresh_count": self.refresh_count,
            "refresh_success_count": self.refresh_success_count,
            "active_access_tokens": sum(1 for t in self.access_tokens.values() if t.expires_at > self.now()),
            "refresh_tokens": len(self.refresh_tokens),
            "faults": self.faults.summary(),
            "settings": {
                "cost_center_list_key": self.cost_center_list_key,
                "protocol_key_style": self.protocol_key_style,
                "protocol_delay_seconds": self.protocol_delay_seconds,
                "rate_limit_per_second": self.rate_limit_per_second,
                "rate_limit_per_minute": self.rate_limit_per_minute,
            },
        }

    # --- persistence -------------------------------------------------------------------------------------------------

    _PERSISTED: dict[str, type[Any]] = {
        "people": Person,
        "cost_centers": CostCenter,
        "events": Event,
        "installments": Installment,
        "protocols": Protocol,
        "access_tokens": AccessToken,
        "refresh_tokens": RefreshToken,
    }

    def snapshot(self) -> JSON:
        """Everything worth surviving a restart (seeded reference data is rebuilt, not stored)."""
        data: JSON = {name: [asdict(v) for v in getattr(self, name).values()] for name in self._PERSISTED}
        data["counters"] = {
            "next_legacy_id": self.next_legacy_id,
            "refresh_count": self.refresh_count,
            "refresh_success_count": self.refresh_success_count,
            "token_issue_count": self.token_issue_count,
        }
        return data

    def _changed(self) -> None:
        # Snapshot after each mutation: simple, and the standalone sandbox's data volume is tiny.
        if self.state_file:
            self.save(self.state_file)

    def save(self, path: str) -> None:
        """Write the snapshot atomically (temp file + rename)."""
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.snapshot(), fh, default=_encode, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self, path: str) -> None:
        """Restore a snapshot written by `save`."""
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh, object_hook=_decode)
        for name, cls in self._PERSISTED.items():
            known = {f.name for f in fields(cls)}
            records = [cls(**{k: v for k, v in raw.items() if k in known}) for raw in data.get(name, [])]
            key = "token" if name in ("access_tokens", "refresh_tokens") else "id"
            getattr(self, name).clear()
            getattr(self, name).update({getattr(r, key): r for r in records})
        counters = data.get("counters", {})
        self.next_legacy_id = int(counters.get("next_legacy_id", self.next_legacy_id))
        self.refresh_count = int(counters.get("refresh_count", 0))
        self.refresh_success_count = int(counters.get("refresh_success_count", 0))
        self.token_issue_count = int(counters.get("token_issue_count", 0))


def _encode(obj: object) -> JSON:
    if isinstance(obj, datetime):
        return {"__dt__": obj.isoformat()}
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _decode(obj: JSON) -> Any:
    if set(obj) == {"__dt__"}:
        return datetime.fromisoformat(obj["__dt__"])
    return obj
