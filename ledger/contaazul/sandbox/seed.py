"""Deterministic Brazilian demo data for the sandbox (a small bakery in São Paulo).

Ids are uuid5 of the record names, so tests can refer to them without querying first.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from .documents import make_cnpj, make_cpf
from .models import Category, Company, CostCenter, FinancialAccount, Person

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://aprova.local/contaazul-sandbox")
SEED_TIME = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


def seed_id(kind: str, name: str) -> str:
    """Deterministic id for a seeded record of a given kind."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


# --- company -----------------------------------------------------------------------------------------------------
COMPANY_NAME = "Padaria Pão Quente Ltda"
COMPANY_ID = seed_id("empresa", COMPANY_NAME)
COMPANY_CNPJ = make_cnpj("345678900001")

# --- financial accounts ------------------------------------------------------------------------------------------
ACCOUNT_ITAU = "Itaú Conta Corrente"
ACCOUNT_CAIXINHA = "Caixinha"
ACCOUNT_RECEBA_FACIL = "Receba Fácil"
ACCOUNT_INACTIVE = "Bradesco (encerrada)"
ACCOUNT_IDS: dict[str, str] = {
    n: seed_id("conta-financeira", n) for n in (ACCOUNT_ITAU, ACCOUNT_CAIXINHA, ACCOUNT_RECEBA_FACIL, ACCOUNT_INACTIVE)
}

# --- categories: (name, parent, tipo, entrada_dre, considera_custo_dre) -------------------------------------------
_CATEGORIES: list[tuple[str, str | None, str, str, bool]] = [
    ("Despesas Administrativas", None, "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Aluguel", "Despesas Administrativas", "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Energia Elétrica", "Despesas Administrativas", "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Água e Esgoto", "Despesas Administrativas", "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Internet e Telefone", "Despesas Administrativas", "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Material de Escritório", "Despesas Administrativas", "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Serviços de Contabilidade", "Despesas Administrativas", "DESPESA", "DESPESAS_ADMINISTRATIVAS", False),
    ("Despesas com Pessoal", None, "DESPESA", "DESPESAS_COM_PESSOAL", False),
    ("Salários", "Despesas com Pessoal", "DESPESA", "DESPESAS_COM_PESSOAL", False),
    ("Vale-Transporte", "Despesas com Pessoal", "DESPESA", "DESPESAS_COM_PESSOAL", False),
    ("Marketing e Publicidade", None, "DESPESA", "DESPESAS_COMERCIAIS", False),
    ("Manutenção e Reparos", None, "DESPESA", "DESPESAS_OPERACIONAIS", False),
    ("Matéria-Prima", None, "DESPESA", "CUSTO_MERCADORIAS_VENDIDAS", True),
    ("Fretes e Carretos", None, "DESPESA", "CUSTO_MERCADORIAS_VENDIDAS", True),
    ("Impostos e Taxas", None, "DESPESA", "DEDUCOES_RECEITA_BRUTA", False),
    ("Tarifas Bancárias", None, "DESPESA", "DESPESAS_FINANCEIRAS", False),
    ("Vendas de Produtos", None, "RECEITA", "RECEITA_BRUTA_VENDAS", False),
    ("Prestação de Serviços", None, "RECEITA", "RECEITA_BRUTA_SERVICOS", False),
    ("Encomendas e Eventos", None, "RECEITA", "RECEITA_BRUTA_VENDAS", False),
    ("Receitas Financeiras", None, "RECEITA", "RECEITAS_FINANCEIRAS", False),
    ("Outras Receitas", None, "RECEITA", "OUTRAS_RECEITAS", False),
]
CATEGORY_IDS: dict[str, str] = {c[0]: seed_id("categoria", c[0]) for c in _CATEGORIES}
DESPESA_CATEGORIES = [c[0] for c in _CATEGORIES if c[2] == "DESPESA"]
RECEITA_CATEGORIES = [c[0] for c in _CATEGORIES if c[2] == "RECEITA"]

