"""The Conta Azul sandbox, driven over real HTTP like the production API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ledger.contaazul.sandbox import SCOPE, Sandbox
from ledger.contaazul.sandbox.documents import is_valid_cnpj, is_valid_cpf, make_cnpj, make_cpf
from ledger.contaazul.sandbox.oauth import s256_challenge
from ledger.contaazul.sandbox.seed import (
    ACCOUNT_CAIXINHA,
    ACCOUNT_IDS,
    ACCOUNT_ITAU,
    ACCOUNT_RECEBA_FACIL,
    CATEGORY_IDS,
    COMPANY_NAME,
    COST_CENTER_IDS,
    PERSON_DOCUMENTS,
    PERSON_IDS,
)

pytestmark = pytest.mark.anyio

REDIRECT = "https://aprova.example/oauth/callback"
MOINHO = PERSON_IDS["Moinho Anaconda Ltda"]
MERCADO = PERSON_IDS["Mercado Bom Preço Ltda"]
ITAU = ACCOUNT_IDS[ACCOUNT_ITAU]
FINANCE = "/v1/financeiro/eventos-financeiros"


class FakeClock:
    """Injectable time that only moves when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 9, 1, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(fake_clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(clock=fake_clock, redirect_uris=[REDIRECT]) as sb:
        # The frozen clock never slides the rate windows; tests that want 429s turn them back on.
        sb.state.rate_limit_per_second = None
        sb.state.rate_limit_per_minute = None
        yield sb


@pytest.fixture
async def raw(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        yield client


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    token = sandbox.issue_tokens().access_token
    async with httpx.AsyncClient(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def basic(client_id: str = "aprova-local", secret: str = "local-secret") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def authorize_params(**over: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "aprova-local",
        "redirect_uri": REDIRECT,
        "state": "xyz-123",
        "scope": SCOPE,
    }
    params.update(over)
    return params


async def get_code(raw: httpx.AsyncClient) -> str:
    page = await raw.get("/oauth2/authorize", params=authorize_params())
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id
    resp = await raw.post("/oauth2/consent", data={"request_id": request_id.group(1), "decisao": "autorizar"})
    assert resp.status_code == 302
    return parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]


async def exchange(raw: httpx.AsyncClient, code: str, **kw: Any) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return await raw.post("/oauth2/token", data=data, headers=kw.get("headers", basic()))


def payable(route: str = "async", **over: Any) -> dict[str, Any]:
    """A valid payable: R$ 1.500,00 of flour, split between two cost centers."""
    body: dict[str, Any] = {
        "data_competencia": "2026-09-01",
        "valor": 1500.0,
        "descricao": "NF 4521 - Moinho Anaconda",
        "observacao": "Aprovado no Slack",
        "conta_financeira": ITAU,
        "rateio": [
            {
                "id_categoria": CATEGORY_IDS["Matéria-Prima"],
                "valor": 1500.0,
                "rateio_centro_custo": [
                    {"id_centro_custo": COST_CENTER_IDS["Produção"], "valor": 1000.0},
                    {"id_centro_custo": COST_CENTER_IDS["Loja Centro"], "valor": 500.0},
                ],
            }
        ],
        "condicao_pagamento": {
            "parcelas": [
                {
                    "descricao": "NF 4521 - Moinho Anaconda",
                    "data_vencimento": "2026-09-30",
                    "nota": "Boleto",
                    "conta_financeira": ITAU,
                    "detalhe_valor": {"valor_bruto": 1500.0, "valor_liquido": 1500.0, "desconto": 0, "juros": 0},
                    "metodo_pagamento": "BOLETO_BANCARIO",
                }
            ]
        },
    }
    if route == "async":
        body["contato"] = MOINHO
    else:
        body["id_fornecedor"] = MOINHO
        body["referencia_externa"] = "APROVA-000123"
    body.update(over)
    return body


def receivable(route: str = "async") -> dict[str, Any]:
    body = payable(route)
    body.pop("contato", None)
    body.pop("id_fornecedor", None)
    body["contato" if route == "async" else "id_cliente"] = MERCADO
    body["descricao"] = "Encomenda de pães - Mercado Bom Preço"
    body["condicao_pagamento"]["parcelas"][0]["descricao"] = "Encomenda de pães - Mercado Bom Preço"
    body["rateio"][0]["id_categoria"] = CATEGORY_IDS["Vendas de Produtos"]
    return body


def search_params(**over: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "pagina": 1,
        "tamanho_pagina": 10,
        "data_vencimento_de": "2026-09-01",
        "data_vencimento_ate": "2026-09-30",
    }
    params.update(over)
    return params


# --------------------------------------------------------------------------------------------------- documents


def test_document_check_digits() -> None:
    assert is_valid_cpf("123.456.789-09") and is_valid_cpf("12345678909")
    assert not is_valid_cpf("123.456.789-00") and not is_valid_cpf("111.111.111-11")
    assert is_valid_cnpj(make_cnpj("112223330001")) and is_valid_cnpj(make_cnpj("12ABC34501DE").replace(".", ""))
    assert not is_valid_cnpj("11.222.333/0001-00")
    assert make_cpf("123456789") == "123.456.789-09"
    assert all(is_valid_cnpj(d) or is_valid_cpf(d) for d in PERSON_DOCUMENTS.values())


# --------------------------------------------------------------------------------------------------- OAuth


async def test_code_flow_with_consent_page(sandbox: Sandbox, raw: httpx.AsyncClient) -> None:
    page = await raw.get("/oauth2/authorize", params=authorize_params())
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert COMPANY_NAME in page.text and "Autorizar" in page.text and "Negar" in page.text
    assert 'action="/oauth2/consent"' in page.text
    code = await get_code(raw)

    resp = await exchange(raw, code)
    assert resp.status_code == 200
    tokens = resp.json()
    assert set(tokens) == {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}
    assert tokens["expires_in"] == 3600 and tokens["token_type"] == "Bearer"
    assert tokens["id_token"].count(".") == 2
    me = await raw.get("/v1/pessoas/conta-conectada", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["razao_social"] == COMPANY_NAME
    assert set(me.json()) == {"data_fundacao", "documento", "email", "id_empresa", "nome_fantasia", "razao_social"}

    reused = await exchange(raw, code)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


async def test_consent_redirect_keeps_state(raw: httpx.AsyncClient) -> None:
    page = await raw.get("/oauth2/authorize", params=authorize_params(state="abc"))
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id
    resp = await raw.post("/oauth2/consent", data={"request_id": request_id.group(1), "decisao": "autorizar"})
    location = resp.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(location).query)["state"] == ["abc"]
    # The request id is single-use too.
    again = await raw.post("/oauth2/consent", data={"request_id": request_id.group(1), "decisao": "autorizar"})
    assert again.status_code == 400


async def test_deny(raw: httpx.AsyncClient) -> None:
    page = await raw.get("/oauth2/authorize", params=authorize_params())
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id
    resp = await raw.post("/oauth2/consent", data={"request_id": request_id.group(1), "decisao": "negar"})
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["xyz-123"]}


async def test_authorize_rejects_bad_requests(raw: httpx.AsyncClient) -> None:
    for over in ({"client_id": "other"}, {"redirect_uri": "https://evil.example/cb"}, {"response_type": "token"}):
        resp = await raw.get("/oauth2/authorize", params=authorize_params(**over))
        assert resp.status_code == 400 and "text/html" in resp.headers["content-type"], over
    resp = await raw.get("/oauth2/authorize", params=authorize_params(scope="openid"))
    assert resp.status_code == 302 and "error=invalid_scope" in resp.headers["location"]


async def test_login_alias_with_auto_consent(fake_clock: FakeClock) -> None:
    async with Sandbox(clock=fake_clock, auto_consent=True) as sb, httpx.AsyncClient(base_url=sb.auth_url) as raw:
        assert sb.auth_url == sb.api_url == sb.base_url
        resp = await raw.get("/login", params=authorize_params(redirect_uri="http://localhost:9000/cb"))
        assert resp.status_code == 302
        query = parse_qs(urlsplit(resp.headers["location"]).query)
        assert query["state"] == ["xyz-123"] and query["code"]
        data = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": "http://localhost:9000/cb",
        }
        assert (await raw.post("/oauth2/token", data=data, headers=basic())).status_code == 200


