"""Pure request/response mapping of the Conta Azul client, plus wire-format checks over httpx.MockTransport."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ledger.clock import FixedClock
from ledger.contaazul.client import ContaAzulClient
from ledger.contaazul.limits import LookupCache, RateLimiter
from ledger.contaazul.models import Counterparty, EntryDraft
from ledger.contaazul.oauth import OAuthConfig, TokenEndpoint
from ledger.contaazul.transport import StaticTokenSource
from ledger.contaazul.wire import (
    carries_reference,
    dumps,
    entry_description,
    error_message,
    format_document,
    loads,
    parse_cost_center,
    parse_created,
    parse_entry_summary,
    parse_installment_detail,
    parse_page,
    parse_person,
    parse_protocol,
    parse_retry_after,
    payable_body_async,
    payable_body_sync,
    person_body,
    person_type,
    receivable_body_async,
    receivable_body_sync,
    reported_counterparty,
)
from ledger.errors import OAuthGrantError, PermanentGatewayError, RetryableGatewayError
from ledger.names import document_digits, name_key

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def draft(**changes: Any) -> EntryDraft:
    values: dict[str, Any] = {
        "description": "Conta de luz novembro",
        "amount": Decimal("1234.56"),
        "competence_date": date(2026, 11, 1),
        "due_date": date(2026, 12, 10),
        "person_id": "p-1",
        "account_id": "acc-1",
        "category_id": "cat-1",
        "cost_center_id": "cc-1",
        "payment_method": "BOLETO_BANCARIO",
        "external_reference": "PAG-2026-000123",
    }
    values.update(changes)
    return EntryDraft(**values)


# --------------------------------------------------------------------------- bodies


def test_sync_payable_body_maps_every_field() -> None:
    body = payable_body_sync(draft(notes="Linha digitável 123"))
    assert body == {
        "descricao": "Conta de luz novembro [PAG-2026-000123]",
        "data_competencia": "2026-11-01",
        "valor": Decimal("1234.56"),
        "conta_financeira": "acc-1",
        "id_fornecedor": "p-1",
        "observacao": "Linha digitável 123",
        "referencia_externa": "PAG-2026-000123",
        "rateio": [
            {
                "id_categoria": "cat-1",
                "valor": Decimal("1234.56"),
                "rateio_centro_custo": [{"id_centro_custo": "cc-1", "valor": Decimal("1234.56")}],
            }
        ],
        "condicao_pagamento": {
            "parcelas": [
                {
                    "descricao": "Conta de luz novembro [PAG-2026-000123]",
                    "data_vencimento": "2026-12-10",
                    "nota": "Linha digitável 123",
                    "conta_financeira": "acc-1",
                    "detalhe_valor": {
                        "valor_bruto": Decimal("1234.56"),
                        "valor_liquido": Decimal("1234.56"),
                        "desconto": 0,
                        "juros": 0,
                        "multa": 0,
                        "taxa": 0,
                    },
                    "metodo_pagamento": "BOLETO_BANCARIO",
                }
            ]
        },
    }


def test_sync_receivable_uses_id_cliente() -> None:
    body = receivable_body_sync(draft())
    assert body["id_cliente"] == "p-1"
    assert "id_fornecedor" not in body and "contato" not in body


def test_async_bodies_use_contato_and_no_external_reference_field() -> None:
    for body in (payable_body_async(draft(cost_center_id=None)), receivable_body_async(draft(cost_center_id=None))):
        assert body["contato"] == "p-1"
        assert "id_fornecedor" not in body and "referencia_externa" not in body
        assert body["observacao"] == "Aprova PAG-2026-000123"  # required on this route
        assert body["rateio"] == [{"id_categoria": "cat-1", "valor": Decimal("1234.56")}]
        parcela = body["condicao_pagamento"]["parcelas"][0]
        assert parcela["descricao"] == body["descricao"]
        assert parcela["nota"] == "PAG-2026-000123"


def test_description_ends_with_our_reference_and_nothing_else_looks_like_one() -> None:
    assert entry_description(draft(description="PAG-2026-000123 luz")) == "luz [PAG-2026-000123]"
    assert entry_description(draft(description="luz, ver pag-2026-000124 e REC-2026-000001")) == (
        "luz, ver e [PAG-2026-000123]"
    )
    assert entry_description(draft()).endswith("[PAG-2026-000123]")
    assert carries_reference("luz [PAG-2026-000123]", "PAG-2026-000123")
    assert carries_reference("luz [PAG-2026-000123] (2/3)", "PAG-2026-000123")
    assert not carries_reference("luz [PAG-2026-000123] extra", "PAG-2026-000123")
    assert not carries_reference("luz [PAG-2026-0001234]", "PAG-2026-000123")


def test_installments_split_and_must_add_up() -> None:
    parts = [(date(2026, 12, 10), Decimal("0.10")), (date(2027, 1, 10), Decimal("0.20"))]
    body = payable_body_sync(draft(amount=Decimal("0.30"), installments=parts))
    parcelas = body["condicao_pagamento"]["parcelas"]
    assert [p["detalhe_valor"]["valor_bruto"] for p in parcelas] == [Decimal("0.10"), Decimal("0.20")]
    assert [p["descricao"][-5:] for p in parcelas] == ["(1/2)", "(2/2)"]
    assert all("PAG-2026-000123" in p["descricao"] for p in parcelas)
    with pytest.raises(ValueError, match="parcelas sum"):
        payable_body_sync(draft(amount=Decimal("0.31"), installments=parts))


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1.00"), Decimal("1.001"), Decimal("NaN")])
def test_bad_amounts_are_refused_before_sending(amount: Decimal) -> None:
    with pytest.raises(ValueError):
        payable_body_async(draft(amount=amount))


# --------------------------------------------------------------------------- JSON exactness


def test_decimal_is_serialised_exactly_never_through_float() -> None:
    text = dumps({"a": Decimal("0.10") + Decimal("0.20"), "b": Decimal("1234567890.99"), "c": [Decimal("1E+2")]})
    assert text == '{"a":0.30,"b":1234567890.99,"c":[100]}'
    assert float("0.1") + float("0.2") != 0.3  # what the custom encoder protects against
    with pytest.raises(TypeError):
        dumps({"valor": 0.3})


def test_full_body_text_has_exact_amounts_and_utf8() -> None:
    text = dumps(payable_body_sync(draft(amount=Decimal("9999999.99"), description="Energia Elétrica")))
    assert '"valor":9999999.99' in text
    assert "Elétrica" in text
    assert json.loads(text, parse_float=Decimal)["valor"] == Decimal("9999999.99")


def test_loads_parses_decimals() -> None:
    assert loads('{"total": 0.30, "n": 2}') == {"total": Decimal("0.30"), "n": 2}


# --------------------------------------------------------------------------- parsing


def test_parse_protocol_new_spelling() -> None:
    p = parse_protocol({"protocolo": "abc", "status": "PENDING", "data_criacao": "2026-11-25T12:00:00Z"})
    assert (p.id, p.status, p.created_at, p.event_id) == ("abc", "PENDING", "2026-11-25T12:00:00Z", None)


def test_parse_protocol_old_spelling() -> None:
    p = parse_protocol({"protocolId": "abc", "status": "success", "createdAt": "2026-11-25T12:00:00Z"})
    assert (p.id, p.status, p.created_at) == ("abc", "SUCCESS", "2026-11-25T12:00:00Z")


def test_parse_protocol_lookup_shape() -> None:
    p = parse_protocol({"id": "abc", "status": "SUCCESS", "resposta": "ok", "evento_financeiro_id": "ev-1"})
    assert (p.id, p.event_id, p.response) == ("abc", "ev-1", "ok")
    with pytest.raises(PermanentGatewayError):
        parse_protocol({"status": "PENDING"})


def test_parse_page_envelopes() -> None:
    assert parse_page({"itens_totais": 2, "itens": [{"id": 1}, {"id": 2}], "totais": {}}).total == 2
    assert parse_page({"items": [{"id": 1}], "totalItems": 9}).items == [{"id": 1}]
    assert parse_page({"items": [{"id": 1}], "totalItems": 9}).total == 9
    assert parse_page([{"id": 1}]).items == [{"id": 1}]
    assert parse_page(None).items == []


@pytest.mark.parametrize("key", ["items", "itens"])
def test_cost_center_envelope_either_key(key: str) -> None:
    page = parse_page({"itens_totais": 1, key: [{"id": "c1", "codigo": None, "nome": "Obra X", "ativo": True}]})
    assert [parse_cost_center(i).name for i in page.items] == ["Obra X"]


def test_parse_person_profiles_either_shape() -> None:
    a = parse_person({"id": "1", "nome": "A", "documento": "12.345.678/0001-95", "perfis": ["FORNECEDOR"]})
    b = parse_person({"id": "2", "nome": "B", "perfis": [{"tipo_perfil": "Fornecedor"}]})
    assert a.profiles == b.profiles == ("FORNECEDOR",)
    assert a.document == "12.345.678/0001-95"


def test_parse_entry_summary_payable_and_receivable() -> None:
    base = {"id": "i1", "descricao": "x", "data_vencimento": "2026-12-10", "total": Decimal("10.50")}
    payable = parse_entry_summary({**base, "fornecedor": {"id": "f", "nome": "F"}})
    receivable = parse_entry_summary({**base, "cliente": {"id": "c", "nome": "C"}})
    assert (payable.person_id, receivable.person_id) == ("f", "c")
    assert payable.due_date == date(2026, 12, 10) and payable.total == Decimal("10.50")


def test_parse_installment_detail_reference() -> None:
    detail = parse_installment_detail(
        {"id": "i1", "evento": {"id": "ev", "referencia": {"id": "proto", "origem": "LANCAMENTO_FINANCEIRO"}}}
    )
    assert (detail.event_id, detail.reference_id, detail.reference_origin) == ("ev", "proto", "LANCAMENTO_FINANCEIRO")


def test_parse_created_sync_body() -> None:
    assert parse_created({"id": "ev", "parcelas": [{"id": "p1"}, {"id": "p2"}]}) == ("ev", ("p1", "p2"))
    # Accepted without naming the entry: nothing to read, the caller finds it by reference.
    for body in ({}, {"mensagem": "Conta criada com sucesso."}, {"id": None}, {"id": {"x": 1}}, [], "", None):
        assert parse_created(body) is None, body


def test_reported_counterparty_in_any_spelling() -> None:
    assert reported_counterparty({"id": "ev", "id_fornecedor": "p1"}, "payable") == Counterparty("p1")
    assert reported_counterparty({"fornecedor": {"id": "p1", "nome": "ACME"}}, "payable") == Counterparty("p1", "ACME")
    assert reported_counterparty({"contato": "p2"}, "receivable") == Counterparty("p2")
    assert reported_counterparty({"id_cliente": None}, "receivable") == Counterparty(None)  # says: no one
    assert reported_counterparty({"id_cliente": "p3"}, "payable") is None  # not the payable's key: does not say
    assert reported_counterparty({"id": "ev"}, "payable") is None
    assert reported_counterparty("created", "payable") is None


def test_person_type_from_the_document() -> None:
    assert person_type("123.456.789-09") == "Física"
    assert person_type("12.ABC.345/01DE-35") == "Jurídica"
    assert person_type("123") is None


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None


def test_error_message_extraction() -> None:
    assert error_message({"code": 400, "message": "valor da parcela: A composição de valor é obrigatória."}) == (
        "valor da parcela: A composição de valor é obrigatória."
    )
    assert error_message({"erros": [{"mensagem": "a"}, {"mensagem": "b"}]}) == "a; b"
    assert error_message("<html>oops</html>") == "<html>oops</html>"
    assert error_message(None) is None


def test_name_and_document_normalisation() -> None:
    assert name_key("  ENERGIA   Elétrica ") == name_key("energia eletrica")
    assert name_key("Água e Esgoto") == "agua e esgoto"
    assert document_digits("12.abc.345/01de-35") == "12ABC34501DE35"
    assert format_document("12345678000195") == "12.345.678/0001-95"
    assert format_document("12345678909") == "123.456.789-09"


def test_person_body_kinds() -> None:
    assert person_body("Zé", "123.456.789-09", "Fornecedor") == {
        "nome": "Zé",
        "tipo_pessoa": "Física",
        "cpf": "123.456.789-09",
        "perfis": [{"tipo_perfil": "Fornecedor"}],
    }
    company = person_body("ACME", "12345678000195", "Cliente", "fin@acme.com.br")
    assert (company["tipo_pessoa"], company["cnpj"], company["email"]) == (
        "Jurídica",
        "12.345.678/0001-95",
        "fin@acme.com.br",
    )
    with pytest.raises(ValueError):
        person_body("X", "123", "Fornecedor")


# --------------------------------------------------------------------------- limiter and cache (pure, fake time)


@pytest.mark.anyio
async def test_rate_limiter_sliding_windows_without_real_waiting() -> None:
    clock = FixedClock(T0)

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    limiter = RateLimiter(clock=clock, sleep=sleep, per_second=10, per_minute=25)
    grants = []
    for _ in range(30):
        await limiter.acquire()
        grants.append(clock.now())
    for i, at in enumerate(grants):
        assert sum(1 for g in grants[i:] if g - at < timedelta(seconds=1)) <= 10
        assert sum(1 for g in grants[i:] if g - at < timedelta(minutes=1)) <= 25
    assert grants[25] - grants[0] >= timedelta(minutes=1)  # the minute window, not just the second one


def test_lookup_cache_ttl_and_invalidation() -> None:
    cache = LookupCache()
    cache.put(("people", "x"), 1, T0 + timedelta(minutes=5))
    cache.put(("categories", "DESPESA"), 2, T0 + timedelta(minutes=5))
    assert cache.get(("people", "x"), T0) == 1
    cache.invalidate("people")
    assert cache.get(("people", "x"), T0) is None
    assert cache.get(("categories", "DESPESA"), T0) == 2
    assert cache.get(("categories", "DESPESA"), T0 + timedelta(minutes=5)) is None  # expired
    cache.clear()
    assert cache.get(("categories", "DESPESA"), T0) is None


# --------------------------------------------------------------------------- wire format (MockTransport)

CONFIG = OAuthConfig("cid", "csecret", "https://auth.test", "https://api.test", "https://app.test/cb")


@pytest.mark.anyio
async def test_token_requests_send_basic_header_body_credentials_and_the_pkce_verifier() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        form = parse_qs(request.content.decode())
        if form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["spent"]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        if form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["busy"]:
            return httpx.Response(503, text="<html>gateway</html>")
        return httpx.Response(
            200, json={"access_token": "ACCESS-XYZ", "refresh_token": "REFRESH-XYZ", "expires_in": 3600}
        )

    clock = FixedClock(T0)
    endpoint = TokenEndpoint(CONFIG, transport=httpx.MockTransport(handler))
    try:
        tokens = await endpoint.exchange_code(code="the-code", code_verifier="the-verifier", clock=clock)
        assert tokens.expires_at == T0 + timedelta(hours=1)
        assert tokens.access_token == "ACCESS-XYZ"
        assert "XYZ" not in repr(tokens)  # tokens stay out of reprs and logs
        with pytest.raises(OAuthGrantError) as info:
            await endpoint.refresh(refresh_token="spent", clock=clock)
        assert info.value.code == "refresh_invalid"
        with pytest.raises(RetryableGatewayError) as busy:
            await endpoint.refresh(refresh_token="busy", clock=clock)
        assert busy.value.status == 503
        refreshed = await endpoint.refresh(refresh_token="good", clock=clock)
        assert refreshed.refresh_token == "REFRESH-XYZ"
    finally:
        await endpoint.aclose()
    request = seen[0]
    assert str(request.url) == "https://auth.test/oauth2/token"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "redirect_uri": ["https://app.test/cb"],
        "code": ["the-code"],
        "code_verifier": ["the-verifier"],
        "client_id": ["cid"],
        "client_secret": ["csecret"],
    }
    assert parse_qs(seen[-1].content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["good"],
        "client_id": ["cid"],
        "client_secret": ["csecret"],
    }


@pytest.mark.anyio
async def test_post_body_on_the_wire_is_exact_json() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        assert request.headers["Authorization"] == "Bearer tok"
        return httpx.Response(201, json={"id": "ev-1", "parcelas": [{"id": "p-1"}]})

    clock = FixedClock(T0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = ContaAzulClient(
            http, api_url="https://api.test", tokens=StaticTokenSource("tok"), team_id="T-wire", clock=clock
        )
        created = await client.create_payable(draft(amount=Decimal("0.30")))
    assert (created.id, created.installment_ids, created.route) == ("ev-1", ("p-1",), "sync")
    assert b'"valor":0.30' in bodies[0]
    assert b'"valor_bruto":0.30' in bodies[0]
    assert "Conta de luz novembro [PAG-2026-000123]" in bodies[0].decode("utf-8")


@pytest.mark.anyio
async def test_http_date_retry_after_and_permanent_error_body() -> None:
    clock = FixedClock(T0)
    waited: list[float] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(429, headers={"Retry-After": "Wed, 25 Nov 2026 12:00:04 GMT"})
        return httpx.Response(400, json={"code": 400, "message": "Categoria inválida."})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = ContaAzulClient(
            http, api_url="https://api.test", tokens=StaticTokenSource("t"), team_id="T-date", clock=clock, sleep=sleep
        )
        with pytest.raises(PermanentGatewayError) as info:
            await client.categories("DESPESA")
    assert waited[0] == 4.0
    assert info.value.status == 400
    assert "Categoria inválida." in str(info.value)
    assert info.value.body == {"code": 400, "message": "Categoria inválida."}
    assert not isinstance(info.value, RetryableGatewayError)
