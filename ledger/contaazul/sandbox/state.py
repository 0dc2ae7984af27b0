"""In-memory state of the Conta Azul sandbox: data, OAuth grants, protocols, rate windows, faults.

Pure Python (no HTTP): the route modules (`*_routes.py`) parse requests and render what this module holds.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

from . import persistence, seed
from .documents import normalize
from .faults import Faults
from .formats import SAO_PAULO
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
from .oauth import OAuthError, TokenGrant, make_id_token, s256_challenge

PROTOCOL_OK = "Operação realizada com sucesso."
PROTOCOL_FAILED = "Ocorreu um erro inesperado ao processar o evento financeiro. Tente novamente mais tarde."


def utcnow() -> datetime:
    """Default clock."""
    return datetime.now(UTC)


class SandboxState:
    """All sandbox data for one connected company, plus knobs tests can turn.

    Settings (plain attributes, change them freely):
    `cost_center_list_key` ("items" per spec | "itens" as observed), `protocol_key_style` ("new" | "old"),
    `protocol_delay_seconds`, `rate_limit_per_second` / `rate_limit_per_minute` (None = off),
    `access_token_ttl`, `auth_code_ttl`, `require_permite_apenas_filhos`, `pessoas_default_tipo_perfil`,
    `leaf_categories_only`, `revoke_endpoint` ("available" | "absent" | "failing"), and the behaviours
    reported of the live API that the docs do not show:
    `sync_route_missing` (None, or 404/405: the synchronous create routes do not exist yet),
    `protocol_endpoint_missing` (`GET /v1/protocolo/{id}` answers 404), `pessoas_default_tipos_pessoa`
    (e.g. "Física": applied when a people search sends no `tipos_pessoa`), `retry_after_on_429` (False: 429s
    carry no `Retry-After`), `async_rejects_malformed` (True: the async create routes answer a malformed body
    400 at once; unknown ids still end in the protocol's ERROR), `created_answer_without_id` (True: a create is
    answered 201 without the entry's id, 202 without a protocol) and `counterparty_ignored` (True: entries are
    stored without the supplier or customer sent, as one live test claimed).

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
        self.revoke_endpoint = "available"  # | "absent" (404, as an API without it) | "failing" (502)
        self.sync_route_missing: int | None = None
        self.protocol_endpoint_missing = False
        self.pessoas_default_tipos_pessoa: str | None = None
        self.retry_after_on_429 = True
        self.async_rejects_malformed = False
        self.created_answer_without_id = False
        self.counterparty_ignored = False

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
        self.revocation_count = 0

        self.request_log: list[RequestRecord] = []
        self.faults = Faults()
        self._rate_windows: dict[str, deque[datetime]] = {}
        if state_file and os.path.exists(state_file):
            persistence.load(self, state_file)

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

    def begin_authorization(
        self, client_id: str, redirect_uri: str, state: str | None, scope: str, code_challenge: str | None = None
    ) -> str:
        """Remember an authorize request for the consent form; returns its request_id."""
        request_id = secrets.token_urlsafe(16)
        self.pending_authorizations[request_id] = PendingAuthorization(
            request_id, client_id, redirect_uri, state, scope, self.now() + timedelta(minutes=10), code_challenge
        )
        return request_id

    def take_authorization(self, request_id: str) -> PendingAuthorization | None:
        """Pop a pending authorize request (None if unknown or stale)."""
        pending = self.pending_authorizations.pop(request_id, None)
        if pending is None or self.now() >= pending.expires_at:
            return None
        return pending

    def issue_code(self, client_id: str, redirect_uri: str, code_challenge: str | None = None) -> str:
        """A new single-use authorization code (lifetime `auth_code_ttl`), bound to its PKCE challenge if any."""
        code = secrets.token_urlsafe(24)
        self.auth_codes[code] = AuthCode(
            code,
            client_id,
            redirect_uri,
            self.company.id,
            self.now() + timedelta(seconds=self.auth_code_ttl),
            code_challenge=code_challenge,
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

    def exchange_code(
        self, client_id: str, code: str | None, redirect_uri: str | None, code_verifier: str | None = None
    ) -> TokenGrant:
        """grant_type=authorization_code; a code issued with a PKCE challenge needs the verifier that matches it."""
        if not code:
            raise OAuthError("invalid_request", "code is required")
        grant = self.auth_codes.get(code)
        if grant is None or grant.used:
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if self.now() >= grant.expires_at:
            raise OAuthError("invalid_grant", "Authorization code expired")
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri or client_id mismatch")
        if grant.code_challenge is not None and not (
            code_verifier and hmac.compare_digest(s256_challenge(code_verifier), grant.code_challenge)
        ):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
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
        self.persist()
        id_token = make_id_token(
            self.company,
            client_id=client_id,
            client_secret=self.client_secret,
            issuer=self.issuer,
            lifetime=self.access_token_ttl,
            now=now,
        )
        return TokenGrant(access, id_token, refresh, self.access_token_ttl)

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
        self.persist()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token becomes invalid (next refresh -> invalid_grant)."""
        self.refresh_tokens.clear()
        self.persist()

    def revoke_connection(self, client_id: str, company_id: str) -> None:
        """DELETE /oauth/connections/{id_empresa}: every token of that application for that company dies."""
        for tokens in (self.access_tokens, self.refresh_tokens):
            for key in [k for k, t in tokens.items() if (t.client_id, t.company_id) == (client_id, company_id)]:
                del tokens[key]
        self.revocation_count += 1
        self.persist()

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
        self.persist()
        return person

    def create_cost_center(self, nome: str, codigo: str | None) -> CostCenter:
        """Store a new active cost center."""
        cc = CostCenter(str(uuid.uuid4()), nome, codigo, True)
        self.cost_centers[cc.id] = cc
        self.persist()
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
            discarded=self.faults.take_protocol_discard(),
        )
        self.protocols[protocol.id] = protocol
        self.persist()
        return protocol

    def resolve_protocols(self) -> None:
        """Settle due PENDING protocols (called before every API request, so reads see a consistent world)."""
        if self.faults.protocols_stay_pending:
            return
        now = self.now()
        changed = False
        for protocol in self.protocols.values():
            if protocol.status != "PENDING" or protocol.discarded or now < protocol.resolve_at:
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
            self.persist()

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
            contato_id=None if self.counterparty_ignored else entry.contato_id,
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
        self.persist()
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

    # --- persistence -------------------------------------------------------------------------------------------------

    def persist(self) -> None:
        """Write the state file, if there is one (called after every mutation)."""
        # Snapshot after each mutation: simple, and the standalone sandbox's data volume is tiny.
        if self.state_file:
            persistence.save(self, self.state_file)