async def test_code_expires_after_three_minutes(raw: httpx.AsyncClient, fake_clock: FakeClock) -> None:
    code = await get_code(raw)
    fake_clock.advance(181)
    resp = await exchange(raw, code)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_client_authentication(raw: httpx.AsyncClient) -> None:
    # Credentials in the body only.
    code = await get_code(raw)
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "aprova-local",
        "client_secret": "local-secret",
    }
    assert (await raw.post("/oauth2/token", data=body)).status_code == 200
    # Both (docs examples do it) is fine.
    code = await get_code(raw)
    assert (await raw.post("/oauth2/token", data={**body, "code": code}, headers=basic())).status_code == 200

    code = await get_code(raw)
    wrong = await exchange(raw, code, headers=basic(secret="nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    anonymous = await raw.post("/oauth2/token", data={"grant_type": "authorization_code", "code": code})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    mismatch = await raw.post(
        "/oauth2/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "x"},
        headers=basic(),
    )  # fmt: skip
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"
    unsupported = await raw.post("/oauth2/token", data={"grant_type": "password"}, headers=basic())
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    as_json = await raw.post("/oauth2/token", json={"grant_type": "refresh_token"}, headers=basic())
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


async def test_refresh_rotates(sandbox: Sandbox, raw: httpx.AsyncClient) -> None:
    first = (await exchange(raw, await get_code(raw))).json()
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    resp = await raw.post("/oauth2/token", data=data, headers=basic())
    assert resp.status_code == 200
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]

    old = await raw.post("/oauth2/token", data=data, headers=basic())
    assert old.status_code == 400 and old.json() == {"error": "invalid_grant", "error_description": ANY_STR}
    assert sandbox.state.refresh_count == 2 and sandbox.state.refresh_success_count == 1

    newer = await raw.post(
        "/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, headers=basic()
    )
    assert newer.status_code == 200


class _AnyStr:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)


ANY_STR: Any = _AnyStr()


async def test_expired_access_token_gets_401(raw: httpx.AsyncClient, fake_clock: FakeClock) -> None:
    tokens = (await exchange(raw, await get_code(raw))).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await raw.get("/v1/pessoas/conta-conectada", headers=headers)).status_code == 200
    fake_clock.advance(3600)
    resp = await raw.get("/v1/pessoas/conta-conectada", headers=headers)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"
    assert "invalid_token" in resp.headers["www-authenticate"]
    assert (await raw.get("/v1/pessoas/conta-conectada")).status_code == 401
    assert (await raw.get("/v1/pessoas/conta-conectada", headers={"Authorization": "Bearer junk"})).status_code == 401


async def test_expire_all_and_revoke(sandbox: Sandbox, raw: httpx.AsyncClient) -> None:
    tokens = (await exchange(raw, await get_code(raw))).json()
    sandbox.expire_all_access_tokens()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await raw.get("/v1/pessoas/conta-conectada", headers=headers)).status_code == 401
    sandbox.revoke_refresh_tokens()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    resp = await raw.post("/oauth2/token", data=data, headers=basic())
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_pkce_s256_is_verified_when_a_challenge_was_sent(raw: httpx.AsyncClient) -> None:
    verifier = "v" * 43 + "-PKCE_verifier.with~allowed_chars"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert s256_challenge(verifier) == challenge  # RFC 7636 appendix B's transformation

    async def code_for(**pkce: str) -> str:
        page = await raw.get("/oauth2/authorize", params=authorize_params(**pkce))
        request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
        assert request_id, page.text
        resp = await raw.post("/oauth2/consent", data={"request_id": request_id.group(1), "decisao": "autorizar"})
        return parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]

    def with_verifier(code: str, value: str | None) -> dict[str, str]:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        return data | ({"code_verifier": value} if value is not None else {})

    code = await code_for(code_challenge=challenge, code_challenge_method="S256")
    for wrong in (None, "", verifier + "x"):
        refused = await raw.post("/oauth2/token", data=with_verifier(code, wrong), headers=basic())
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    accepted = await raw.post("/oauth2/token", data=with_verifier(code, verifier), headers=basic())
    assert accepted.status_code == 200 and accepted.json()["access_token"]

    # Without a challenge, a verifier sent anyway is harmless (a server that does not do PKCE ignores it).
    code = await code_for()
    assert (await raw.post("/oauth2/token", data=with_verifier(code, verifier), headers=basic())).status_code == 200

    # Only S256 is offered, and a challenge must look like one.
    for bad in ({"code_challenge": challenge, "code_challenge_method": "plain"}, {"code_challenge": "short"}):
        resp = await raw.get("/oauth2/authorize", params=authorize_params(**bad))
        assert resp.status_code == 302
        assert parse_qs(urlsplit(resp.headers["location"]).query)["error"] == ["invalid_request"]


