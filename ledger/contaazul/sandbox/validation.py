"""Request-body validation mirroring the real API's rules and Portuguese messages."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from .documents import format_cnpj, format_cpf, is_valid_cnpj, is_valid_cpf, normalize
from .models import JSON, NewEntry

if TYPE_CHECKING:
    from .state import SandboxState

METODOS_PAGAMENTO = frozenset(
    {
        "DINHEIRO", "CARTAO_CREDITO", "BOLETO_BANCARIO", "CARTAO_CREDITO_VIA_LINK", "CHEQUE", "CARTAO_DEBITO",
        "TRANSFERENCIA_BANCARIA", "OUTRO", "CARTEIRA_DIGITAL", "CASHBACK", "CREDITO_LOJA", "CREDITO_VIRTUAL",
        "DEPOSITO_BANCARIO", "PIX_PAGAMENTO_INSTANTANEO", "PROGRAMA_FIDELIDADE", "SEM_PAGAMENTO", "VALE_ALIMENTACAO",
        "VALE_COMBUSTIVEL", "VALE_PRESENTE", "VALE_REFEICAO", "PIX_COBRANCA", "DEBITO_AUTOMATICO",
    }
)  # fmt: skip
# Request value -> read value (reads use the upper-case unaccented spelling).
TIPOS_PESSOA = {"Física": "FISICA", "Jurídica": "JURIDICA", "Estrangeira": "ESTRANGEIRA"}
PERFIS = {"Cliente": "CLIENTE", "Fornecedor": "FORNECEDOR", "Transportadora": "TRANSPORTADORA"}
MISSING_COMPOSITION = "valor da parcela: A composição de valor é obrigatória."
MISSING_NET_VALUE = "valor da parcela: O valor líquido é obrigatório."
CENT = Decimal("0.01")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ApiError(Exception):
    """An HTTP error answered as JSON `{"code", "error", "message"}`.

    `structural` tells a malformed body (a missing or ill-typed field, sums that disagree) from one that points at
    data the company does not have (an unknown or unusable id): the async create route may answer the first kind
    at once, while the second only ever shows in the protocol.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error: str | None = None,
        retry_after: int | None = None,
        structural: bool = True,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or HTTPStatus(status).phrase
        self.retry_after = retry_after
        self.structural = structural

    def body(self) -> JSON:
        """The JSON error body (the spec shows `code`/`message`; `error` is added for convenience)."""
        return {"code": self.status, "error": self.error, "message": self.message}


def bad(message: str) -> ApiError:
    """A 400 with a Portuguese message."""
    return ApiError(400, message)


def bad_reference(message: str) -> ApiError:
    """A 400 about data the body points to (not found, inactive, of the wrong kind), not about its shape."""
    return ApiError(400, message, structural=False)


def money(value: Any, label: str, *, positive: bool = True) -> Decimal:
    """A JSON number as Decimal (bools and strings rejected, like a strict JSON-number field)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"{label}: O valor deve ser numérico.")
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:  # pragma: no cover - str(float) is always parseable
        raise bad(f"{label}: O valor deve ser numérico.") from exc
    if not d.is_finite():
        raise bad(f"{label}: O valor deve ser numérico.")
    if positive and d <= 0:
        raise bad(f"{label}: O valor deve ser maior que zero.")
    if not positive and d < 0:
        raise bad(f"{label}: O valor não pode ser negativo.")
    return d


def to_float(d: Decimal) -> float:
    """Round to cents for storage/output."""
    return float(d.quantize(CENT))


def same_amount(a: Decimal, b: Decimal) -> bool:
    """Amounts compare at cent precision."""
    return a.quantize(CENT) == b.quantize(CENT)


def iso_date(value: Any, label: str) -> str:
    """A strict YYYY-MM-DD date string."""
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise bad(f"{label}: Data inválida, utilize o formato AAAA-MM-DD.")
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise bad(f"{label}: Data inválida, utilize o formato AAAA-MM-DD.") from exc
    return value


def uuid_str(value: Any, label: str) -> str:
    """A UUID string, with the spec's invalid-identifier message."""
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else _raise_uuid(value, label)
    except ValueError:
        return _raise_uuid(value, label)


