"""Reference-data routes of the sandbox: the connected company, financial accounts, categories, cost centers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .formats import fold
from .models import JSON, Category, Company, CostCenter, FinancialAccount
from .route_helpers import (
    answer_created,
    bool_param,
    enum_param,
    json_body,
    json_response,
    list_param,
    page_of,
    paging,
    totals,
)
from .state import SandboxState
from .validation import validate_cost_center

ACCOUNT_TYPES = frozenset(
    {"CONTA_CORRENTE", "CARTAO_CREDITO", "POUPANCA", "APLICACAO", "CAIXINHA", "INVESTIMENTO", "OUTROS",
     "MEIOS_RECEBIMENTO", "COBRANCAS_CONTA_AZUL", "RECEBA_FACIL_CARTAO"}
)  # fmt: skip


@dataclass
class LookupRoutes:
    """GET /v1/pessoas/conta-conectada, /v1/conta-financeira and /v1/categorias; GET and POST /v1/centro-de-custo."""

    state: SandboxState

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_get("/v1/pessoas/conta-conectada", self.connected_account)
        router.add_get("/v1/conta-financeira", self.list_accounts)
        router.add_get("/v1/categorias", self.list_categories)
        router.add_get("/v1/centro-de-custo", self.list_cost_centers)
        router.add_post("/v1/centro-de-custo", self.create_cost_center)

    async def connected_account(self, request: web.Request) -> web.Response:
        """GET /v1/pessoas/conta-conectada."""
        return json_response(company_json(self.state.company))

    async def list_accounts(self, request: web.Request) -> web.Response:
        """GET /v1/conta-financeira."""
        q = request.query
        page, size = paging(q, required=False)
        tipos = list_param(q, "tipos")
        for tipo in tipos:
            enum_param(tipo, "tipos", sorted(ACCOUNT_TYPES))
        nome = q.get("nome")
        apenas_ativo = bool_param(q, "apenas_ativo")
        bool_param(q, "esconde_conta_digital")
        bool_param(q, "mostrar_caixinha")
        items = [
            a
            for a in self.state.accounts.values()
            if (not tipos or a.tipo in tipos) and (not nome or fold(nome) in fold(a.nome))
        ]
        totais = totals(a.ativo for a in items)
        if apenas_ativo:
            items = [a for a in items if a.ativo]
        return json_response(
            {
                "itens_totais": len(items),
                "itens": [account_json(a) for a in page_of(items, page, size)],
                "totais": totais,
            }
        )

    async def list_categories(self, request: web.Request) -> web.Response:
        """GET /v1/categorias (POST is not routed -> 405, as observed)."""
        q = request.query
        page, size = paging(q, required=True)
        tipo = enum_param(q.get("tipo"), "tipo", ("RECEITA", "DESPESA"))
        busca, nome = q.get("busca"), q.get("nome")
        apenas_filhos = bool_param(q, "apenas_filhos")
        bool_param(q, "permite_apenas_filhos", required=self.state.require_permite_apenas_filhos)
        asc = enum_param(q.get("campo_ordenado_ascendente"), "campo_ordenado_ascendente", ("NOME", "TIPO"))
        desc = enum_param(q.get("campo_ordenado_descendente"), "campo_ordenado_descendente", ("NOME", "TIPO"))
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
        return json_response(
            {
                "itens_totais": len(items),
                "itens": [category_json(c) for c in page_of(items, page, size)],
                "totais": totals(True for _ in items),
            }
        )

    async def list_cost_centers(self, request: web.Request) -> web.Response:
        """GET /v1/centro-de-custo (list key per `cost_center_list_key`)."""
        q = request.query
        page, size = paging(q, required=True)
        busca = q.get("busca")
        filtro = enum_param(q.get("filtro_rapido"), "filtro_rapido", ("ATIVO", "INATIVO", "TODOS")) or "TODOS"
        matching = [
            c
            for c in self.state.cost_centers.values()
            if not busca or fold(busca) in fold(c.nome) or (c.codigo is not None and busca in c.codigo)
        ]
        totais = totals(c.ativo for c in matching)
        items = [c for c in matching if filtro == "TODOS" or c.ativo == (filtro == "ATIVO")]
        field = q.get("campo_ordenado_ascendente") or q.get("campo_ordenado_descendente")
        if field:
            reverse = not q.get("campo_ordenado_ascendente")
            items.sort(key=lambda c: (c.codigo or "") if field.lower() == "codigo" else fold(c.nome), reverse=reverse)
        return json_response(
            {
                "itens_totais": len(items),
                self.state.cost_center_list_key: [cost_center_json(c) for c in page_of(items, page, size)],
                "totais": totais,
            }
        )

    async def create_cost_center(self, request: web.Request) -> web.Response:
        """POST /v1/centro-de-custo -> 200 with the created object."""
        nome, codigo = validate_cost_center(self.state, await json_body(request))
        cc = self.state.create_cost_center(nome, codigo)
        return await answer_created(self.state, json_response(cost_center_json(cc), 200))


def company_json(c: Company) -> JSON:
    """GET /v1/pessoas/conta-conectada."""
    return {
        "data_fundacao": c.data_fundacao,
        "documento": c.documento,
        "email": c.email,
        "id_empresa": c.id,
        "nome_fantasia": c.nome_fantasia,
        "razao_social": c.razao_social,
    }


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


def cost_center_json(c: CostCenter) -> JSON:
    """CentroDeCusto."""
    return {"id": c.id, "codigo": c.codigo, "nome": c.nome, "ativo": c.ativo}