async def test_revoking_a_connection_ends_every_token_of_the_company(sandbox: Sandbox, raw: httpx.AsyncClient) -> None:
    tokens = (await exchange(raw, await get_code(raw))).json()
    other = sandbox.issue_tokens()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    company = sandbox.state.company.id
    assert (await raw.delete(f"/oauth/connections/{company}")).status_code == 401  # the token names the app
    assert (await raw.delete("/oauth/connections/another-company", headers=bearer)).status_code == 404
    assert (await raw.delete(f"/oauth/connections/{company}", headers=bearer)).status_code == 204
    assert sandbox.state.revocation_count == 1
    assert (await raw.get("/v1/pessoas/conta-conectada", headers=bearer)).status_code == 401
    again = {"Authorization": f"Bearer {other.access_token}"}
    assert (await raw.get("/v1/pessoas/conta-conectada", headers=again)).status_code == 401
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert (await raw.post("/oauth2/token", data=data, headers=basic())).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("setting", "status"), [("failing", 502), ("absent", 404)])
async def test_the_revoke_endpoint_can_fail_or_be_absent(
    sandbox: Sandbox, raw: httpx.AsyncClient, setting: str, status: int
) -> None:
    token = sandbox.issue_tokens().access_token
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await raw.post("/_sandbox/faults", json={"action": "configure", "revoke_endpoint": setting})).is_success
    resp = await raw.delete(f"/oauth/connections/{sandbox.state.company.id}", headers=bearer)
    assert resp.status_code == status and sandbox.state.revocation_count == 0
    assert (await raw.get("/v1/pessoas/conta-conectada", headers=bearer)).status_code == 200  # nothing revoked
    state = (await raw.get("/_sandbox/state")).json()
    assert state["settings"]["revoke_endpoint"] == setting


async def test_held_requests_wait_until_released(
    sandbox: Sandbox, api: httpx.AsyncClient, raw: httpx.AsyncClient
) -> None:
    assert (await raw.post("/_sandbox/faults", json={"action": "hold"})).status_code == 400  # hold what?
    assert (await raw.post("/_sandbox/faults", json={"action": "hold", "path_prefix": "/v1/pessoas"})).is_success
    assert (await api.get("/v1/conta-financeira")).status_code == 200  # other paths answer at once
    held = asyncio.create_task(api.get("/v1/pessoas"))
    await asyncio.wait_for(sandbox.until_held(), 5)
    assert not held.done()
    assert (await raw.get("/_sandbox/state")).json()["faults"]["held_now"] == 1
    assert (await raw.post("/_sandbox/faults", json={"action": "release_held"})).is_success
    assert (await held).status_code == 200
    assert (await api.get("/v1/pessoas")).status_code == 200  # released: nothing is held any more


# --------------------------------------------------------------------------------------------------- lookups


async def test_financial_accounts(api: httpx.AsyncClient) -> None:
    resp = await api.get("/v1/conta-financeira", params={"pagina": 1, "tamanho_pagina": 10})
    data = resp.json()
    assert set(data) == {"itens_totais", "itens", "totais"}
    assert data["totais"] == {"ativo": 3, "inativo": 1, "todos": 4}
    itau = next(a for a in data["itens"] if a["id"] == ITAU)
    assert itau["conta_padrao"] is True and itau["tipo"] == "CONTA_CORRENTE" and itau["nome"] == ACCOUNT_ITAU
    assert set(itau) == {
        "id", "banco", "codigo_banco", "nome", "ativo", "tipo", "conta_padrao", "possui_config_boleto_bancario",
        "agencia", "numero",
    }  # fmt: skip
    active = (await api.get("/v1/conta-financeira", params={"apenas_ativo": "true"})).json()
    assert active["itens_totais"] == 3
    caixinha = (await api.get("/v1/conta-financeira", params={"tipos[]": "CAIXINHA"})).json()
    assert [a["nome"] for a in caixinha["itens"]] == [ACCOUNT_CAIXINHA]
    both = await api.get("/v1/conta-financeira", params=[("tipos", "CAIXINHA"), ("tipos", "RECEBA_FACIL_CARTAO")])
    assert both.json()["itens_totais"] == 2
    assert (await api.get("/v1/conta-financeira", params={"nome": "itau"})).json()["itens_totais"] == 1
    assert (await api.get("/v1/conta-financeira", params={"tamanho_pagina": 15})).status_code == 400
    assert (await api.get("/v1/conta-financeira", params={"tipos": "BANCO"})).status_code == 400
    page2 = (await api.get("/v1/conta-financeira", params={"pagina": 2, "tamanho_pagina": 10})).json()
    assert page2["itens"] == [] and page2["itens_totais"] == 4


async def test_categories(api: httpx.AsyncClient) -> None:
    base: dict[str, Any] = {"pagina": 1, "tamanho_pagina": 100, "permite_apenas_filhos": "false"}
    despesas = (await api.get("/v1/categorias", params={**base, "tipo": "DESPESA"})).json()
    assert set(despesas) == {"itens_totais", "itens", "totais"}
    assert despesas["itens_totais"] >= 15 and all(c["tipo"] == "DESPESA" for c in despesas["itens"])
    aluguel = next(c for c in despesas["itens"] if c["nome"] == "Aluguel")
    assert set(aluguel) == {"id", "versao", "nome", "categoria_pai", "tipo", "entrada_dre", "considera_custo_dre"}
    assert aluguel["categoria_pai"] == CATEGORY_IDS["Despesas Administrativas"]
    receitas = (await api.get("/v1/categorias", params={**base, "tipo": "RECEITA"})).json()
    assert {c["nome"] for c in receitas["itens"]} >= {"Vendas de Produtos", "Prestação de Serviços"}
    children = (await api.get("/v1/categorias", params={**base, "apenas_filhos": "true"})).json()
    assert all(c["categoria_pai"] for c in children["itens"])
    found = (await api.get("/v1/categorias", params={**base, "busca": "energia"})).json()
    assert [c["nome"] for c in found["itens"]] == ["Energia Elétrica"]
    ordered = (await api.get("/v1/categorias", params={**base, "campo_ordenado_ascendente": "NOME"})).json()
    assert ordered["itens"][0]["nome"] == "Água e Esgoto"
    assert (await api.get("/v1/categorias", params={**base, "tipo": "despesa"})).status_code == 400
    assert (await api.get("/v1/categorias", params={"pagina": 1, "tamanho_pagina": 10})).status_code == 400
    assert (await api.get("/v1/categorias", params={**base, "tamanho_pagina": 7})).status_code == 400
    post = await api.post("/v1/categorias", json={"nome": "Nova", "tipo": "DESPESA"})
    assert post.status_code == 405