def _raise_uuid(value: Any, label: str) -> str:
    raise bad(f"O valor '{value}' fornecido no parâmetro '{label}' não é um identificador (uuid) válido.")


def _text(body: JSON, key: str, label: str | None = None, *, required: bool, max_len: int | None = None) -> str | None:
    value = body.get(key)
    label = label or key
    if value is None:
        if required:
            raise bad(f"{label}: O campo é obrigatório.")
        return None
    if not isinstance(value, str):
        raise bad(f"{label}: O valor deve ser um texto.")
    if max_len is not None and len(value) > max_len:
        raise bad(f"{label}: O tamanho máximo é de {max_len} caracteres.")
    return value


def _nonblank(body: JSON, key: str, label: str | None = None, *, max_len: int | None = None) -> str:
    value = _text(body, key, label, required=True, max_len=max_len)
    if not value or not value.strip():
        raise bad(f"{label or key}: O campo é obrigatório.")
    return value


# --- financial entries -------------------------------------------------------------------------------------------


def validate_entry(
    state: SandboxState, body: Any, tipo: Literal["DESPESA", "RECEITA"], route: Literal["async", "sync"]
) -> NewEntry:
    """Validate a payable (DESPESA) / receivable (RECEITA) body for the async (`contato`) or sync route."""
    if not isinstance(body, dict):
        raise bad("O corpo da requisição deve ser um objeto JSON.")
    if route == "async":
        contact_key = "contato"
        # EventoFinanceiroRequest.required in the spec (rateio is checked later: optional in the spec, enforced live).
        required = ["data_competencia", "valor", "observacao", "descricao", contact_key, "conta_financeira"]
        required.append("condicao_pagamento")
    else:
        contact_key = "id_fornecedor" if tipo == "DESPESA" else "id_cliente"
        required = ["descricao", "data_competencia", "valor", "conta_financeira", contact_key, "rateio"]
        required.append("condicao_pagamento")
    for key in required:
        if body.get(key) is None:
            if key == "rateio":
                raise bad("rateio: É necessário informar ao menos uma categoria.")
            raise bad(f"{key}: O campo é obrigatório.")

    descricao = _nonblank(body, "descricao")
    data_competencia = iso_date(body["data_competencia"], "data_competencia")
    valor = money(body["valor"], "valor")
    observacao = _text(body, "observacao", required=route == "async")
    referencia_externa = _text(body, "referencia_externa", required=False, max_len=100) if route == "sync" else None
    conta = _account(state, body["conta_financeira"], "conta_financeira", tipo)
    contato = uuid_str(body[contact_key], contact_key)
    if contato not in state.people:
        raise bad_reference(f"{contact_key}: Pessoa '{contato}' não encontrada.")

    rateio = _rateio(state, body.get("rateio"), tipo, valor)
    parcelas = _parcelas(state, body["condicao_pagamento"], tipo, route, valor, descricao, conta)
    return NewEntry(
        tipo=tipo,
        descricao=descricao,
        data_competencia=data_competencia,
        valor=to_float(valor),
        observacao=observacao,
        contato_id=contato,
        conta_financeira_id=conta,
        rateio=rateio,
        parcelas=parcelas,
        referencia_externa=referencia_externa,
    )


def _account(state: SandboxState, value: Any, label: str, tipo: str) -> str:
    account_id = uuid_str(value, label)
    account = state.accounts.get(account_id)
    if account is None:
        raise bad_reference(f"{label}: Conta financeira '{account_id}' não encontrada.")
    if not account.ativo:
        raise bad_reference(f"{label}: A conta financeira '{account.nome}' está inativa.")
    if tipo == "DESPESA" and account.tipo == "RECEBA_FACIL_CARTAO":
        raise bad_reference(f"{label}: A conta financeira Receba Fácil não pode ser utilizada em contas a pagar.")
    return account_id