# --- cost centers: (name, codigo, ativo) ---------------------------------------------------------------------------
_COST_CENTERS: list[tuple[str, str, bool]] = [
    ("Administrativo", "01", True),
    ("Comercial", "02", True),
    ("Produção", "03", True),
    ("Loja Centro", "04", True),
    ("Loja Shopping (encerrada)", "05", False),
]
COST_CENTER_IDS: dict[str, str] = {c[0]: seed_id("centro-de-custo", c[0]) for c in _COST_CENTERS}

# --- people: (name, tipo_pessoa, documento, perfis, email, telefone, cidade) -------------------------------------
_PEOPLE: list[tuple[str, str, str, list[str], str, str]] = [
    (
        "Moinho Anaconda Ltda",
        "JURIDICA",
        make_cnpj("612345670001"),
        ["FORNECEDOR"],
        "vendas@moinhoanaconda.com.br",
        "1132145500",
    ),
    (
        "Enel Distribuição São Paulo",
        "JURIDICA",
        make_cnpj("615000010001"),
        ["FORNECEDOR"],
        "empresas@enel.com.br",
        "08007272120",
    ),
    (
        "Sabesp - Cia. de Saneamento Básico",
        "JURIDICA",
        make_cnpj("437761170001"),
        ["FORNECEDOR"],
        "atendimento@sabesp.com.br",
        "1131937000",
    ),
    (
        "Papelaria Central ME",
        "JURIDICA",
        make_cnpj("234567890001"),
        ["FORNECEDOR"],
        "contato@papelariacentral.com.br",
        "1133321100",
    ),
    (
        "Imobiliária Lar Paulista Ltda",
        "JURIDICA",
        make_cnpj("456789120001"),
        ["FORNECEDOR"],
        "financeiro@larpaulista.com.br",
        "1132567788",
    ),
    (
        "Telefônica Vivo Empresas",
        "JURIDICA",
        make_cnpj("024558570001"),
        ["FORNECEDOR"],
        "empresas@vivo.com.br",
        "1031501515",
    ),
    (
        "Contabilidade Exata Assessoria Ltda",
        "JURIDICA",
        make_cnpj("567891230001"),
        ["FORNECEDOR"],
        "atendimento@contabilidadeexata.com.br",
        "1134459900",
    ),
    (
        "Transportes Rápido Sul Ltda",
        "JURIDICA",
        make_cnpj("678912340001"),
        ["FORNECEDOR", "TRANSPORTADORA"],
        "coleta@rapidosul.com.br",
        "1136671234",
    ),
    (
        "Laticínios Serra Verde Ltda",
        "JURIDICA",
        make_cnpj("789123450001"),
        ["FORNECEDOR"],
        "pedidos@serraverde.com.br",
        "3534561200",
    ),
    # Alphanumeric CNPJ (valid from July 2026) so clients exercise letters in documents.
    (
        "Agência Fermento Marketing Ltda",
        "JURIDICA",
        make_cnpj("12ABC34501DE"),
        ["FORNECEDOR"],
        "ola@agenciafermento.com.br",
        "11987654321",
    ),
    (
        "José Carlos Pereira",
        "FISICA",
        make_cpf("123456789"),
        ["FORNECEDOR"],
        "zecarlos.reparos@gmail.com",
        "11991234567",
    ),
    (
        "Mercado Bom Preço Ltda",
        "JURIDICA",
        make_cnpj("891234560001"),
        ["CLIENTE"],
        "compras@bompreco.com.br",
        "1135558800",
    ),
    (
        "Restaurante Sabor Caseiro Ltda",
        "JURIDICA",
        make_cnpj("912345670001"),
        ["CLIENTE"],
        "gerencia@saborcaseiro.com.br",
        "1136669900",
    ),
    (
        "Café da Esquina ME",
        "JURIDICA",
        make_cnpj("135792460001"),
        ["CLIENTE"],
        "cafedaesquina@gmail.com",
        "11976543210",
    ),
    (
        "Maria Aparecida dos Santos",
        "FISICA",
        make_cpf("987654321"),
        ["CLIENTE"],
        "maria.santos@hotmail.com",
        "11965432109",
    ),
]
PERSON_IDS: dict[str, str] = {p[0]: seed_id("pessoa", p[0]) for p in _PEOPLE}
PERSON_DOCUMENTS: dict[str, str] = {p[0]: p[2] for p in _PEOPLE}
SUPPLIERS = [p[0] for p in _PEOPLE if "FORNECEDOR" in p[3]]
CUSTOMERS = [p[0] for p in _PEOPLE if "CLIENTE" in p[3]]