async def test_cost_centers(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    params = {"pagina": 1, "tamanho_pagina": 10}
    data = (await api.get("/v1/centro-de-custo", params=params)).json()
    assert set(data) == {"itens_totais", "items", "totais"}
    assert data["totais"] == {"ativo": 4, "inativo": 1, "todos": 5}
    assert {"id", "codigo", "nome", "ativo"} == set(data["items"][0])
    active = (await api.get("/v1/centro-de-custo", params={**params, "filtro_rapido": "ATIVO"})).json()
    assert active["itens_totais"] == 4 and all(c["ativo"] for c in active["items"])
    inactive = (await api.get("/v1/centro-de-custo", params={**params, "filtro_rapido": "INATIVO"})).json()
    assert [c["nome"] for c in inactive["items"]] == ["Loja Shopping (encerrada)"]
    assert (await api.get("/v1/centro-de-custo", params={**params, "busca": "produ"})).json()["itens_totais"] == 1
    assert (await api.get("/v1/centro-de-custo")).status_code == 400

    sandbox.state.cost_center_list_key = "itens"
    observed = (await api.get("/v1/centro-de-custo", params=params)).json()
    assert "itens" in observed and "items" not in observed

    created = await api.post("/v1/centro-de-custo", json={"nome": "Delivery", "codigo": "06"})
    assert created.status_code == 200
    assert created.json() == {"id": ANY_STR, "codigo": "06", "nome": "Delivery", "ativo": True}
    no_code = await api.post("/v1/centro-de-custo", json={"nome": "Eventos"})
    assert no_code.status_code == 200 and no_code.json()["codigo"] is None
    dup = await api.post("/v1/centro-de-custo", json={"nome": "delivery"})
    assert dup.status_code == 400 and "message" in dup.json()
    assert (await api.post("/v1/centro-de-custo", json={"codigo": "9"})).status_code == 400
    assert (await api.get("/v1/centro-de-custo", params=params)).json()["itens_totais"] == 7


async def test_people_search(api: httpx.AsyncClient) -> None:
    data = (await api.get("/v1/pessoas", params={"busca": "moinho", "tipo_perfil": "Fornecedor"})).json()
    assert set(data) == {"items", "totalItems"}
    assert data["totalItems"] == 1
    moinho = data["items"][0]
    assert moinho["id"] == MOINHO and moinho["perfis"] == ["FORNECEDOR"] and moinho["tipo_pessoa"] == "JURIDICA"
    assert {"id", "id_legado", "uuid_legado", "nome", "documento", "email", "telefone", "tipo_pessoa", "perfis",
            "ativo", "data_criacao", "data_alteracao", "endereco"} <= set(moinho)  # fmt: skip

    doc = PERSON_DOCUMENTS["Moinho Anaconda Ltda"]
    digits = re.sub(r"\D", "", doc)
    for value in (doc, digits):
        by_doc = (await api.get("/v1/pessoas", params={"documentos": value})).json()
        assert [p["id"] for p in by_doc["items"]] == [MOINHO], value
    assert (await api.get("/v1/pessoas", params={"busca": digits[:8]})).json()["items"][0]["id"] == MOINHO

    customers = (await api.get("/v1/pessoas", params={"tipo_perfil": "Cliente", "tamanho_pagina": 100})).json()
    assert customers["totalItems"] == 4 and all("CLIENTE" in p["perfis"] for p in customers["items"])
    assert (await api.get("/v1/pessoas", params={"tipo_perfil": "FORNECEDOR"})).status_code == 400
    fisicas = (await api.get("/v1/pessoas", params={"tipos_pessoa": "Física", "tamanho_pagina": 100})).json()
    assert {p["tipo_pessoa"] for p in fisicas["items"]} == {"FISICA"}
    by_name = (await api.get("/v1/pessoas", params={"nomes": "Papelaria Central"})).json()
    assert by_name["totalItems"] == 1
    paged = (await api.get("/v1/pessoas", params={"pagina": 2, "tamanho_pagina": 10})).json()
    assert paged["totalItems"] == 15 and len(paged["items"]) == 5

    one = await api.get(f"/v1/pessoas/{MOINHO}")
    assert one.status_code == 200 and one.json()["documento"] == doc and "enderecos" in one.json()
    missing = await api.get("/v1/pessoas/6f1c2a1e-0000-4000-8000-000000000000")
    assert missing.status_code == 404


async def test_people_create(api: httpx.AsyncClient) -> None:
    cnpj = make_cnpj("998877660001")
    body = {
        "nome": "Embalagens Paulista Ltda",
        "tipo_pessoa": "Jurídica",
        "cnpj": cnpj,
        "perfis": [{"tipo_perfil": "Fornecedor"}],
        "email": "fin@embalagens.com.br",
    }
    resp = await api.post("/v1/pessoas", json=body)
    assert resp.status_code == 201
    person = resp.json()
    assert person["id"] and person["documento"] == cnpj and person["perfis"] == ["FORNECEDOR"]
    assert (await api.get(f"/v1/pessoas/{person['id']}")).json()["nome"] == "Embalagens Paulista Ltda"

    dup = await api.post("/v1/pessoas", json={**body, "cnpj": re.sub(r"\D", "", cnpj)})
    assert dup.status_code == 400 and "documento" in dup.json()["message"]

    for tipo in ("JURIDICA", "Juridica", "jurídica", "PJ"):
        bad = await api.post("/v1/pessoas", json={**body, "tipo_pessoa": tipo, "cnpj": make_cnpj("998877660002")})
        assert bad.status_code == 400, tipo
    checks: list[dict[str, Any]] = [
        {"cnpj": "99.887.766/0001-00"},
        {"nome": "x" * 201, "cnpj": None},
        {"nome": "", "cnpj": None},
        {"perfis": [{"tipo_perfil": "FORNECEDOR"}], "cnpj": None},
        {"tipo_pessoa": "Física", "cpf": "123.456.789-00", "cnpj": None},
        {"tipo_pessoa": "Física", "cnpj": make_cnpj("998877660003")},
    ]
    for over in checks:
        assert (await api.post("/v1/pessoas", json={**body, **over})).status_code == 400, over

    alnum = await api.post("/v1/pessoas", json={**body, "nome": "Nova Era", "cnpj": make_cnpj("AB12CD340001")})
    assert alnum.status_code == 201
    cpf = await api.post(
        "/v1/pessoas",
        json={
            "nome": "Ana Lima",
            "tipo_pessoa": "Física",
            "cpf": "52998224725",
            "perfis": [{"tipo_perfil": "Cliente"}],
        },
    )
    assert cpf.status_code == 201 and cpf.json()["documento"] == "529.982.247-25"
    assert cpf.json()["tipo_pessoa"] == "FISICA" and cpf.json()["perfis"] == ["CLIENTE"]

    patched = await api.patch(
        f"/v1/pessoas/{cpf.json()['id']}", json={"perfis": [{"tipo_perfil": "Cliente"}, {"tipo_perfil": "Fornecedor"}]}
    )
    assert patched.status_code == 204
    assert (await api.get(f"/v1/pessoas/{cpf.json()['id']}")).json()["perfis"] == ["CLIENTE", "FORNECEDOR"]


# --------------------------------------------------------------------------------------------------- entries


async def test_sync_payable_created_and_readable(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    resp = await api.post("/v1/financeiro/contas-a-pagar", json=payable("sync"))
    assert resp.status_code == 201
    entry = resp.json()
    assert entry["id"] and entry["referencia_externa"] == "APROVA-000123" and entry["id_fornecedor"] == MOINHO
    assert len(entry["parcelas"]) == 1 and entry["parcelas"][0]["id"]
    assert sandbox.state.events[entry["id"]].referencia_externa == "APROVA-000123"

    parcelas = (await api.get(f"{FINANCE}/{entry['id']}/parcelas")).json()
    assert [p["id"] for p in parcelas] == [entry["parcelas"][0]["id"]]
    assert parcelas[0]["evento"]["tipo"] == "DESPESA" and parcelas[0]["status"] == "PENDENTE"
    legacy = sandbox.state.events[entry["id"]].id_legado
    assert (await api.get(f"{FINANCE}/{legacy}/parcelas")).json()[0]["id"] == parcelas[0]["id"]

    found = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params(descricao="moinho"))).json()
    assert set(found) == {"itens_totais", "itens", "totais"} and found["itens_totais"] == 1
    item = found["itens"][0]
    assert item["fornecedor"] == {"id": MOINHO, "nome": "Moinho Anaconda Ltda"}
    assert item["status_traduzido"] == "EM_ABERTO" and item["total"] == 1500.0 and item["pago"] == 0
    assert {c["nome"] for c in item["centros_custo"]} == {"Produção", "Loja Centro"}
    assert item["categorias"] == [{"id": CATEGORY_IDS["Matéria-Prima"], "nome": "Matéria-Prima"}]
    expected_keys = {
        "id", "descricao", "data_vencimento", "status", "status_traduzido", "total", "nao_pago", "pago",
        "data_criacao", "data_alteracao", "data_competencia", "categorias", "centros_custo", "fornecedor",
    }  # fmt: skip
    assert set(item) == expected_keys
    receber = (await api.get(f"{FINANCE}/contas-a-receber/buscar", params=search_params())).json()
    assert receber["itens_totais"] == 0