def _rateio(state: SandboxState, value: Any, tipo: str, valor: Decimal) -> list[JSON]:
    if not isinstance(value, list) or not value:
        raise bad("rateio: É necessário informar ao menos uma categoria.")
    out: list[JSON] = []
    total = Decimal(0)
    for item in value:
        if not isinstance(item, dict):
            raise bad("rateio: Item de rateio inválido.")
        if item.get("id_categoria") is None:
            raise bad("rateio.id_categoria: O campo é obrigatório.")
        cat_id = uuid_str(item["id_categoria"], "id_categoria")
        category = state.categories.get(cat_id)
        if category is None:
            raise bad_reference(f"rateio.id_categoria: Categoria '{cat_id}' não encontrada.")
        if category.tipo != tipo:
            kind = "contas a pagar" if tipo == "DESPESA" else "contas a receber"
            raise bad_reference(
                f"rateio.id_categoria: A categoria '{category.nome}' é do tipo {category.tipo} "
                f"e não pode ser utilizada em {kind}."
            )
        if state.leaf_categories_only and any(c.categoria_pai == cat_id for c in state.categories.values()):
            raise bad_reference(f"rateio.id_categoria: A categoria '{category.nome}' possui subcategorias.")
        if item.get("valor") is None:
            raise bad("rateio.valor: O campo é obrigatório.")
        item_valor = money(item["valor"], "rateio.valor")
        total += item_valor
        out.append(
            {
                "id_categoria": cat_id,
                "valor": to_float(item_valor),
                "rateio_centro_custo": _cost_split(state, item.get("rateio_centro_custo"), item_valor),
            }
        )
    if not same_amount(total, valor):
        raise bad(
            f"rateio: A soma dos valores do rateio ({total.quantize(CENT)}) difere do valor total "
            f"do evento ({valor.quantize(CENT)})."
        )
    return out


def _cost_split(state: SandboxState, value: Any, item_valor: Decimal) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad("rateio.rateio_centro_custo: Deve ser uma lista.")
    out: list[JSON] = []
    total = Decimal(0)
    for split in value:
        if not isinstance(split, dict):
            raise bad("rateio.rateio_centro_custo: Item inválido.")
        if split.get("id_centro_custo") is None:
            raise bad("rateio.rateio_centro_custo.id_centro_custo: O campo é obrigatório.")
        cc_id = uuid_str(split["id_centro_custo"], "id_centro_custo")
        cc = state.cost_centers.get(cc_id)
        if cc is None:
            raise bad_reference(
                f"rateio.rateio_centro_custo.id_centro_custo: Centro de custo '{cc_id}' não encontrado."
            )
        if not cc.ativo:
            raise bad_reference(
                f"rateio.rateio_centro_custo.id_centro_custo: O centro de custo '{cc.nome}' está inativo."
            )
        if split.get("valor") is None:
            raise bad("rateio.rateio_centro_custo.valor: O campo é obrigatório.")
        split_valor = money(split["valor"], "rateio.rateio_centro_custo.valor")
        total += split_valor
        out.append({"id_centro_custo": cc_id, "valor": to_float(split_valor)})
    if out and not same_amount(total, item_valor):
        raise bad(
            f"rateio.rateio_centro_custo: A soma dos valores dos centros de custo ({total.quantize(CENT)}) "
            f"difere do valor da categoria ({item_valor.quantize(CENT)})."
        )
    return out


