"""aiohttp routes of the sandbox: OAuth (auth.contaazul.com), API v2 (api-v2.contaazul.com) and /_sandbox control."""

from __future__ import annotations

import asyncio
import base64
import binascii
import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiMapping

from .documents import normalize
from .faults import CREATE_FAIL_MODES, FaultRule
from .models import JSON, Installment, Person
from .state import BUSCAR_STATUS, PAGE_SIZES, SCOPE, OAuthError, SandboxState, fold
from .validation import (
    PERFIS,
    TIPOS_PESSOA,
    ApiError,
    bad,
    iso_date,
    uuid_str,
    validate_cost_center,
    validate_entry,
    validate_perfis,
    validate_person,
)

T = TypeVar("T")
FINANCE = "/v1/financeiro/eventos-financeiros"
ACCOUNT_TYPES = frozenset(
    {"CONTA_CORRENTE", "CARTAO_CREDITO", "POUPANCA", "APLICACAO", "CAIXINHA", "INVESTIMENTO", "OUTROS",
     "MEIOS_RECEBIMENTO", "COBRANCAS_CONTA_AZUL", "RECEBA_FACIL_CARTAO"}
)  # fmt: skip


class _Dropped(Exception):
    """Raised to close the connection without any response."""


# --- query helpers -------------------------------------------------------------------------------------------------


def _multi(q: MultiMapping[str], name: str, *, split: bool = True) -> list[str]:
    # Array serialisation is unspecified: accept repeated keys, `name[]`, and comma-separated values.
    values = list(q.getall(name, [])) + list(q.getall(f"{name}[]", []))
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in (value.split(",") if split else [value]))
    return [v for v in out if v]


def _bool(q: MultiMapping[str], name: str, *, required: bool = False) -> bool | None:
    value = q.get(name)
    if value is None:
        if required:
            raise bad(f"O parâmetro '{name}' é obrigatório.")
        return None
    if value.lower() not in ("true", "false"):
        raise bad(f"O valor '{value}' fornecido no parâmetro '{name}' não é um booleano válido.")
    return value.lower() == "true"


def _paging(q: MultiMapping[str], *, required: bool) -> tuple[int, int]:
    raw_page, raw_size = q.get("pagina"), q.get("tamanho_pagina")
    if required:
        for name, raw in (("pagina", raw_page), ("tamanho_pagina", raw_size)):
            if raw is None:
                raise bad(f"O parâmetro '{name}' é obrigatório.")
    try:
        page = int(raw_page) if raw_page is not None else 1
    except ValueError as exc:
        raise bad(f"O valor '{raw_page}' fornecido no parâmetro 'pagina' é inválido.") from exc
    if page < 1:
        raise bad("pagina: O valor deve ser maior ou igual a 1.")
    try:
        size = int(raw_size) if raw_size is not None else 10
    except ValueError as exc:
        raise bad(f"O valor '{raw_size}' fornecido no parâmetro 'tamanho_pagina' é inválido.") from exc
    if size not in PAGE_SIZES:
        allowed = ", ".join(str(s) for s in PAGE_SIZES)
        raise bad(f"tamanho_pagina: Valor '{raw_size}' inválido. Valores permitidos: {allowed}.")
    return page, size


def _page(items: list[T], page: int, size: int) -> list[T]:
    return items[(page - 1) * size : page * size]


def _date_param(q: MultiMapping[str], name: str, *, required: bool) -> str | None:
    value = q.get(name)
    if value is None:
        if required:
            raise bad(f"O parâmetro '{name}' é obrigatório.")
        return None
    return iso_date(value, name)


def _amount_param(q: MultiMapping[str], name: str) -> float | None:
    value = q.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", value):
        raise bad(f"O valor '{value}' fornecido no parâmetro '{name}' é inválido.")
    return float(value)