async def test_sync_receivable(api: httpx.AsyncClient) -> None:
    resp = await api.post("/v1/financeiro/contas-a-receber", json=receivable("sync"))
    assert resp.status_code == 201 and resp.json()["id_cliente"] == MERCADO
    # The receivable route wants id_cliente, not the supplier/contato keys.
    wrong = await api.post("/v1/financeiro/contas-a-receber", json={**receivable("sync"), "id_cliente": None})
    assert wrong.status_code == 400 and "id_cliente" in wrong.json()["message"]
    found = (await api.get(f"{FINANCE}/contas-a-receber/buscar", params=search_params())).json()
    assert found["itens"][0]["cliente"] == {"id": MERCADO, "nome": "Mercado Bom Preço Ltda"}


def _parcela(body: dict[str, Any], **over: Any) -> dict[str, Any]:
    body["condicao_pagamento"]["parcelas"][0].update(over)
    return body


def _no_detalhe(key: str | None) -> dict[str, Any]:
    body = payable("sync")
    parcela = body["condicao_pagamento"]["parcelas"][0]
    detalhe = parcela.pop("detalhe_valor")
    if key:
        parcela[key] = detalhe
    return body


INVALID_SYNC: list[tuple[str, dict[str, Any], str]] = [
    ("valor differs from rateio", payable("sync", valor=1400.0), "rateio"),
    ("zero valor", payable("sync", valor=0), "valor"),
    ("valor as text", payable("sync", valor="1500.00"), "valor"),
    ("missing descricao", payable("sync", descricao=None), "descricao"),
    ("contato instead of id_fornecedor", payable("sync", id_fornecedor=None, contato=MOINHO), "id_fornecedor"),
    ("unknown supplier", payable("sync", id_fornecedor="0b7f8a9e-1111-4222-8333-444455556666"), "id_fornecedor"),
    ("supplier not a uuid", payable("sync", id_fornecedor="42"), "uuid"),
    ("unknown account", payable("sync", conta_financeira="0b7f8a9e-1111-4222-8333-444455556666"), "conta_financeira"),
    ("receba facil", payable("sync", conta_financeira=ACCOUNT_IDS[ACCOUNT_RECEBA_FACIL]), "Receba Fácil"),
    ("bad competencia", payable("sync", data_competencia="01/09/2026"), "data_competencia"),
    ("no rateio", payable("sync", rateio=[]), "rateio"),
    (
        "receita category",
        payable("sync", rateio=[{"id_categoria": CATEGORY_IDS["Vendas de Produtos"], "valor": 1500.0}]),
        "RECEITA",
    ),
    (
        "unknown category",
        payable("sync", rateio=[{"id_categoria": "0b7f8a9e-1111-4222-8333-444455556666", "valor": 1500.0}]),
        "Categoria",
    ),
    (
        "cost split differs",
        payable(
            "sync",
            rateio=[
                {
                    "id_categoria": CATEGORY_IDS["Matéria-Prima"],
                    "valor": 1500.0,
                    "rateio_centro_custo": [{"id_centro_custo": COST_CENTER_IDS["Produção"], "valor": 1000.0}],
                }
            ],
        ),
        "centros de custo",
    ),
    (
        "unknown cost center",
        payable(
            "sync",
            rateio=[
                {
                    "id_categoria": CATEGORY_IDS["Matéria-Prima"],
                    "valor": 1500.0,
                    "rateio_centro_custo": [{"id_centro_custo": CATEGORY_IDS["Aluguel"], "valor": 1500.0}],
                }
            ],
        ),
        "Centro de custo",
    ),
    (
        "wrong cost center key",
        payable(
            "sync",
            rateio=[
                {
                    "id_categoria": CATEGORY_IDS["Matéria-Prima"],
                    "valor": 1500.0,
                    "rateio_centro_custo": [{"id_centro_de_custo": COST_CENTER_IDS["Produção"], "valor": 1500.0}],
                }
            ],
        ),
        "id_centro_custo",
    ),
    ("missing detalhe_valor", _no_detalhe(None), "A composição de valor é obrigatória"),
    ("composicao_valor", _no_detalhe("composicao_valor"), "A composição de valor é obrigatória"),
    ("valor_composicao", _no_detalhe("valor_composicao"), "A composição de valor é obrigatória"),
    (
        "parcelas sum",
        _parcela(payable("sync"), detalhe_valor={"valor_bruto": 1000.0, "valor_liquido": 1000.0}),
        "parcelas",
    ),
    # Optional in the spec, refused without it in practice.
    ("no valor_liquido", _parcela(payable("sync"), detalhe_valor={"valor_bruto": 1500.0}), "O valor líquido"),
    ("bad due date", _parcela(payable("sync"), data_vencimento="2026-02-30"), "data_vencimento"),
    ("bad metodo", _parcela(payable("sync"), metodo_pagamento="PIX"), "metodo_pagamento"),
    ("no parcelas", payable("sync", condicao_pagamento={"parcelas": []}), "parcela"),
]