def _parcelas(
    state: SandboxState,
    condicao: Any,
    tipo: str,
    route: str,
    valor: Decimal,
    descricao: str,
    conta: str,
) -> list[JSON]:
    if not isinstance(condicao, dict):
        raise bad("condicao_pagamento: Deve ser um objeto.")
    parcelas = condicao.get("parcelas")
    if not isinstance(parcelas, list) or not parcelas:
        raise bad("condicao_pagamento.parcelas: É necessário informar ao menos uma parcela.")
    out: list[JSON] = []
    total = Decimal(0)
    for parcela in parcelas:
        if not isinstance(parcela, dict):
            raise bad("condicao_pagamento.parcelas: Parcela inválida.")
        # The live API answers this exact message when detalhe_valor is missing or sent as
        # composicao_valor / valor_composicao (the read-side names).
        detalhe = parcela.get("detalhe_valor")
        if not isinstance(detalhe, dict):
            raise bad(MISSING_COMPOSITION)
        if route == "async":
            for key in ("descricao", "data_vencimento", "nota", "conta_financeira"):
                if parcela.get(key) is None:
                    raise bad(f"parcela.{key}: O campo é obrigatório.")
        elif parcela.get("data_vencimento") is None:
            raise bad("parcela.data_vencimento: O campo é obrigatório.")
        if detalhe.get("valor_bruto") is None:
            raise bad("valor da parcela: O valor bruto é obrigatório.")
        # Optional in the spec, refused when missing in practice.
        if detalhe.get("valor_liquido") is None:
            raise bad(MISSING_NET_VALUE)
        bruto = money(detalhe["valor_bruto"], "valor da parcela")
        extras = {
            k: money(detalhe[k], f"valor da parcela.{k}", positive=False) if detalhe.get(k) is not None else Decimal(0)
            for k in ("desconto", "juros", "multa", "taxa")
        }
        liquido = money(detalhe["valor_liquido"], "valor da parcela.valor_liquido", positive=False)
        total += bruto
        metodo = parcela.get("metodo_pagamento")
        if metodo is not None and metodo not in METODOS_PAGAMENTO:
            raise bad(f"parcela.metodo_pagamento: Valor '{metodo}' inválido.")
        parcela_conta = (
            _account(state, parcela["conta_financeira"], "parcela.conta_financeira", tipo)
            if parcela.get("conta_financeira") is not None
            else conta
        )
        out.append(
            {
                "descricao": _text(parcela, "descricao", "parcela.descricao", required=False) or descricao,
                "data_vencimento": iso_date(parcela["data_vencimento"], "parcela.data_vencimento"),
                "nota": _text(parcela, "nota", "parcela.nota", required=False),
                "conta_financeira": parcela_conta,
                "detalhe_valor": {
                    "valor_bruto": to_float(bruto),
                    "valor_liquido": to_float(liquido),
                    **{k: to_float(v) for k, v in extras.items()},
                },
                "metodo_pagamento": metodo,
            }
        )
    if not same_amount(total, valor):
        raise bad(
            f"condicao_pagamento.parcelas: A soma dos valores das parcelas ({total.quantize(CENT)}) difere do "
            f"valor total do evento ({valor.quantize(CENT)})."
        )
    return out


# --- people ----------------------------------------------------------------------------------------------------------


def validate_perfis(value: Any) -> list[str]:
    """`perfis: [{"tipo_perfil": "Fornecedor"}]` -> ["FORNECEDOR"]."""
    if not isinstance(value, list):
        raise bad("perfis: Deve ser uma lista.")
    out: list[str] = []
    for item in value:
        perfil = item.get("tipo_perfil") if isinstance(item, dict) else None
        if perfil not in PERFIS:
            raise bad(
                f"perfis.tipo_perfil: Valor '{perfil}' inválido. Valores aceitos: Cliente, Fornecedor, Transportadora."
            )
        if PERFIS[perfil] not in out:
            out.append(PERFIS[perfil])
    return out