def company() -> Company:
    """The connected company."""
    return Company(
        id=COMPANY_ID,
        razao_social=COMPANY_NAME,
        nome_fantasia="Pão Quente",
        documento=COMPANY_CNPJ,
        email="financeiro@paoquente.com.br",
        data_fundacao="2015-03-12",
    )


def accounts() -> list[FinancialAccount]:
    """Financial accounts: checking (default), petty cash, card receivables, and one inactive."""
    return [
        FinancialAccount(
            ACCOUNT_IDS[ACCOUNT_ITAU],
            ACCOUNT_ITAU,
            "CONTA_CORRENTE",
            "ITAU",
            341,
            "0912",
            "45871-3",
            conta_padrao=True,
            possui_config_boleto_bancario=True,
        ),
        FinancialAccount(ACCOUNT_IDS[ACCOUNT_CAIXINHA], ACCOUNT_CAIXINHA, "CAIXINHA", "NAO_BANCO", None, None, None),
        FinancialAccount(
            ACCOUNT_IDS[ACCOUNT_RECEBA_FACIL], ACCOUNT_RECEBA_FACIL, "RECEBA_FACIL_CARTAO", "OUTROS", None, None, None
        ),
        FinancialAccount(
            ACCOUNT_IDS[ACCOUNT_INACTIVE],
            ACCOUNT_INACTIVE,
            "CONTA_CORRENTE",
            "BRADESCO",
            237,
            "1234",
            "98765-0",
            ativo=False,
        ),
    ]


def categories() -> list[Category]:
    """Category tree (DESPESA and RECEITA)."""
    return [
        Category(CATEGORY_IDS[n], n, tipo, CATEGORY_IDS[parent] if parent else None, dre, custo)
        for n, parent, tipo, dre, custo in _CATEGORIES
    ]


def cost_centers() -> list[CostCenter]:
    """Cost centers (one inactive)."""
    return [CostCenter(COST_CENTER_IDS[n], n, codigo, ativo) for n, codigo, ativo in _COST_CENTERS]


def people() -> list[Person]:
    """Suppliers and customers with valid documents."""
    out: list[Person] = []
    for i, (nome, tipo, doc, perfis, email, fone) in enumerate(_PEOPLE):
        created = SEED_TIME + timedelta(hours=i)
        out.append(
            Person(
                id=PERSON_IDS[nome],
                id_legado=1001 + i,
                uuid_legado=seed_id("pessoa-legado", nome),
                nome=nome,
                tipo_pessoa=tipo,
                documento=doc,
                perfis=list(perfis),
                data_criacao=created,
                data_alteracao=created,
                email=email,
                telefone_celular=fone if len(fone) == 11 else None,
                telefone_comercial=fone if len(fone) != 11 else None,
                enderecos=[
                    {
                        "cep": "01310-100",
                        "logradouro": "Avenida Paulista",
                        "numero": str(1000 + i * 10),
                        "complemento": None,
                        "bairro": "Bela Vista",
                        "cidade": "São Paulo",
                        "estado": "SP",
                        "pais": "Brasil",
                    }
                ],
            )
        )
    return out
