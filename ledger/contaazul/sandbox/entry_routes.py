"""Financial-entry routes of the sandbox: creating payables and receivables, their protocols and installments."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiMapping

from .formats import fmt_sp, fmt_utc, money_out
from .lookup_routes import account_json
from .models import JSON, Event, Installment, Protocol
from .route_helpers import (
    amount_param,
    answer_created,
    date_param,
    enum_param,
    json_body,
    json_response,
    list_param,
    page_of,
    paging,
    totals,
)
from .state import SandboxState
from .validation import ApiError, bad, uuid_str, validate_entry

FINANCE = "/v1/financeiro/eventos-financeiros"
BUSCAR_STATUS = ("PERDIDO", "RECEBIDO", "EM_ABERTO", "RENEGOCIADO", "RECEBIDO_PARCIAL", "ATRASADO")
# The spec's example shows an English `status` next to the Portuguese `status_traduzido`.
_STATUS_EN = {"EM_ABERTO": "PENDING", "ATRASADO": "OVERDUE"}


@dataclass
class EntryRoutes:
    """Creating and reading contas a pagar / a receber, their installments and the async protocols."""

    state: SandboxState

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_post(f"{FINANCE}/contas-a-pagar", self._async_create("DESPESA"))
        router.add_post(f"{FINANCE}/contas-a-receber", self._async_create("RECEITA"))
        router.add_post("/v1/financeiro/contas-a-pagar", self._sync_create("DESPESA"))
        router.add_post("/v1/financeiro/contas-a-receber", self._sync_create("RECEITA"))
        router.add_get("/v1/protocolo/{id}", self.get_protocol)
        router.add_get(f"{FINANCE}/contas-a-pagar/buscar", self._search("DESPESA"))
        router.add_get(f"{FINANCE}/contas-a-receber/buscar", self._search("RECEITA"))
        router.add_get(f"{FINANCE}/parcelas/{{id}}", self.get_installment)
        router.add_get(f"{FINANCE}/{{id_evento}}/parcelas", self.event_installments)

    def _async_create(self, tipo: Literal["DESPESA", "RECEITA"]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            body = await json_body(request)
            if not isinstance(body, dict):
                raise bad("O corpo da requisição deve ser um objeto JSON.")
            # Like the real API, content problems are not reported here: the protocol just ends in ERROR (a
            # malformed body may be answered at once, as reported live, with `async_rejects_malformed`).
            try:
                entry, error = validate_entry(self.state, body, tipo, "async"), None
            except ApiError as exc:
                if exc.structural and self.state.async_rejects_malformed:
                    raise
                entry, error = None, exc.message
            protocol = self.state.create_protocol(tipo, entry, error)
            accepted = protocol_accepted_json(self.state, protocol)
            if self.state.created_answer_without_id:
                accepted = {"status": protocol.status}
            return await answer_created(self.state, json_response(accepted, 202))

        return handler

    def _sync_create(self, tipo: Literal["DESPESA", "RECEITA"]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if self.state.sync_route_missing is not None:  # as the router answers a route that does not exist
                status = self.state.sync_route_missing
                raise ApiError(status, HTTPStatus(status).phrase)
            entry = validate_entry(self.state, await json_body(request), tipo, "sync")
            event = self.state.store_entry(entry, route="sync")
            created = created_entry_json(self.state, event)
            if self.state.created_answer_without_id:
                created = {"mensagem": "Conta criada com sucesso."}
            return await answer_created(self.state, json_response(created, 201))

        return handler

    async def get_protocol(self, request: web.Request) -> web.Response:
        """GET /v1/protocolo/{id}."""
        if self.state.protocol_endpoint_missing:
            raise ApiError(404, HTTPStatus.NOT_FOUND.phrase)
        protocol = self.state.protocols.get(uuid_str(request.match_info["id"], "id"))
        if protocol is None:
            raise ApiError(404, "Protocolo não encontrado.")
        return json_response(protocol_json(protocol))

    def _search(self, tipo: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return json_response(self._search_installments(request.query, tipo))

        return handler

    def _search_installments(self, q: MultiMapping[str], tipo: str) -> JSON:
        page, size = paging(q, required=True)
        venc_de = date_param(q, "data_vencimento_de", required=True)
        venc_ate = date_param(q, "data_vencimento_ate", required=True)
        comp_de = date_param(q, "data_competencia_de", required=False)
        comp_ate = date_param(q, "data_competencia_ate", required=False)
        descricao = q.get("descricao")
        statuses = set(list_param(q, "status"))
        for s in statuses:
            enum_param(s, "status", BUSCAR_STATUS)
        valor_de, valor_ate = amount_param(q, "valor_de"), amount_param(q, "valor_ate")
        contas = set(list_param(q, "ids_contas_financeiras"))
        categorias = set(list_param(q, "ids_categorias"))
        centros = set(list_param(q, "ids_centros_de_custo"))
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
            "itens": [search_item_json(state, i) for i in page_of(items, page, size)],
            "totais": totals(True for _ in items),
        }

    async def get_installment(self, request: web.Request) -> web.Response:
        """GET .../eventos-financeiros/parcelas/{id}."""
        inst = self.state.installments.get(uuid_str(request.match_info["id"], "id"))
        if inst is None:
            raise ApiError(404, "Parcela não encontrada.")
        return json_response(installment_json(self.state, inst))

    async def event_installments(self, request: web.Request) -> web.Response:
        """GET .../eventos-financeiros/{id_evento}/parcelas (uuid or legacy id) -> array of Parcela."""
        key = request.match_info["id_evento"]
        if not key.isdigit():
            key = uuid_str(key, "id_evento")
        event = self.state.find_event(key)
        if event is None:
            raise ApiError(404, "Evento financeiro não encontrado.")
        return json_response([installment_json(self.state, i) for i in self.state.event_installments(event.id)])


def installment_json(state: SandboxState, inst: Installment) -> JSON:
    """Parcela (GET .../parcelas/{id} and .../{id_evento}/parcelas)."""
    event = state.events[inst.evento_id]
    status = state.installment_status(inst)
    total = money_out(inst.detalhe_valor["valor_liquido"])
    account = state.accounts.get(inst.conta_financeira_id)
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
        "conta_financeira": account_json(account) if account else None,
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
                "quantidade_parcelas": len(state.event_installments(event.id)),
                "montante_fixo": False,
            },
            "rateio": _rateio_json(state, event),
        },
    }


def search_item_json(state: SandboxState, inst: Installment) -> JSON:
    """ContaAPagar / ContaAReceber item of the .../buscar endpoints."""
    event = state.events[inst.evento_id]
    status = state.installment_status(inst)
    total = money_out(inst.detalhe_valor["valor_liquido"])
    person = state.people.get(event.contato_id) if event.contato_id else None
    categorias = [
        {"id": r["id_categoria"], "nome": cat.nome if (cat := state.categories.get(r["id_categoria"])) else None}
        for r in event.rateio
    ]
    centros: dict[str, JSON] = {}
    for r in event.rateio:
        for s in r["rateio_centro_custo"]:
            cc = state.cost_centers.get(s["id_centro_custo"])
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


def protocol_json(p: Protocol) -> JSON:
    """GET /v1/protocolo/{id}."""
    return {"id": p.id, "resposta": p.resposta, "status": p.status, "evento_financeiro_id": p.evento_id}


def protocol_accepted_json(state: SandboxState, p: Protocol) -> JSON:
    """The 202 body of the async create endpoints, in the configured key style."""
    if state.protocol_key_style == "old":
        return {"protocolId": p.id, "status": p.status, "createdAt": fmt_utc(p.data_criacao)}
    return {"protocolo": p.id, "status": p.status, "data_criacao": fmt_utc(p.data_criacao)}


def created_entry_json(state: SandboxState, event: Event) -> JSON:
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
        "rateio": _rateio_json(state, event),
        "data_criacao": fmt_utc(event.data_criacao),
        "parcelas": [
            {
                "id": inst.id,
                "indice": inst.indice,
                "descricao": inst.descricao,
                "data_vencimento": inst.data_vencimento,
                "nota": inst.nota,
                "status": "PENDENTE" if state.installment_status(inst) == "EM_ABERTO" else "ATRASADO",
                "conta_financeira": inst.conta_financeira_id,
                "detalhe_valor": {k: money_out(v) for k, v in inst.detalhe_valor.items()},
                "metodo_pagamento": inst.metodo_pagamento,
            }
            for inst in state.event_installments(event.id)
        ],
    }


def _rateio_json(state: SandboxState, event: Event) -> list[JSON]:
    out: list[JSON] = []
    for item in event.rateio:
        cat = state.categories.get(item["id_categoria"])
        out.append(
            {
                "id_categoria": item["id_categoria"],
                "nome_categoria": cat.nome if cat else None,
                "valor": money_out(item["valor"]),
                "valor_bruto": money_out(item["valor"]),
                "rateio_centro_custo": [
                    {
                        "id_centro_custo": s["id_centro_custo"],
                        "nome_centro_custo": cc.nome if (cc := state.cost_centers.get(s["id_centro_custo"])) else None,
                        "valor": money_out(s["valor"]),
                    }
                    for s in item["rateio_centro_custo"]
                ],
            }
        )
    return out