def validate_person(state: SandboxState, body: Any) -> JSON:
    """Validate a POST /v1/pessoas body; returns Person constructor fields (minus ids and timestamps)."""
    if not isinstance(body, dict):
        raise bad("O corpo da requisição deve ser um objeto JSON.")
    nome = _nonblank(body, "nome", max_len=200)
    tipo = body.get("tipo_pessoa")
    if tipo is None:
        raise bad("tipo_pessoa: O campo é obrigatório.")
    if tipo not in TIPOS_PESSOA:
        raise bad(f"tipo_pessoa: Valor '{tipo}' inválido. Valores aceitos: Física, Jurídica, Estrangeira.")
    tipo_read = TIPOS_PESSOA[tipo]
    cpf = _text(body, "cpf", required=False)
    cnpj = _text(body, "cnpj", required=False)
    documento: str | None = None
    if cpf:
        if tipo_read != "FISICA":
            raise bad(f"cpf: O CPF só pode ser informado para pessoa Física (tipo_pessoa '{tipo}').")
        if not is_valid_cpf(cpf):
            raise bad(f"cpf: O CPF '{cpf}' é inválido.")
        documento = format_cpf(cpf)
    if cnpj:
        if tipo_read != "JURIDICA":
            raise bad(f"cnpj: O CNPJ só pode ser informado para pessoa Jurídica (tipo_pessoa '{tipo}').")
        if not is_valid_cnpj(cnpj):
            raise bad(f"cnpj: O CNPJ '{cnpj}' é inválido.")
        documento = format_cnpj(cnpj)
    if documento is not None:
        existing = state.find_person_by_document(documento)
        if existing is not None:
            raise bad(f"documento: Já existe uma pessoa cadastrada com o documento {documento} ({existing.nome}).")
    email = _text(body, "email", required=False, max_len=100)
    if email and "@" not in email:
        raise bad(f"email: O e-mail '{email}' é inválido.")
    enderecos = body.get("enderecos") or []
    if not isinstance(enderecos, list) or not all(isinstance(e, dict) for e in enderecos):
        raise bad("enderecos: Deve ser uma lista de endereços.")
    for endereco in enderecos:
        estado = endereco.get("estado")
        if estado is not None and (not isinstance(estado, str) or not re.fullmatch(r"[A-Za-z]{2}", estado)):
            raise bad(f"enderecos.estado: Valor '{estado}' inválido, informe a sigla (UF) com 2 letras.")
    inscricoes = body.get("inscricoes") or []
    if not isinstance(inscricoes, list):
        raise bad("inscricoes: Deve ser uma lista.")
    optante = body.get("optante_simples")
    if optante is not None and not isinstance(optante, bool):
        raise bad("optante_simples: Deve ser verdadeiro ou falso.")
    return {
        "nome": nome,
        "tipo_pessoa": tipo_read,
        "documento": documento,
        "perfis": validate_perfis(body["perfis"]) if body.get("perfis") is not None else [],
        "email": email,
        "telefone_celular": _text(body, "telefone_celular", required=False, max_len=20),
        "telefone_comercial": _text(body, "telefone_comercial", required=False, max_len=20),
        "nome_fantasia": _text(body, "nome_fantasia", required=False, max_len=200),
        "codigo": _text(body, "codigo", required=False, max_len=20),
        "observacao": _text(body, "observacao", required=False),
        "optante_simples": optante,
        "enderecos": [dict(e) for e in enderecos],
        "inscricoes": list(inscricoes),
    }


def document_key(doc: str) -> str:
    """Comparison key for documents (digits/letters only)."""
    return normalize(doc)


# --- cost centers ----------------------------------------------------------------------------------------------------


def validate_cost_center(state: SandboxState, body: Any) -> tuple[str, str | None]:
    """POST /v1/centro-de-custo body -> (nome, codigo)."""
    if not isinstance(body, dict):
        raise bad("O corpo da requisição deve ser um objeto JSON.")
    nome = _nonblank(body, "nome", max_len=100).strip()
    codigo = _text(body, "codigo", required=False, max_len=20)
    for cc in state.cost_centers.values():
        if cc.nome.casefold() == nome.casefold():
            raise bad(f"nome: Já existe um centro de custo com o nome '{cc.nome}'.")
        if codigo and cc.codigo == codigo:
            raise bad(f"codigo: Já existe um centro de custo com o código '{codigo}'.")
    return nome, codigo
