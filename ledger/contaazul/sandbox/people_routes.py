"""People routes of the sandbox (suppliers and customers): list, read, create and update /v1/pessoas."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .documents import normalize
from .formats import fmt_sp, fold
from .models import JSON, Person
from .route_helpers import answer_created, enum_param, json_body, json_response, list_param, page_of, paging
from .state import SandboxState
from .validation import PERFIS, TIPOS_PESSOA, ApiError, bad, uuid_str, validate_perfis, validate_person


@dataclass
class PeopleRoutes:
    """GET and POST /v1/pessoas, GET and PATCH /v1/pessoas/{id}."""

    state: SandboxState

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_get("/v1/pessoas", self.list_people)
        router.add_post("/v1/pessoas", self.create_person)
        router.add_get("/v1/pessoas/{id}", self.get_person)
        router.add_patch("/v1/pessoas/{id}", self.patch_person)

    async def list_people(self, request: web.Request) -> web.Response:
        """GET /v1/pessoas -> {"items", "totalItems"}."""
        q = request.query
        page, size = paging(q, required=False)
        busca = q.get("busca")
        documentos = {normalize(d) for d in list_param(q, "documentos")}
        nomes = [fold(n) for n in list_param(q, "nomes", split=False)]
        ids = set(list_param(q, "ids"))
        emails = {e.casefold() for e in list_param(q, "emails")}
        perfil = enum_param(q.get("tipo_perfil", self.state.pessoas_default_tipo_perfil), "tipo_perfil", PERFIS)
        default_tipos = self.state.pessoas_default_tipos_pessoa
        asked = list_param(q, "tipos_pessoa") or ([default_tipos] if default_tipos else [])
        tipos = {TIPOS_PESSOA[enum_param(t, "tipos_pessoa", TIPOS_PESSOA) or t] for t in asked}
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
        return json_response({"items": [person_json(p) for p in page_of(items, page, size)], "totalItems": len(items)})

    async def get_person(self, request: web.Request) -> web.Response:
        """GET /v1/pessoas/{id}."""
        person = self.state.people.get(uuid_str(request.match_info["id"], "id"))
        if person is None:
            raise ApiError(404, "Pessoa não encontrada.")
        return json_response(person_json(person, full=True))

    async def create_person(self, request: web.Request) -> web.Response:
        """POST /v1/pessoas -> 201 with the full person."""
        fields_ = validate_person(self.state, await json_body(request))
        person = self.state.create_person(fields_)
        return await answer_created(self.state, json_response(person_json(person, full=True), 201))

    async def patch_person(self, request: web.Request) -> web.Response:
        """PATCH /v1/pessoas/{id}: partial update (perfis replaces the whole list) -> 204."""
        person = self.state.people.get(uuid_str(request.match_info["id"], "id"))
        if person is None:
            raise ApiError(404, "Pessoa não encontrada.")
        body = await json_body(request)
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
        self.state.persist()
        return web.Response(status=204)


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