@pytest.mark.parametrize(("case", "body", "fragment"), INVALID_SYNC, ids=[c[0] for c in INVALID_SYNC])
async def test_sync_validation(
    sandbox: Sandbox, api: httpx.AsyncClient, case: str, body: dict[str, Any], fragment: str
):
    resp = await api.post("/v1/financeiro/contas-a-pagar", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()
    assert set(error) == {"code", "error", "message"} and fragment in error["message"], error
    assert sandbox.state.events == {}


async def test_exact_composition_message(api: httpx.AsyncClient) -> None:
    resp = await api.post("/v1/financeiro/contas-a-pagar", json=_no_detalhe("composicao_valor"))
    assert resp.json()["message"] == "valor da parcela: A composição de valor é obrigatória."


async def test_installments_and_cents(api: httpx.AsyncClient) -> None:
    body = payable("sync", valor=100.1)
    body["rateio"] = [
        {"id_categoria": CATEGORY_IDS["Aluguel"], "valor": 33.37},
        {"id_categoria": CATEGORY_IDS["Energia Elétrica"], "valor": 66.73},
    ]
    template = body["condicao_pagamento"]["parcelas"][0]
    body["condicao_pagamento"]["parcelas"] = [
        {
            **template,
            "descricao": f"Conta ({i}/2)",
            "data_vencimento": due,
            "detalhe_valor": {"valor_bruto": 50.05, "valor_liquido": 50.05},
        }
        for i, due in ((1, "2026-09-10"), (2, "2026-10-10"))
    ]
    resp = await api.post("/v1/financeiro/contas-a-pagar", json=body)
    assert resp.status_code == 201, resp.text
    assert [p["descricao"] for p in resp.json()["parcelas"]] == ["Conta (1/2)", "Conta (2/2)"]
    september = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params())).json()
    assert september["itens_totais"] == 1 and september["itens"][0]["total"] == 50.05


async def test_async_payable_resolves_via_protocol(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    resp = await api.post(f"{FINANCE}/contas-a-pagar", json=payable())
    assert resp.status_code == 202
    accepted = resp.json()
    assert set(accepted) == {"protocolo", "status", "data_criacao"} and accepted["status"] == "PENDING"
    assert sandbox.state.events == {}  # nothing exists until the protocol is processed

    protocol = (await api.get(f"/v1/protocolo/{accepted['protocolo']}")).json()
    assert protocol["status"] == "SUCCESS" and protocol["id"] == accepted["protocolo"]
    assert set(protocol) == {"id", "resposta", "status", "evento_financeiro_id"}
    event_id = protocol["evento_financeiro_id"]
    parcelas = (await api.get(f"{FINANCE}/{event_id}/parcelas")).json()
    assert parcelas[0]["evento"]["referencia"]["id"] == accepted["protocolo"]
    assert parcelas[0]["evento"]["referencia"]["origem"] == "LANCAMENTO_FINANCEIRO"

    # Fallback path of the reference: buscar by due date, then open the installment and match referencia.id.
    found = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params())).json()
    assert found["itens"][0]["fornecedor"]["id"] == MOINHO
    one = (await api.get(f"{FINANCE}/parcelas/{found['itens'][0]['id']}")).json()
    assert one["evento"]["referencia"]["id"] == accepted["protocolo"] and one["evento"]["id"] == event_id
    assert one["valor_composicao"]["valor_bruto"] == 1500.0
    missing = await api.get(f"{FINANCE}/parcelas/0b7f8a9e-1111-4222-8333-444455556666")
    assert missing.status_code == 404