def _enum(value: str | None, name: str, allowed: Iterable[str]) -> str | None:
    allowed = list(allowed)
    if value is not None and value not in allowed:
        raise bad(
            f"O valor '{value}' fornecido no parâmetro '{name}' é inválido. Valores aceitos: {', '.join(allowed)}."
        )
    return value


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _error(exc: ApiError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return _json(exc.body(), exc.status, headers)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad("O corpo da requisição não é um JSON válido.") from exc


def _with_query(url: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _html_error(message: str) -> web.Response:
    body = (
        "<!doctype html><html lang='pt-BR'><head><meta charset='utf-8'><title>Erro - Conta Azul</title></head>"
        f"<body><h1>Não foi possível continuar</h1><p>{html.escape(message)}</p></body></html>"
    )
    return web.Response(status=400, text=body, content_type="text/html")


class SandboxApp:
    """Builds the aiohttp application over a SandboxState."""

    def __init__(self, state: SandboxState, *, auto_consent: bool = False) -> None:
        self.state = state
        self.auto_consent = auto_consent

    def build(self) -> web.Application:
        """The aiohttp application."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._handle(request, handler)

        app = web.Application(middlewares=[middleware])
        r = app.router
        r.add_get("/oauth2/authorize", self.authorize)
        r.add_get("/login", self.authorize)
        r.add_post("/oauth2/consent", self.consent)
        r.add_post("/oauth2/token", self.token)
        r.add_get("/v1/pessoas/conta-conectada", self.connected_account)
        r.add_get("/v1/conta-financeira", self.list_accounts)
        r.add_get("/v1/categorias", self.list_categories)
        r.add_get("/v1/centro-de-custo", self.list_cost_centers)
        r.add_post("/v1/centro-de-custo", self.create_cost_center)
        r.add_get("/v1/pessoas", self.list_people)
        r.add_post("/v1/pessoas", self.create_person)
        r.add_get("/v1/pessoas/{id}", self.get_person)
        r.add_patch("/v1/pessoas/{id}", self.patch_person)
        r.add_post(f"{FINANCE}/contas-a-pagar", self._async_create("DESPESA"))
        r.add_post(f"{FINANCE}/contas-a-receber", self._async_create("RECEITA"))
        r.add_post("/v1/financeiro/contas-a-pagar", self._sync_create("DESPESA"))
        r.add_post("/v1/financeiro/contas-a-receber", self._sync_create("RECEITA"))
        r.add_get("/v1/protocolo/{id}", self.get_protocol)
        r.add_get(f"{FINANCE}/contas-a-pagar/buscar", self._search("DESPESA"))
        r.add_get(f"{FINANCE}/contas-a-receber/buscar", self._search("RECEITA"))
        r.add_get(f"{FINANCE}/parcelas/{{id}}", self.get_installment)
        r.add_get(f"{FINANCE}/{{id_evento}}/parcelas", self.event_installments)
        r.add_post("/_sandbox/faults", self.control_faults)
        r.add_get("/_sandbox/state", self.control_state)
        return app

    # --- middleware -------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sandbox/"):
            try:
                return await handler(request)
            except ApiError as exc:
                return _error(exc)
        state = self.state
        try:
            slow = state.faults.take("slow", path)
            if slow is not None:
                await asyncio.sleep(slow.seconds)  # emulated latency (real time, by design)
            if state.faults.take("drop", path) is not None:
                raise _Dropped
            fail = state.faults.take("fail", path)
            if fail is not None:
                retry = fail.retry_after if fail.retry_after is not None else (1 if fail.status == 429 else None)
                message = "Limite de requisições excedido." if fail.status == 429 else "Ocorreu um erro inesperado."
                response: web.StreamResponse = _error(ApiError(fail.status, message, retry_after=retry))
            else:
                response = await self._dispatch(request, handler)
        except _Dropped:
            state.log_request(request.method, path, 0, request.query_string)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never delivered: the transport is gone
        state.log_request(request.method, path, response.status, request.query_string)
        return response

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path.startswith("/v1/"):
                company_id = self._authenticate(request)
                retry = self.state.check_rate_limit(company_id)
                if retry is not None:
                    message = f"Limite de requisições excedido. Tente novamente em {retry} segundo(s)."
                    raise ApiError(429, message, retry_after=retry)
                self.state.resolve_protocols()
            return await handler(request)
        except ApiError as exc:
            return _error(exc)
        except web.HTTPException as exc:
            # Router errors (404 unknown path, 405 e.g. POST /v1/categorias) as JSON like the API's other errors.
            return _error(ApiError(exc.status, exc.reason))

    def _authenticate(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Token de acesso ausente.", error="invalid_token")
        company_id, reason = self.state.check_access_token(token.strip())
        if company_id is None:
            raise ApiError(401, reason, error="invalid_token")
        return company_id

    async def _created(self, response: web.Response) -> web.Response:
        # "create_then_fail": the entity is already persisted; the client just never learns it.
        mode = self.state.faults.take_create_failure()
        if mode == "hang":
            # Hold the answer (real time, like slow_next) so a client process can die waiting for it.
            await asyncio.sleep(self.state.faults.hang_seconds)
            raise _Dropped
        if mode == "drop":
            raise _Dropped
        if mode == "error":
            return _error(ApiError(500, "Ocorreu um erro inesperado no servidor. Tente novamente mais tarde."))
        return response

    # --- OAuth ------------------------------------------------------------------------------------------------------

    async def authorize(self, request: web.Request) -> web.Response:
        """GET /oauth2/authorize and /login: consent page (or straight redirect with auto_consent)."""
        q = request.query
        state = self.state
        client_id = q.get("client_id", "")
        redirect_uri = q.get("redirect_uri", "")
        if client_id != state.client_id:
            return _html_error("client_id inválido ou não informado.")
        if not redirect_uri or not state.redirect_allowed(redirect_uri):
            return _html_error("redirect_uri não corresponde ao cadastrado para o aplicativo.")
        if q.get("response_type") != "code":
            return _html_error("response_type deve ser 'code'.")
        oauth_state = q.get("state")
        scope = q.get("scope", "")
        if scope != SCOPE:
            # The redirect target is trusted at this point, so the error goes back to the app (RFC 6749 §4.1.2.1).
            return _redirect(_with_query(redirect_uri, {"error": "invalid_scope", "state": oauth_state}))
        if self.auto_consent:
            code = state.issue_code(client_id, redirect_uri)
            return _redirect(_with_query(redirect_uri, {"code": code, "state": oauth_state}))
        request_id = state.begin_authorization(client_id, redirect_uri, oauth_state, scope)
        company = html.escape(state.company.razao_social)
        body = f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Conta Azul - Autorizar acesso</title></head>
<body>
<h1>Conta Azul (sandbox)</h1>
<p>O aplicativo <strong>{html.escape(client_id)}</strong> quer acessar os dados da empresa
<strong class="empresa">{company}</strong>.</p>
<form method="post" action="/oauth2/consent">
  <input type="hidden" name="request_id" value="{html.escape(request_id)}">
  <button type="submit" name="decisao" value="autorizar">Autorizar</button>
  <button type="submit" name="decisao" value="negar">Negar</button>
</form>
</body></html>"""
        return web.Response(text=body, content_type="text/html")

    async def consent(self, request: web.Request) -> web.Response:
        """POST /oauth2/consent: Autorizar -> code, Negar -> access_denied."""
        form = await request.post()
        request_id = str(form.get("request_id", ""))
        pending = self.state.take_authorization(request_id)
        if pending is None:
            return _html_error("Solicitação de autorização expirada ou inválida. Recomece o processo.")
        decision = str(form.get("decisao", ""))
        if decision == "autorizar":
            code = self.state.issue_code(pending.client_id, pending.redirect_uri)
            params = {"code": code, "state": pending.state}
        else:
            params = {"error": "access_denied", "state": pending.state}
        return _redirect(_with_query(pending.redirect_uri, params))

    async def token(self, request: web.Request) -> web.Response:
        """POST /oauth2/token (form-urlencoded; client auth by Basic header or body)."""
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            form = await request.post()
            client_id = self._client_from_request(request, form)
            grant_type = _form_str(form, "grant_type")
            if grant_type == "authorization_code":
                grant = self.state.exchange_code(client_id, _form_str(form, "code"), _form_str(form, "redirect_uri"))
            elif grant_type == "refresh_token":
                grant = self.state.refresh(client_id, _form_str(form, "refresh_token"))
            elif not grant_type:
                raise OAuthError("invalid_request", "grant_type is required")
            else:
                raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type}")
        except OAuthError as exc:
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="contaazul"'
            body = {"error": exc.error, "error_description": exc.description}
            return _json(body, exc.status, headers)
        return _json(grant.body(), 200, headers)

    def _client_from_request(self, request: web.Request, form: MultiMapping[Any]) -> str:
        body_id, body_secret = _form_str(form, "client_id"), _form_str(form, "client_secret")
        header = request.headers.get("Authorization")
        if header:
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", "Unsupported client authentication", 401)
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", "Malformed Basic credentials", 401) from exc
            header_id, sep, header_secret = decoded.partition(":")
            if not sep:
                raise OAuthError("invalid_client", "Malformed Basic credentials", 401)
            # Sending the credentials in both places is fine as long as they agree.
            if body_id is not None and body_id != header_id:
                raise OAuthError("invalid_client", "client_id mismatch", 401)
            return self.state.authenticate_client(header_id, header_secret)
        return self.state.authenticate_client(body_id, body_secret)

    # --- reference data -----------------------------------------------------------------------------------------

    async def connected_account(self, request: web.Request) -> web.Response:
        """GET /v1/pessoas/conta-conectada."""
        return _json(self.state.company_json())

    async def list_accounts(self, request: web.Request) -> web.Response:
        """GET /v1/conta-financeira."""
        q = request.query
        page, size = _paging(q, required=False)
        tipos = _multi(q, "tipos")
        for tipo in tipos:
            _enum(tipo, "tipos", sorted(ACCOUNT_TYPES))
        nome = q.get("nome")
        apenas_ativo = _bool(q, "apenas_ativo")
        _bool(q, "esconde_conta_digital")
        _bool(q, "mostrar_caixinha")
        items = [
            a
            for a in self.state.accounts.values()
            if (not tipos or a.tipo in tipos) and (not nome or fold(nome) in fold(a.nome))
        ]
        totais = _totals(a.ativo for a in items)
        if apenas_ativo:
            items = [a for a in items if a.ativo]
        return _json(
            {
                "itens_totais": len(items),
                "itens": [self.state.account_json(a) for a in _page(items, page, size)],
                "totais": totais,
            }
        )

    async def list_categories(self, request: web.Request) -> web.Response:
        """GET /v1/categorias (POST is not routed -> 405, as observed)."""
        q = request.query
        page, size = _paging(q, required=True)
        tipo = _enum(q.get("tipo"), "tipo", ("RECEITA", "DESPESA"))
        busca, nome = q.get("busca"), q.get("nome")
        apenas_filhos = _bool(q, "apenas_filhos")
        _bool(q, "permite_apenas_filhos", required=self.state.require_permite_apenas_filhos)
        asc = _enum(q.get("campo_ordenado_ascendente"), "campo_ordenado_ascendente", ("NOME", "TIPO"))
        desc = _enum(q.get("campo_ordenado_descendente"), "campo_ordenado_descendente", ("NOME", "TIPO"))
        items = [
            c
            for c in self.state.categories.values()
            if (tipo is None or c.tipo == tipo)
            and (not busca or fold(busca) in fold(c.nome))
            and (not nome or fold(nome) in fold(c.nome))
            and (not apenas_filhos or c.categoria_pai is not None)
        ]
        order = asc or desc
        if order:
            items.sort(key=lambda c: fold(c.nome) if order == "NOME" else (c.tipo, fold(c.nome)), reverse=not asc)
        return _json(
            {
                "itens_totais": len(items),
                "itens": [self.state.category_json(c) for c in _page(items, page, size)],
                "totais": _totals(True for _ in items),
            }
        )

    async def list_cost_centers(self, request: web.Request) -> web.Response:
        """GET /v1/centro-de-custo (list key per `cost_center_list_key`)."""
        q = request.query
        page, size = _paging(q, required=True)
        busca = q.get("busca")
        filtro = _enum(q.get("filtro_rapido"), "filtro_rapido", ("ATIVO", "INATIVO", "TODOS")) or "TODOS"
        matching = [
            c
            for c in self.state.cost_centers.values()
            if not busca or fold(busca) in fold(c.nome) or (c.codigo is not None and busca in c.codigo)
        ]
        totais = _totals(c.ativo for c in matching)
        items = [c for c in matching if filtro == "TODOS" or c.ativo == (filtro == "ATIVO")]
        field = q.get("campo_ordenado_ascendente") or q.get("campo_ordenado_descendente")
        if field:
            reverse = not q.get("campo_ordenado_ascendente")
            items.sort(key=lambda c: (c.codigo or "") if field.lower() == "codigo" else fold(c.nome), reverse=reverse)
        return _json(
            {
                "itens_totais": len(items),
                self.state.cost_center_list_key: [self.state.cost_center_json(c) for c in _page(items, page, size)],
                "totais": totais,
            }
        )

    async def create_cost_center(self, request: web.Request) -> web.Response:
        """POST /v1/centro-de-custo -> 200 with the created object."""
        nome, codigo = validate_cost_center(self.state, await _body(request))
        cc = self.state.create_cost_center(nome, codigo)
        return await self._created(_json(self.state.cost_center_json(cc), 200))

    # --- people -------------------------------------------------------------------------------------------------------

    async def list_people(self, request: web.Request) -> web.Response:
        """GET /v1/pessoas -> {"items", "totalItems"}."""
        q = request.query
        page, size = _paging(q, required=False)
        busca = q.get("busca")
        documentos = {normalize(d) for d in _multi(q, "documentos")}
        nomes = [fold(n) for n in _multi(q, "nomes", split=False)]
        ids = set(_multi(q, "ids"))
        emails = {e.casefold() for e in _multi(q, "emails")}
        perfil = _enum(q.get("tipo_perfil", self.state.pessoas_default_tipo_perfil), "tipo_perfil", PERFIS)
        tipos = {TIPOS_PESSOA[_enum(t, "tipos_pessoa", TIPOS_PESSOA) or t] for t in _multi(q, "tipos_pessoa")}
        busca_doc = normalize(busca) if busca else ""
        doc_search = bool(busca_doc) and busca_doc.isalnum() and any(ch.isdigit() for ch in busca_doc)

        def keep(p: Person) -> bool:
            doc = normalize(p.documento or "")
            if busca and not (fold(busca) in fold(p.nome) or (doc_search and busca_doc in doc)):
                return False
            if documentos and doc not in documentos:
                return False
            if nomes and not any(n in fold(p.nome) for n in nomes):
                return False
            if ids and p.id not in ids:
                return False
            if emails and (p.email or "").casefold() not in emails:
                return False
            if perfil and PERFIS[perfil] not in p.perfis:
                return False
            return not (tipos and p.tipo_pessoa not in tipos)

        items = sorted((p for p in self.state.people.values() if keep(p)), key=lambda p: fold(p.nome))
        return _json({"items": [self.state.person_json(p) for p in _page(items, page, size)], "totalItems": len(items)})

    async def get_person(self, request: web.Request) -> web.Response:
        """GET /v1/pessoas/{id}."""
        person = self.state.people.get(uuid_str(request.match_info["id"], "id"))
        if person is None:
            raise ApiError(404, "Pessoa não encontrada.")
        return _json(self.state.person_json(person, full=True))

    async def create_person(self, request: web.Request) -> web.Response:
        """POST /v1/pessoas -> 201 with the full person."""
        fields_ = validate_person(self.state, await _body(request))
        person = self.state.create_person(fields_)
        return await self._created(_json(self.state.person_json(person, full=True), 201))

    async def patch_person(self, request: web.Request) -> web.Response:
        """PATCH /v1/pessoas/{id}: partial update (perfis replaces the whole list) -> 204."""
        person = self.state.people.get(uuid_str(request.match_info["id"], "id"))
        if person is None:
            raise ApiError(404, "Pessoa não encontrada.")
        body = await _body(request)
        if not isinstance(body, dict):
            raise bad("O corpo da requisição deve ser um objeto JSON.")
        if "perfis" in body:
            person.perfis = validate_perfis(body["perfis"])
        for key in ("nome", "email", "telefone_celular", "telefone_comercial", "nome_fantasia", "observacao"):
            if key in body:
                value = body[key]
                if value is not None and not isinstance(value, str):
                    raise bad(f"{key}: O valor deve ser um texto.")
                if key == "nome" and not (value or "").strip():
                    raise bad("nome: O campo é obrigatório.")
                setattr(person, key, value)
        person.data_alteracao = self.state.now()
        self.state._changed()
        return web.Response(status=204)

    # --- financial entries ------------------------------------------------------------------------------------------

    def _async_create(self, tipo: Literal["DESPESA", "RECEITA"]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            body = await _body(request)
            if not isinstance(body, dict):
                raise bad("O corpo da requisição deve ser um objeto JSON.")
            # Like the real API, content problems are not reported here: the protocol just ends in ERROR.
            try:
                entry, error = validate_entry(self.state, body, tipo, "async"), None
            except ApiError as exc:
                entry, error = None, exc.message
            protocol = self.state.create_protocol(tipo, entry, error)
            return await self._created(_json(self.state.protocol_accepted_json(protocol), 202))

        return handler

    def _sync_create(self, tipo: Literal["DESPESA", "RECEITA"]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            entry = validate_entry(self.state, await _body(request), tipo, "sync")
            event = self.state.store_entry(entry, route="sync")
            return await self._created(_json(self.state.created_entry_json(event), 201))

        return handler

    async def get_protocol(self, request: web.Request) -> web.Response:
        """GET /v1/protocolo/{id}."""
        protocol = self.state.protocols.get(uuid_str(request.match_info["id"], "id"))
        if protocol is None:
            raise ApiError(404, "Protocolo não encontrado.")
        return _json(self.state.protocol_json(protocol))

    def _search(self, tipo: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return _json(self._search_installments(request.query, tipo))

        return handler

    def _search_installments(self, q: MultiMapping[str], tipo: str) -> JSON:
        page, size = _paging(q, required=True)
        venc_de = _date_param(q, "data_vencimento_de", required=True)
        venc_ate = _date_param(q, "data_vencimento_ate", required=True)
        comp_de = _date_param(q, "data_competencia_de", required=False)
        comp_ate = _date_param(q, "data_competencia_ate", required=False)
        descricao = q.get("descricao")
        statuses = set(_multi(q, "status"))
        for s in statuses:
            _enum(s, "status", BUSCAR_STATUS)
        valor_de, valor_ate = _amount_param(q, "valor_de"), _amount_param(q, "valor_ate")
        contas = set(_multi(q, "ids_contas_financeiras"))
        categorias = set(_multi(q, "ids_categorias"))
        centros = set(_multi(q, "ids_centros_de_custo"))
        state = self.state

        def keep(inst: Installment) -> bool:
            event = state.events[inst.evento_id]
            total = inst.detalhe_valor["valor_liquido"]
            checks = (
                event.tipo == tipo,
                venc_de is None or inst.data_vencimento >= venc_de,
                venc_ate is None or inst.data_vencimento <= venc_ate,
                comp_de is None or event.data_competencia >= comp_de,
                comp_ate is None or event.data_competencia <= comp_ate,
                # Only the installment's description is searchable (and visible) in the real ERP.
                not descricao or descricao.casefold() in inst.descricao.casefold(),
                not statuses or state.installment_status(inst) in statuses,
                valor_de is None or total >= valor_de,
                valor_ate is None or total <= valor_ate,
                not contas or inst.conta_financeira_id in contas,
                not categorias or any(r["id_categoria"] in categorias for r in event.rateio),
                not centros
                or any(s["id_centro_custo"] in centros for r in event.rateio for s in r["rateio_centro_custo"]),
            )
            return all(checks)

        items = sorted(
            (i for i in state.installments.values() if keep(i)), key=lambda i: (i.data_vencimento, i.data_criacao)
        )
        return {
            "itens_totais": len(items),
            "itens": [state.search_item_json(i) for i in _page(items, page, size)],
            "totais": _totals(True for _ in items),
        }

    async def get_installment(self, request: web.Request) -> web.Response:
        """GET .../eventos-financeiros/parcelas/{id}."""
        inst = self.state.installments.get(uuid_str(request.match_info["id"], "id"))
        if inst is None:
            raise ApiError(404, "Parcela não encontrada.")
        return _json(self.state.installment_json(inst))

    async def event_installments(self, request: web.Request) -> web.Response:
        """GET .../eventos-financeiros/{id_evento}/parcelas (uuid or legacy id) -> array of Parcela."""
        key = request.match_info["id_evento"]
        if not key.isdigit():
            key = uuid_str(key, "id_evento")
        event = self.state.find_event(key)
        if event is None:
            raise ApiError(404, "Evento financeiro não encontrado.")
        return _json([self.state.installment_json(i) for i in self.state.event_installments(event.id)])

    # --- control ------------------------------------------------------------------------------------------------------

    async def control_state(self, request: web.Request) -> web.Response:
        """GET /_sandbox/state: debug counters."""
        self.state.resolve_protocols()
        return _json(self.state.counts())

    async def control_faults(self, request: web.Request) -> web.Response:
        """POST /_sandbox/faults: one action object or a list of them (see `apply_control`)."""
        body = await _body(request)
        actions = body if isinstance(body, list) else [body]
        for action in actions:
            apply_control(self.state, action)
        return _json({"ok": True, "faults": self.state.faults.summary()})


def _totals(flags: Iterable[bool]) -> JSON:
    values = list(flags)
    active = sum(1 for v in values if v)
    return {"ativo": active, "inativo": len(values) - active, "todos": len(values)}


def _form_str(form: MultiMapping[Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


_SETTINGS: dict[str, Callable[[Any], bool]] = {
    "rate_limit_per_second": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    "rate_limit_per_minute": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    "cost_center_list_key": lambda v: v in ("items", "itens"),
    "protocol_key_style": lambda v: v in ("new", "old"),
    "protocol_delay_seconds": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 0,
    "access_token_ttl": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "require_permite_apenas_filhos": lambda v: isinstance(v, bool),
    "pessoas_default_tipo_perfil": lambda v: v is None or v in PERFIS,
    "leaf_categories_only": lambda v: isinstance(v, bool),
}


def _count(action: JSON) -> int:
    n = action.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise bad("'n' deve ser um inteiro >= 0.")
    return n


def _prefix(action: JSON) -> str | None:
    prefix = action.get("path_prefix")
    if prefix is not None and not isinstance(prefix, str):
        raise bad("'path_prefix' deve ser texto ou null.")
    return prefix


def apply_control(state: SandboxState, action: Any) -> None:
    """Apply one control action, e.g. {"action": "fail_next", "n": 2, "status": 503, "path_prefix": "/v1/pessoas"}.

    Actions: fail_next(n, status, retry_after, path_prefix), slow_next(n, seconds, path_prefix),
    drop_next(n, path_prefix), create_then_fail_next(n, mode="error"|"drop"|"hang", seconds for "hang"),
    protocols_stay_pending(value), protocols_error_next(n), expire_all_access_tokens, revoke_refresh_tokens,
    clear_faults, configure(<setting>=<value>...).
    """
    if not isinstance(action, dict) or not isinstance(action.get("action"), str):
        raise bad('Cada ação deve ser um objeto com a chave "action".')
    name = action["action"]
    faults = state.faults
    if name == "fail_next":
        status = action.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise bad("'status' deve ser um código HTTP 4xx/5xx.")
        retry = action.get("retry_after")
        if retry is not None and (not isinstance(retry, int) or retry < 0):
            raise bad("'retry_after' deve ser um inteiro >= 0.")
        faults.add(FaultRule("fail", _count(action), _prefix(action), status=status, retry_after=retry))
    elif name == "slow_next":
        seconds = action.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad("'seconds' deve ser um número >= 0.")
        faults.add(FaultRule("slow", _count(action), _prefix(action), seconds=float(seconds)))
    elif name == "drop_next":
        faults.add(FaultRule("drop", _count(action), _prefix(action)))
    elif name == "create_then_fail_next":
        mode = action.get("mode", "error")
        if mode not in CREATE_FAIL_MODES:
            raise bad("'mode' deve ser 'error', 'drop' ou 'hang'.")
        seconds = action.get("seconds")
        if seconds is not None:
            if mode != "hang" or not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise bad("'seconds' só vale para mode='hang' e deve ser um número >= 0.")
            faults.hang_seconds = float(seconds)
        faults.create_then_fail.extend([mode] * _count(action))
    elif name == "protocols_stay_pending":
        value = action.get("value", True)
        if not isinstance(value, bool):
            raise bad("'value' deve ser booleano.")
        faults.protocols_stay_pending = value
    elif name == "protocols_error_next":
        faults.protocols_error_remaining += _count(action)
    elif name == "expire_all_access_tokens":
        state.expire_all_access_tokens()
    elif name == "revoke_refresh_tokens":
        state.revoke_refresh_tokens()
    elif name == "clear_faults":
        faults.clear()
    elif name == "configure":
        for key, value in action.items():
            if key == "action":
                continue
            check = _SETTINGS.get(key)
            if check is None or not check(value):
                raise bad(f"Configuração inválida: {key}={value!r}.")
            setattr(state, key, value)
    else:
        raise bad(f"Ação desconhecida: {name}.")