async def test_async_receivable_and_old_protocol_keys(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.state.protocol_key_style = "old"
    resp = await api.post(f"{FINANCE}/contas-a-receber", json=receivable())
    assert resp.status_code == 202 and set(resp.json()) == {"protocolId", "status", "createdAt"}
    protocol = (await api.get(f"/v1/protocolo/{resp.json()['protocolId']}")).json()
    assert protocol["status"] == "SUCCESS"
    found = (await api.get(f"{FINANCE}/contas-a-receber/buscar", params=search_params())).json()
    assert found["itens"][0]["cliente"]["id"] == MERCADO


async def test_async_invalid_body_ends_in_error(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    body = payable(rateio=[{"id_categoria": "0b7f8a9e-1111-4222-8333-444455556666", "valor": 1500.0}])
    resp = await api.post(f"{FINANCE}/contas-a-pagar", json=body)
    assert resp.status_code == 202
    protocol = (await api.get(f"/v1/protocolo/{resp.json()['protocolo']}")).json()
    assert protocol["status"] == "ERROR" and "Categoria" in protocol["resposta"]
    assert protocol["evento_financeiro_id"] is None and sandbox.state.events == {}
    # The async route requires nota and observacao (spec), unlike the sync route.
    no_nota = _parcela(payable(), nota=None)
    resp = await api.post(f"{FINANCE}/contas-a-pagar", json=no_nota)
    assert (await api.get(f"/v1/protocolo/{resp.json()['protocolo']}")).json()["status"] == "ERROR"
    assert (await api.post(f"{FINANCE}/contas-a-pagar", content=b"{not json")).status_code == 400


async def test_protocol_delay_and_unknown(sandbox: Sandbox, api: httpx.AsyncClient, fake_clock: FakeClock) -> None:
    sandbox.state.protocol_delay_seconds = 5
    protocolo = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    assert (await api.get(f"/v1/protocolo/{protocolo}")).json()["status"] == "PENDING"
    fake_clock.advance(5)
    assert (await api.get(f"/v1/protocolo/{protocolo}")).json()["status"] == "SUCCESS"
    assert (await api.get("/v1/protocolo/0b7f8a9e-1111-4222-8333-444455556666")).status_code == 404


async def test_search_parameters(sandbox: Sandbox, api: httpx.AsyncClient, fake_clock: FakeClock) -> None:
    url = f"{FINANCE}/contas-a-pagar/buscar"
    for missing in ("pagina", "tamanho_pagina", "data_vencimento_de", "data_vencimento_ate"):
        params = search_params()
        del params[missing]
        assert (await api.get(url, params=params)).status_code == 400, missing
    assert (await api.post("/v1/financeiro/contas-a-pagar", json=payable("sync"))).status_code == 201
    assert (await api.get(url, params=search_params(status="EM_ABERTO"))).json()["itens_totais"] == 1
    assert (await api.get(url, params=search_params(status="ATRASADO"))).json()["itens_totais"] == 0
    both = [*search_params().items(), ("status", "ATRASADO"), ("status", "EM_ABERTO")]
    assert (await api.get(url, params=both)).json()["itens_totais"] == 1
    assert (await api.get(url, params=search_params(status="OPEN"))).status_code == 400
    assert (await api.get(url, params=search_params(valor_de="1500.00"))).json()["itens_totais"] == 1
    assert (await api.get(url, params=search_params(valor_ate="1499.99"))).json()["itens_totais"] == 0
    assert (await api.get(url, params=search_params(valor_de="abc"))).status_code == 400
    assert (await api.get(url, params=search_params(descricao="NADA"))).json()["itens_totais"] == 0
    fake_clock.advance(40 * 86400)  # past the due date (and past the token's lifetime)
    api.headers["Authorization"] = f"Bearer {sandbox.issue_tokens().access_token}"
    late = (await api.get(url, params=search_params(status="ATRASADO"))).json()
    assert late["itens"][0]["status_traduzido"] == "ATRASADO" and late["itens"][0]["status"] == "OVERDUE"


# ------------------------------------------------------------------------------------------- rate limit & faults


async def test_rate_limit_per_second_and_minute(
    sandbox: Sandbox, api: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    sandbox.state.rate_limit_per_second = 10
    sandbox.state.rate_limit_per_minute = 600
    statuses = [(await api.get("/v1/pessoas/conta-conectada")).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    limited = await api.get("/v1/pessoas/conta-conectada")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1" and limited.json()["code"] == 429
    fake_clock.advance(1)
    assert (await api.get("/v1/pessoas/conta-conectada")).status_code == 200

    sandbox.state.rate_limit_per_second = None
    sandbox.state.rate_limit_per_minute = 11  # 11 calls already in the last minute
    fake_clock.advance(10)
    limited = await api.get("/v1/pessoas/conta-conectada")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "49"
    fake_clock.advance(60)
    assert (await api.get("/v1/pessoas/conta-conectada")).status_code == 200
    assert len(sandbox.state.api_calls()) == 15
    assert [r.status for r in sandbox.state.api_calls()].count(429) == 3


async def test_fail_next_statuses_and_prefix(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.fail_next(1, 503, path_prefix="/v1/pessoas")
    assert (await api.get("/v1/conta-financeira")).status_code == 200  # other paths untouched
    assert (await api.get("/v1/pessoas")).status_code == 503
    assert (await api.get("/v1/pessoas")).status_code == 200
    sandbox.fail_next(2)
    assert [(await api.get("/v1/pessoas")).status_code for _ in range(3)] == [500, 500, 200]
    sandbox.fail_next(1, 429, retry_after=7)
    resp = await api.get("/v1/pessoas")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert [r.status for r in sandbox.state.request_log][-1] == 429


async def test_slow_next(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.slow_next(1, 0.2, path_prefix="/v1/pessoas")
    with pytest.raises(httpx.ReadTimeout):
        await api.get("/v1/pessoas", timeout=0.05)
    assert (await api.get("/v1/pessoas", timeout=1)).status_code == 200


async def test_drop_next(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        await api.get("/v1/pessoas")
    assert (await api.get("/v1/pessoas")).status_code == 200
    assert [r.status for r in sandbox.state.request_log] == [0, 200]


async def test_create_then_fail(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.create_then_fail_next(1)
    resp = await api.post("/v1/financeiro/contas-a-pagar", json=payable("sync"))
    assert resp.status_code == 500
    assert len(sandbox.state.events) == 1  # created anyway: the client must look before re-posting
    found = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params(descricao="NF 4521"))).json()
    assert found["itens_totais"] == 1

    sandbox.create_then_fail_next(1, mode="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post(f"{FINANCE}/contas-a-pagar", json=payable())
    assert len(sandbox.state.protocols) == 1
    found = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params(descricao="NF 4521"))).json()
    assert found["itens_totais"] == 2

    # Validation failures do not consume the fault.
    sandbox.create_then_fail_next(1)
    assert (await api.post("/v1/pessoas", json={"nome": "X", "tipo_pessoa": "PJ"})).status_code == 400
    resp = await api.post("/v1/pessoas", json={"nome": "Padaria Irmã Ltda", "tipo_pessoa": "Jurídica"})
    assert resp.status_code == 500
    assert (await api.get("/v1/pessoas", params={"busca": "Irmã"})).json()["totalItems"] == 1


async def test_protocol_faults(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.protocols_stay_pending(True)
    protocolo = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    assert (await api.get(f"/v1/protocolo/{protocolo}")).json()["status"] == "PENDING"
    assert (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params())).json()["itens_totais"] == 0
    sandbox.protocols_stay_pending(False)
    assert (await api.get(f"/v1/protocolo/{protocolo}")).json()["status"] == "SUCCESS"

    sandbox.protocols_error_next(1)
    failed = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    ok = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    assert (await api.get(f"/v1/protocolo/{failed}")).json()["status"] == "ERROR"
    assert (await api.get(f"/v1/protocolo/{ok}")).json()["status"] == "SUCCESS"
    assert len(sandbox.state.events) == 2


async def test_control_endpoint(sandbox: Sandbox, api: httpx.AsyncClient, raw: httpx.AsyncClient) -> None:
    actions = [
        {"action": "fail_next", "n": 1, "status": 503, "path_prefix": "/v1/categorias"},
        {"action": "configure", "cost_center_list_key": "itens", "protocol_key_style": "old"},
    ]
    resp = await raw.post("/_sandbox/faults", json=actions)
    assert resp.status_code == 200 and resp.json()["ok"] is True
    params: dict[str, Any] = {"pagina": 1, "tamanho_pagina": 10, "permite_apenas_filhos": "false"}
    assert (await api.get("/v1/categorias", params=params)).status_code == 503
    assert "itens" in (await api.get("/v1/centro-de-custo", params={"pagina": 1, "tamanho_pagina": 10})).json()

    await raw.post("/_sandbox/faults", json={"action": "slow_next", "n": 1, "seconds": 0.01})
    await raw.post("/_sandbox/faults", json={"action": "drop_next", "n": 1, "path_prefix": "/v1/pessoas"})
    await raw.post("/_sandbox/faults", json={"action": "create_then_fail_next", "n": 1, "mode": "error"})
    await raw.post("/_sandbox/faults", json={"action": "protocols_error_next", "n": 1})
    await raw.post("/_sandbox/faults", json={"action": "protocols_stay_pending", "value": False})
    assert sandbox.state.faults.protocols_error_remaining == 1 and sandbox.state.faults.create_then_fail == ["error"]
    with pytest.raises(httpx.RemoteProtocolError):
        await api.get("/v1/pessoas")
    await raw.post("/_sandbox/faults", json={"action": "clear_faults"})
    assert sandbox.state.faults.summary()["rules"] == []

    await raw.post("/_sandbox/faults", json={"action": "expire_all_access_tokens"})
    assert (await api.get("/v1/pessoas")).status_code == 401
    refresh = sandbox.issue_tokens().refresh_token
    await raw.post("/_sandbox/faults", json={"action": "revoke_refresh_tokens"})
    data = {"grant_type": "refresh_token", "refresh_token": refresh}
    assert (await raw.post("/oauth2/token", data=data, headers=basic())).json()["error"] == "invalid_grant"

    for bad in (
        {"action": "explode"},
        {"action": "fail_next", "status": 200},
        {"n": 1},
        {"action": "configure", "x": 1},
    ):
        assert (await raw.post("/_sandbox/faults", json=bad)).status_code == 400, bad

    state = (await raw.get("/_sandbox/state")).json()
    assert state["people"] == 15 and state["cost_centers"] == 5 and state["entries"] == 0
    assert state["requests"] == len(sandbox.state.request_log) > 0
    assert state["settings"]["cost_center_list_key"] == "itens"


async def test_state_file_survives_restart(tmp_path: Any, fake_clock: FakeClock) -> None:
    path = str(tmp_path / "sandbox.json")
    async with Sandbox(clock=fake_clock, state_file=path) as sb, httpx.AsyncClient(base_url=sb.base_url) as raw:
        tokens = sb.issue_tokens()
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        resp = await raw.post("/v1/financeiro/contas-a-pagar", json=payable("sync"), headers=headers)
        assert resp.status_code == 201
        entry_id = resp.json()["id"]
    snapshot = json.loads((tmp_path / "sandbox.json").read_text(encoding="utf-8"))
    assert len(snapshot["events"]) == 1
    async with Sandbox(clock=fake_clock, state_file=path) as sb, httpx.AsyncClient(base_url=sb.base_url) as raw:
        assert entry_id in sb.state.events
        parcelas = await raw.get(f"{FINANCE}/{entry_id}/parcelas", headers=headers)
        assert parcelas.status_code == 200 and len(parcelas.json()) == 1
        data = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        assert (await raw.post("/oauth2/token", data=data, headers=basic())).status_code == 200


# ------------------------------------------------------------------------- behaviours reported of the live API


@pytest.mark.parametrize("status", [404, 405])
async def test_sync_route_missing(sandbox: Sandbox, api: httpx.AsyncClient, raw: httpx.AsyncClient, status: int):
    resp = await raw.post("/_sandbox/faults", json={"action": "configure", "sync_route_missing": status})
    assert resp.status_code == 200
    for path, body in (("/v1/financeiro/contas-a-pagar", payable("sync")), ("/v1/financeiro/contas-a-receber", {})):
        missing = await api.post(path, json=body)
        assert missing.status_code == status and missing.json()["code"] == status
    assert sandbox.state.events == {}  # refused whole: nothing created
    assert (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).status_code == 202  # the async route stays
    assert (await raw.get("/_sandbox/state")).json()["settings"]["sync_route_missing"] == status
    bad = await raw.post("/_sandbox/faults", json={"action": "configure", "sync_route_missing": 500})
    assert bad.status_code == 400


async def test_discarded_protocol_stays_pending_and_creates_nothing(
    sandbox: Sandbox, api: httpx.AsyncClient, raw: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    await raw.post("/_sandbox/faults", json={"action": "discard_protocols_next", "n": 1})
    dropped = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    kept = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    sandbox.protocols_stay_pending(False)
    fake_clock.advance(3600)
    api.headers["Authorization"] = f"Bearer {sandbox.issue_tokens().access_token}"
    assert (await api.get(f"/v1/protocolo/{dropped}")).json()["status"] == "PENDING"
    assert (await api.get(f"/v1/protocolo/{kept}")).json()["status"] == "SUCCESS"
    assert len(sandbox.state.events) == 1
    sandbox.discard_protocols_next(2)
    assert sandbox.state.faults.summary()["protocols_discard_remaining"] == 2
    sandbox.clear_faults()
    assert sandbox.state.faults.protocols_discard_remaining == 0


async def test_protocol_endpoint_missing(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.control({"action": "configure", "protocol_endpoint_missing": True})
    protocolo = (await api.post(f"{FINANCE}/contas-a-pagar", json=payable())).json()["protocolo"]
    assert (await api.get(f"/v1/protocolo/{protocolo}")).status_code == 404
    # The entry exists all the same, and its installment still says which protocol made it.
    [installment] = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params())).json()["itens"]
    detail = (await api.get(f"{FINANCE}/parcelas/{installment['id']}")).json()
    assert detail["evento"]["referencia"]["id"] == protocolo


async def test_people_search_default_person_type(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.control({"action": "configure", "pessoas_default_tipos_pessoa": "Física"})
    digits = re.sub(r"\D", "", PERSON_DOCUMENTS["Moinho Anaconda Ltda"])
    hidden = (await api.get("/v1/pessoas", params={"documentos": digits, "tipo_perfil": "Fornecedor"})).json()
    assert hidden["items"] == []  # a company, hidden by the default applied to a search without tipos_pessoa
    params = {"documentos": digits, "tipo_perfil": "Fornecedor", "tipos_pessoa": "Jurídica"}
    assert [p["id"] for p in (await api.get("/v1/pessoas", params=params)).json()["items"]] == [MOINHO]
    everyone = (await api.get("/v1/pessoas", params={"tamanho_pagina": 100})).json()["items"]
    assert {p["tipo_pessoa"] for p in everyone} == {"FISICA"}
    bad = {"action": "configure", "pessoas_default_tipos_pessoa": "Fisica"}
    with pytest.raises(Exception, match="Configuração inválida"):
        sandbox.control(bad)


async def test_429_without_retry_after(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.control({"action": "configure", "retry_after_on_429": False})
    sandbox.fail_next(1, 429, retry_after=7)
    throttled = await api.get("/v1/pessoas")
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    sandbox.state.rate_limit_per_second = 1
    assert (await api.get("/v1/pessoas")).status_code == 200
    limited = await api.get("/v1/pessoas")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers


async def test_async_route_answers_malformed_bodies_at_once(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.control({"action": "configure", "async_rejects_malformed": True})
    no_net = _parcela(payable(), detalhe_valor={"valor_bruto": 1500.0})
    refused = await api.post(f"{FINANCE}/contas-a-pagar", json=no_net)
    assert (
        refused.status_code == 400 and refused.json()["message"] == "valor da parcela: O valor líquido é obrigatório."
    )
    no_observacao = await api.post(f"{FINANCE}/contas-a-receber", json={**receivable(), "observacao": None})
    assert no_observacao.status_code == 400 and "observacao" in no_observacao.json()["message"]
    assert sandbox.state.protocols == {}
    # An id the company does not have is still only reported by the protocol.
    unknown = payable(rateio=[{"id_categoria": "0b7f8a9e-1111-4222-8333-444455556666", "valor": 1500.0}])
    accepted = await api.post(f"{FINANCE}/contas-a-pagar", json=unknown)
    assert accepted.status_code == 202
    protocol = (await api.get(f"/v1/protocolo/{accepted.json()['protocolo']}")).json()
    assert protocol["status"] == "ERROR" and "Categoria" in protocol["resposta"]
    # Without the switch, a malformed body too is accepted and fails in its protocol.
    sandbox.control({"action": "configure", "async_rejects_malformed": False})
    later = await api.post(f"{FINANCE}/contas-a-pagar", json=no_net)
    assert later.status_code == 202
    assert (await api.get(f"/v1/protocolo/{later.json()['protocolo']}")).json()["status"] == "ERROR"


async def test_created_answer_without_id_and_counterparty_ignored(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.control({"action": "configure", "created_answer_without_id": True, "counterparty_ignored": True})
    created = await api.post("/v1/financeiro/contas-a-pagar", json=payable("sync"))
    assert created.status_code == 201 and "id" not in created.json()
    accepted = await api.post(f"{FINANCE}/contas-a-pagar", json=payable())
    assert accepted.status_code == 202 and set(accepted.json()) == {"status"}
    found = (await api.get(f"{FINANCE}/contas-a-pagar/buscar", params=search_params())).json()
    assert [item["fornecedor"] for item in found["itens"]] == [{"id": None, "nome": None}] * 2
    assert len(sandbox.state.events) == 2 and {e.contato_id for e in sandbox.state.events.values()} == {None}
