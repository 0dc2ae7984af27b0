"""ContaAzulClient against the Conta Azul sandbox on loopback, with a fixed clock and a sleep that moves it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
from cryptography.fernet import Fernet

from ledger import db
from ledger.clock import FixedClock
from ledger.contaazul.client import ContaAzulClient
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import CreateRoute, LookupCache, RateLimiter
from ledger.contaazul.models import ASYNC_PATHS, PAYMENT_METHODS, SYNC_PATHS, Counterparty, EntryDraft
from ledger.contaazul.oauth import OAuthConfig, TokenEndpoint
from ledger.contaazul.sandbox import Sandbox
from ledger.contaazul.sandbox.seed import (
    ACCOUNT_IDS,
    ACCOUNT_ITAU,
    CATEGORY_IDS,
    COST_CENTER_IDS,
    PERSON_DOCUMENTS,
    PERSON_IDS,
)
from ledger.contaazul.tokens import TokenManager
from ledger.errors import EntryUnidentified, PermanentGatewayError, ProtocolPending, RetryableGatewayError
from ledger.models import Base, ContaAzulConnection
from ledger.names import name_key

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CLIENT_ID = "aprova-test"
CLIENT_SECRET = "test-secret"
TEAM = "T0001"
ENEL = "Enel Distribuição São Paulo"
DUE = date(2026, 12, 10)


@dataclass
class Env:
    sandbox: Sandbox
    clock: FixedClock
    http: httpx.AsyncClient
    tokens: TokenManager
    make: Callable[..., ContaAzulClient]
    sleep: Callable[[float], Awaitable[None]]
    slept: list[float]
    cache: LookupCache  # the team's, shared by every client make() builds, as the connector does

    def api_calls(self) -> int:
        return len(self.sandbox.state.api_calls())


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = FixedClock(T0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        # Virtual time: the sandbox's rate windows and protocol delays follow the same clock.
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        await anyio.sleep(0)

    sandbox = Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock.now)
    await sandbox.start(port=0)
    engine = db.create_engine(f"sqlite:///{tmp_path / 'client.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = db.create_session_factory(engine)
        cipher = TokenCipher(Fernet.generate_key().decode())
        grant = sandbox.issue_tokens()
        async with sessions() as session, session.begin():
            session.add(
                ContaAzulConnection(
                    team_id=TEAM,
                    company_id=sandbox.state.company.id,
                    company_name=sandbox.state.company.razao_social,
                    connected_by="U1",
                    connected_at=T0,
                    status="active",
                    access_token_enc=cipher.encrypt(grant.access_token),
                    refresh_token_enc=cipher.encrypt(grant.refresh_token),
                    access_expires_at=T0 + timedelta(seconds=grant.expires_in),
                    token_version=1,
                    updated_at=T0,
                )
            )
        config = OAuthConfig(CLIENT_ID, CLIENT_SECRET, sandbox.auth_url, sandbox.api_url, "https://x.test/cb")
        async with httpx.AsyncClient(timeout=2.0) as http:
            endpoint = TokenEndpoint(config, timeout=2.0)
            tokens = TokenManager(sessions, cipher=cipher, clock=clock, endpoint=endpoint)

            cache, limiter = LookupCache(), RateLimiter(clock=clock, sleep=sleep)

            def make(**kwargs: object) -> ContaAzulClient:
                options: dict[str, object] = {"sleep": sleep, "cache": cache, "limiter": limiter}
                options.update(kwargs)
                return ContaAzulClient(
                    options.pop("http", http),  # type: ignore[arg-type]
                    api_url=sandbox.api_url,
                    tokens=tokens,
                    team_id=TEAM,
                    clock=clock,
                    **options,  # type: ignore[arg-type]
                )

            try:
                yield Env(sandbox, clock, http, tokens, make, sleep, slept, cache)
            finally:
                await endpoint.aclose()
    finally:
        await engine.dispose()
        await sandbox.stop()


def payable(reference: str = "PAG-2026-000123", **changes: object) -> EntryDraft:
    values: dict[str, object] = {
        "description": "Conta de luz novembro",
        "amount": Decimal("1234.56"),
        "competence_date": date(2026, 11, 1),
        "due_date": DUE,
        "person_id": PERSON_IDS[ENEL],
        "account_id": ACCOUNT_IDS[ACCOUNT_ITAU],
        "category_id": CATEGORY_IDS["Energia Elétrica"],
        "cost_center_id": COST_CENTER_IDS["Administrativo"],
        "payment_method": PAYMENT_METHODS["boleto"],
        "external_reference": reference,
    }
    values.update(changes)
    return EntryDraft(**values)  # type: ignore[arg-type]


async def gather(*calls: Awaitable[object]) -> list[object]:
    results: list[object] = [None] * len(calls)

    async def run(i: int, call: Awaitable[object]) -> None:
        results[i] = await call

    async with anyio.create_task_group() as tg:
        for i, call in enumerate(calls):
            tg.start_soon(run, i, call)
    return results


# --------------------------------------------------------------------------- lookups


@pytest.mark.anyio
async def test_connected_company_and_accounts(env: Env) -> None:
    client = env.make()
    company = await client.connected_company()
    assert (company.name, company.trade_name) == ("Padaria Pão Quente Ltda", "Pão Quente")
    accounts = await client.financial_accounts()
    assert ACCOUNT_ITAU in {a.name for a in accounts}
    assert all(a.active for a in accounts)
    assert [a.name for a in accounts if a.default] == [ACCOUNT_ITAU]
    assert len(await client.financial_accounts(active_only=False)) == len(accounts) + 1


@pytest.mark.anyio
async def test_category_exact_name_ignoring_case_and_accents(env: Env) -> None:
    client = env.make(page_size=10)  # 16 DESPESA categories: forces a second page
    found = await client.find_category("energia eletrica", "DESPESA")
    assert found is not None and found.name == "Energia Elétrica" and found.id == CATEGORY_IDS["Energia Elétrica"]
    assert await client.find_category("  ÁGUA   e esgoto ", "DESPESA") is not None
    assert await client.find_category("Energia", "DESPESA") is None  # exact, not a substring
    assert await client.find_category("Energia Elétrica", "RECEITA") is None
    assert await client.find_category("Combustível", "DESPESA") is None
    assert len(await client.categories("DESPESA")) == 16
    queries = [r.query for r in env.sandbox.state.api_calls("/v1/categorias") if "tipo=DESPESA" in r.query]
    assert len(queries) == 2  # both pages once; every later lookup came from the cache
    assert all("permite_apenas_filhos=false" in q for q in queries)


@pytest.mark.anyio
async def test_confirmed_miss_looks_past_the_cache_once(env: Env) -> None:
    client = env.make()
    assert await client.find_category("Energia Elétrica", "DESPESA") is not None
    assert await client.find_cost_center("Produção") is not None
    env.sandbox.state.categories[CATEGORY_IDS["Energia Elétrica"]].nome = "Energia e Gás"  # renamed in the ERP
    center = next(c for c in env.sandbox.state.cost_centers.values() if c.nome == "Produção")
    center.nome = "Fábrica"
    calls = env.api_calls()
    # The type-ahead's plain lookups trust the cache; posting confirms a miss against Conta Azul, once.
    assert await client.find_category("Energia e Gás", "DESPESA") is None and env.api_calls() == calls
    renamed = await client.find_category("Energia e Gás", "DESPESA", confirm_miss=True)
    assert renamed is not None and renamed.id == CATEGORY_IDS["Energia Elétrica"]
    assert env.api_calls() == calls + 1
    found = await client.find_cost_center("fabrica", confirm_miss=True)
    assert found is not None and found.id == center.id and env.api_calls() == calls + 2
    # A miss on a list this very call fetched is not fetched twice.
    env.cache.clear()
    assert await client.find_category("Combustível", "DESPESA", confirm_miss=True) is None
    assert await client.find_cost_center("Obra Y", confirm_miss=True) is None
    assert env.api_calls() == calls + 4


@pytest.mark.anyio
async def test_vendor_by_cnpj_then_by_name(env: Env) -> None:
    client = env.make()
    enel_cnpj = PERSON_DOCUMENTS[ENEL]
    digits = "".join(ch for ch in enel_cnpj if ch.isdigit())
    by_formatted = await client.find_person(document=enel_cnpj)
    by_digits = await client.find_person(document=digits, name="some other name")
    assert by_formatted is not None and by_digits is not None
    assert by_formatted.id == by_digits.id == PERSON_IDS[ENEL]

    fermento = await client.find_person(document=PERSON_DOCUMENTS["Agência Fermento Marketing Ltda"].lower())
    assert fermento is not None and fermento.name == "Agência Fermento Marketing Ltda"  # alphanumeric CNPJ

    by_name = await client.find_person(document="11.222.333/0001-81", name="moinho  ANACONDA ltda")
    assert by_name is not None and by_name.id == PERSON_IDS["Moinho Anaconda Ltda"]
    assert await client.find_person(name="Moinho") is None  # exact name only
    assert await client.find_person(name="Mercado Bom Preço Ltda") is None  # a customer, not a supplier
    customer = await client.find_person(name="Mercado Bom Preço Ltda", profile="Cliente")
    assert customer is not None and "CLIENTE" in customer.profiles


@pytest.mark.anyio
async def test_create_person_then_found_and_cache_invalidated(env: Env) -> None:
    client = env.make()
    cnpj = "11.222.333/0001-81"
    assert await client.find_person(document=cnpj, name="Gráfica Nova Ltda") is None
    created = await client.create_person("Gráfica Nova Ltda", document="11222333000181", email="a@grafica.com.br")
    stored = env.sandbox.state.people[created.id]
    assert (stored.tipo_pessoa, stored.documento, stored.perfis) == ("JURIDICA", cnpj, ["FORNECEDOR"])
    found = await client.find_person(document=cnpj)
    assert found is not None and found.id == created.id

    person = await client.create_person("João da Silva", document="52998224725")
    assert env.sandbox.state.people[person.id].tipo_pessoa == "FISICA"
    assert env.sandbox.state.people[person.id].documento == "529.982.247-25"
    with pytest.raises(PermanentGatewayError) as dup:
        await client.create_person("Outro nome", document="52998224725")
    assert dup.value.status == 400 and "Já existe" in str(dup.value)


@pytest.mark.parametrize("list_key", ["items", "itens"])
@pytest.mark.anyio
async def test_cost_center_created_then_found_and_cache_shared(env: Env, list_key: str) -> None:
    env.sandbox.state.cost_center_list_key = list_key
    client, other = env.make(), env.make()  # two clients of one team share the cache
    assert (await client.find_cost_center("produção")) is not None
    assert await client.find_cost_center("Obra X") is None
    calls = env.api_calls()
    assert await other.find_cost_center("Obra X") is None
    assert env.api_calls() == calls  # served from the team cache
    created = await client.create_cost_center("Obra X", code="10")
    assert (created.name, created.code, created.active) == ("Obra X", "10", True)
    found = await other.find_cost_center("obra x")
    assert found is not None and found.id == created.id
    centers = await other.cost_centers()
    inactive = [c for c in centers if not c.active]
    assert [c.name for c in inactive] == ["Loja Shopping (encerrada)"] and centers[-1] == inactive[0]
    env.cache.clear()
    before = env.api_calls()
    await client.cost_centers()
    assert env.api_calls() == before + 1


# --------------------------------------------------------------------------- creating entries


@pytest.mark.anyio
async def test_create_payable_sync_route(env: Env) -> None:
    client = env.make()
    created = await client.create_payable(payable())
    assert created.route == "sync" and created.protocol_id is None and len(created.installment_ids) == 1
    event = env.sandbox.state.events[created.id]
    assert event.referencia_externa == "PAG-2026-000123"
    assert event.contato_id == PERSON_IDS[ENEL]
    assert event.valor == 1234.56
    assert event.rateio[0]["rateio_centro_custo"][0]["id_centro_custo"] == COST_CENTER_IDS["Administrativo"]
    installment = env.sandbox.state.installments[created.installment_ids[0]]
    assert "PAG-2026-000123" in installment.descricao and installment.metodo_pagamento == "BOLETO_BANCARIO"


@pytest.mark.anyio
async def test_create_receivable_both_routes(env: Env) -> None:
    customer = PERSON_IDS["Mercado Bom Preço Ltda"]
    receivable = payable(
        "REC-2026-000001",
        person_id=customer,
        category_id=CATEGORY_IDS["Encomendas e Eventos"],
        cost_center_id=None,
        payment_method="PIX_PAGAMENTO_INSTANTANEO",
    )
    sync = await env.make().create_receivable(receivable)
    asynchronous = await env.make(route="async").create_receivable(receivable)
    for created in (sync, asynchronous):
        event = env.sandbox.state.events[created.id]
        assert (event.tipo, event.contato_id) == ("RECEITA", customer)
    assert asynchronous.protocol_id is not None


@pytest.mark.parametrize("key_style", ["new", "old"])
@pytest.mark.anyio
async def test_create_payable_async_route_resolves_protocol(env: Env, key_style: str) -> None:
    env.sandbox.state.protocol_key_style = key_style
    env.sandbox.state.protocol_delay_seconds = 3
    client = env.make(route="async")
    parts = [(DUE, Decimal("1000.00")), (DUE + timedelta(days=30), Decimal("234.56"))]
    created = await client.create_payable(payable(installments=parts))
    assert created.route == "async" and created.protocol_id in env.sandbox.state.protocols
    assert env.sandbox.state.protocols[created.protocol_id].evento_id == created.id
    assert len(env.sandbox.state.event_installments(created.id)) == 2
    assert sum(env.slept) >= 3  # virtual time only
    assert len(env.sandbox.state.api_calls(method="POST")) == 1


@pytest.mark.anyio
async def test_protocol_that_stays_pending_raises_protocol_pending_without_reposting(env: Env) -> None:
    env.sandbox.protocols_stay_pending()
    client = env.make(route="async", protocol_timeout=timedelta(seconds=90))
    start = env.clock.now()
    with pytest.raises(ProtocolPending) as info:
        await client.create_payable(payable())
    assert info.value.protocol_id in env.sandbox.state.protocols
    assert isinstance(info.value, RetryableGatewayError)
    assert env.clock.now() - start >= timedelta(seconds=90)
    assert len(env.sandbox.state.api_calls(method="POST")) == 1
    polls = env.sandbox.state.api_calls("/v1/protocolo/")
    assert 5 <= len(polls) <= 20  # backoff, not a busy loop

    env.sandbox.protocols_stay_pending(False)
    event_id = await client.resolve_protocol(info.value.protocol_id, kind="payable", due_date=DUE)
    assert env.sandbox.state.events[event_id].referencia_id == info.value.protocol_id


@pytest.mark.anyio
async def test_protocol_error_is_permanent(env: Env) -> None:
    env.sandbox.protocols_error_next()
    with pytest.raises(PermanentGatewayError) as info:
        await env.make(route="async").create_payable(payable())
    assert not isinstance(info.value, RetryableGatewayError)
    assert "Ocorreu um erro inesperado" in str(info.value)
    assert env.sandbox.state.events == {}


@pytest.mark.anyio
async def test_protocol_endpoint_404_falls_back_to_installment_reference(env: Env) -> None:
    env.sandbox.state.protocol_delay_seconds = 1
    env.sandbox.control({"action": "configure", "protocol_endpoint_missing": True})
    created = await env.make(route="async").create_payable(payable("PAG-2026-000777"))
    event = env.sandbox.state.events[created.id]
    assert event.referencia_id == created.protocol_id
    assert {r.status for r in env.sandbox.state.api_calls("/v1/protocolo/")} == {404}
    assert env.sandbox.state.api_calls("/v1/financeiro/eventos-financeiros/parcelas/")


@pytest.mark.anyio
async def test_search_by_due_date_finds_entry_by_reference(env: Env) -> None:
    client = env.make()
    await client.create_payable(payable("PAG-2026-000001", description="Aluguel"))
    created = await client.create_payable(payable("PAG-2026-000002"))
    await client.create_payable(payable("PAG-2026-000003", due_date=DUE + timedelta(days=1)))
    entries = await client.search_entries("payable", DUE, DUE)
    assert len(entries) == 2 and all(e.person_id == PERSON_IDS[ENEL] for e in entries)
    [found] = await client.find_entries_by_reference("payable", "PAG-2026-000002", DUE, DUE)
    assert found.id == created.installment_ids[0]
    assert found.total == Decimal("1234.56") and found.due_date == DUE
    assert await client.find_entries_by_reference("payable", "PAG-2026-000404", DUE, DUE) == []
    assert await client.find_entries_by_reference("receivable", "PAG-2026-000002", DUE, DUE) == []


@pytest.mark.anyio
async def test_a_reference_typed_in_a_description_is_not_found_as_ours(env: Env) -> None:
    client = env.make()
    # A requester writes the next request's reference into their own description, hoping it gets adopted.
    planted = await client.create_payable(payable("PAG-2026-000001", description="Aluguel [PAG-2026-000002]"))
    assert env.sandbox.state.installments[planted.installment_ids[0]].descricao == "Aluguel [] [PAG-2026-000001]"
    assert await client.find_entries_by_reference("payable", "PAG-2026-000002", DUE, DUE) == []
    [own] = await client.find_entries_by_reference("payable", "PAG-2026-000001", DUE, DUE)
    assert own.id == planted.installment_ids[0]


@pytest.mark.parametrize(("route", "expected_calls"), [("sync", 1), ("async", 2)])
@pytest.mark.anyio
async def test_steady_state_payable_api_calls(env: Env, route: str, expected_calls: int) -> None:
    client = env.make(route=route)

    async def post(reference: str) -> None:
        category = await client.find_category("Energia Elétrica", "DESPESA")
        center = await client.find_cost_center("Administrativo")
        vendor = await client.find_person(document=PERSON_DOCUMENTS[ENEL], name=ENEL)
        account = next(a for a in await client.financial_accounts() if a.default)
        assert category and center and vendor
        await client.create_payable(
            payable(
                reference,
                category_id=category.id,
                cost_center_id=center.id,
                person_id=vendor.id,
                account_id=account.id,
            )
        )

    await post("PAG-2026-000010")  # cold: lookups fill the cache
    cold = env.api_calls()
    await post("PAG-2026-000011")
    assert env.api_calls() - cold == expected_calls  # warm: the create (+ one protocol poll on the async route)
    assert cold > expected_calls


# --------------------------------------------------------------------------- rate limits and failures


@pytest.mark.anyio
async def test_rate_limiter_keeps_under_10_per_second_for_a_burst_of_50(env: Env) -> None:
    client = env.make()
    start = env.clock.now()
    await gather(*(client.connected_company() for _ in range(50)))
    records = env.sandbox.state.api_calls("/v1/pessoas/conta-conectada")
    assert len(records) == 50 and {r.status for r in records} == {200}  # the sandbox never had to say 429
    times = sorted(r.at for r in records)
    for i, at in enumerate(times):
        assert sum(1 for t in times[i:] if t - at < timedelta(seconds=1)) <= 10
    assert env.clock.now() - start >= timedelta(seconds=4)


@pytest.mark.anyio
async def test_limiter_is_shared_by_clients_of_a_team(env: Env) -> None:
    a, b = env.make(), env.make()
    await gather(*(c.connected_company() for c in (a, b) for _ in range(15)))
    records = env.sandbox.state.api_calls()
    assert len(records) == 30 and {r.status for r in records} == {200}


@pytest.mark.anyio
async def test_429_retry_after_is_honoured(env: Env) -> None:
    client = env.make()
    env.sandbox.fail_next(1, 429, retry_after=7)
    await client.connected_company()
    first, second = env.sandbox.state.api_calls()
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= timedelta(seconds=7)


@pytest.mark.anyio
async def test_429_beyond_retries_or_too_long_is_retryable_with_retry_after(env: Env) -> None:
    client = env.make(max_429_retries=2)
    env.sandbox.fail_next(3, 429, retry_after=2)
    with pytest.raises(RetryableGatewayError) as info:
        await client.connected_company()
    assert (info.value.status, info.value.retry_after) == (429, 2.0)
    assert len(env.sandbox.state.api_calls()) == 3

    env.sandbox.fail_next(1, 429, retry_after=120)
    with pytest.raises(RetryableGatewayError) as long_wait:
        await client.connected_company()
    assert long_wait.value.retry_after == 120.0
    assert len(env.sandbox.state.api_calls()) == 4  # not waited in-process: the caller reschedules


@pytest.mark.anyio
async def test_500_on_post_is_retryable_and_not_repeated(env: Env) -> None:
    env.sandbox.fail_next(1, 500, path_prefix="/v1/financeiro")
    with pytest.raises(RetryableGatewayError) as info:
        await env.make().create_payable(payable())
    assert info.value.status == 500 and info.value.params["outcome_unknown"] is True
    assert len(env.sandbox.state.api_calls(method="POST")) == 1


@pytest.mark.anyio
async def test_500_on_get_is_retried_then_retryable(env: Env) -> None:
    client = env.make()
    env.sandbox.fail_next(1, 503)
    assert (await client.connected_company()).name
    env.sandbox.fail_next(3, 500)
    with pytest.raises(RetryableGatewayError) as info:
        await client.connected_company()
    assert info.value.status == 500
    assert [r.status for r in env.sandbox.state.api_calls()] == [503, 200, 500, 500, 500]


@pytest.mark.anyio
async def test_created_then_500_is_found_by_reconciling(env: Env) -> None:
    env.sandbox.create_then_fail_next(1, "error")
    client = env.make()
    with pytest.raises(RetryableGatewayError):
        await client.create_payable(payable("PAG-2026-000555"))
    found = await client.find_entries_by_reference("payable", "PAG-2026-000555", DUE, DUE)
    assert len(found) == 1  # the caller reconciles instead of posting twice


@pytest.mark.anyio
async def test_dropped_connection_is_retryable(env: Env) -> None:
    client = env.make()
    env.sandbox.drop_next(1, path_prefix="/v1/financeiro")
    with pytest.raises(RetryableGatewayError) as info:
        await client.create_payable(payable())
    assert info.value.params["outcome_unknown"] is True
    assert len(env.sandbox.state.api_calls(method="POST")) == 1
    env.sandbox.drop_next(1)
    assert (await client.connected_company()).name  # a GET is retried


@pytest.mark.anyio
async def test_timeout_is_retryable_and_post_not_repeated(env: Env) -> None:
    async with httpx.AsyncClient(timeout=0.05) as impatient:
        client = env.make(http=impatient)
        env.sandbox.slow_next(1, seconds=0.2, path_prefix="/v1/financeiro")
        with pytest.raises(RetryableGatewayError) as info:
            await client.create_payable(payable())
        assert "timed out" in str(info.value) and info.value.params["outcome_unknown"] is True
        env.sandbox.slow_next(1, seconds=0.2)
        assert (await client.connected_company()).name  # a GET is retried after a timeout
    await anyio.sleep(0.2)  # let the sandbox finish the abandoned slow handlers
    assert len([r for r in env.sandbox.state.api_calls(method="POST")]) <= 1


@pytest.mark.anyio
async def test_bad_request_is_permanent_with_portuguese_message(env: Env) -> None:
    with pytest.raises(PermanentGatewayError) as info:
        await env.make().create_payable(payable(category_id=CATEGORY_IDS["Vendas de Produtos"]))
    assert info.value.status == 400
    assert "não pode ser utilizada em contas a pagar" in str(info.value)
    assert isinstance(info.value.body, dict) and "message" in info.value.body


@pytest.mark.anyio
async def test_explicit_limiter_is_used(env: Env) -> None:
    limiter = RateLimiter(clock=env.clock, sleep=env.sleep, per_second=2, per_minute=100)
    client = env.make(limiter=limiter)
    await gather(*(client.connected_company() for _ in range(4)))
    assert limiter.total_granted == 4 and limiter.total_waited >= 1.0


# --------------------------------------------------------------------------- what the live API was seen to do


def posts_to(env: Env, path: str) -> list[int]:
    return [r.status for r in env.sandbox.state.api_calls(path, method="POST") if r.path == path]


@pytest.mark.parametrize("status", [404, 405])
@pytest.mark.anyio
async def test_missing_sync_route_falls_back_to_async_once_per_process(env: Env, status: int) -> None:
    env.sandbox.control({"action": "configure", "sync_route_missing": status})
    env.sandbox.state.protocol_delay_seconds = 2
    process = CreateRoute("sync")  # what the connector shares between all its clients
    first = await env.make(route=process).create_payable(payable("PAG-2026-000201"))
    assert (first.route, process.current) == ("async", "async") and first.protocol_id in env.sandbox.state.protocols
    second = await env.make(route=process).create_payable(payable("PAG-2026-000202"))
    assert second.route == "async" and second.id != first.id
    assert posts_to(env, SYNC_PATHS["payable"]) == [status]  # tried once in this process, and it created nothing
    assert posts_to(env, ASYNC_PATHS["payable"]) == [202, 202]
    assert {e.route for e in env.sandbox.state.events.values()} == {"async"} and len(env.sandbox.state.events) == 2
    # A new process (its own route memory) tries the documented route again, and finds it once it exists.
    env.sandbox.control({"action": "configure", "sync_route_missing": None})
    third = await env.make(route=CreateRoute("sync")).create_payable(payable("PAG-2026-000203"))
    assert third.route == "sync" and posts_to(env, SYNC_PATHS["payable"]) == [status, 201]


@pytest.mark.anyio
async def test_a_sync_refusal_is_not_sent_again_by_the_other_route(env: Env) -> None:
    client = env.make()
    with pytest.raises(PermanentGatewayError) as info:
        await client.create_payable(payable(category_id=CATEGORY_IDS["Vendas de Produtos"]))
    assert info.value.status == 400 and client.route == "sync"
    assert env.sandbox.state.api_calls(ASYNC_PATHS["payable"]) == []


@pytest.mark.parametrize("route", ["sync", "async"])
@pytest.mark.anyio
async def test_a_create_accepted_without_an_id_is_left_to_find_by_reference(env: Env, route: str) -> None:
    env.sandbox.control({"action": "configure", "created_answer_without_id": True})
    client = env.make(route=route)
    with pytest.raises(EntryUnidentified) as info:
        await client.create_payable(payable("PAG-2026-000301"))
    assert isinstance(info.value, RetryableGatewayError) and info.value.params["outcome_unknown"] is True
    assert env.sandbox.state.api_calls("/v1/protocolo/") == []  # nothing to poll
    [found] = await client.find_entries_by_reference("payable", "PAG-2026-000301", DUE, DUE)
    assert env.sandbox.state.installments[found.id].evento_id in env.sandbox.state.events


@pytest.mark.anyio
async def test_the_counterparty_the_create_reports(env: Env) -> None:
    created = await env.make().create_payable(payable("PAG-2026-000401"))
    assert created.counterparty == Counterparty(PERSON_IDS[ENEL])
    env.sandbox.control({"action": "configure", "counterparty_ignored": True})
    dropped = await env.make().create_payable(payable("PAG-2026-000402"))
    assert dropped.counterparty == Counterparty(None)  # Conta Azul says: no supplier
    asynchronous = await env.make(route="async").create_payable(payable("PAG-2026-000403"))
    assert asynchronous.counterparty is None  # a protocol does not say: the caller reads the entry back
    [listed] = await env.make().find_entries_by_reference("payable", "PAG-2026-000403", DUE, DUE)
    assert listed.person_id is None


@pytest.mark.anyio
async def test_people_searches_name_the_person_type(env: Env) -> None:
    env.sandbox.control({"action": "configure", "pessoas_default_tipos_pessoa": "Física"})
    client = env.make()
    searches = lambda: [parse_qs(r.query) for r in env.sandbox.state.api_calls("/v1/pessoas")]  # noqa: E731

    enel = await client.find_person(document=PERSON_DOCUMENTS[ENEL], name=ENEL)
    assert enel is not None and enel.id == PERSON_IDS[ENEL]
    [query] = searches()  # one search, in one format, for a company
    digits = "".join(ch for ch in PERSON_DOCUMENTS[ENEL] if ch.isdigit())
    assert (query["documentos"], query["tipos_pessoa"]) == ([digits], ["Jurídica"])

    jose = await client.find_person(document=PERSON_DOCUMENTS["José Carlos Pereira"])
    assert jose is not None and searches()[-1]["tipos_pessoa"] == ["Física"]

    papelaria = await client.find_person(name="papelaria central me")  # no document: companies first
    assert papelaria is not None and papelaria.id == PERSON_IDS["Papelaria Central ME"] and len(searches()) == 3
    individual = await client.find_person(name="José Carlos Pereira")
    assert individual is not None and [q["tipos_pessoa"] for q in searches()[3:]] == [["Jurídica"], ["Física"]]

    # A document not found: its name among people of its type only, then nothing (the caller creates it).
    assert await client.find_person(document="11.222.333/0001-81", name="José Carlos Pereira") is None
    assert [q["tipos_pessoa"] for q in searches()[5:]] == [["Jurídica"], ["Jurídica"]]


@pytest.mark.anyio
async def test_type_ahead_lists_companies_and_individuals(env: Env) -> None:
    env.sandbox.control({"action": "configure", "pessoas_default_tipos_pessoa": "Física"})
    client = env.make()
    everyone = await client.search_people("")
    assert {p.person_type for p in everyone} == {"JURIDICA", "FISICA"}
    assert [p.name for p in everyone] == sorted((p.name for p in everyone), key=name_key)
    assert len(env.sandbox.state.api_calls("/v1/pessoas")) == 2  # at once, one per type
    [moinho] = await client.search_people(PERSON_DOCUMENTS["Moinho Anaconda Ltda"])
    assert moinho.id == PERSON_IDS["Moinho Anaconda Ltda"] and len(env.sandbox.state.api_calls("/v1/pessoas")) == 3


@pytest.mark.anyio
async def test_429_without_retry_after_backs_off_doubling(env: Env) -> None:
    env.sandbox.control({"action": "configure", "retry_after_on_429": False})
    env.sandbox.fail_next(3, 429)
    assert (await env.make().connected_company()).name
    assert [r.status for r in env.sandbox.state.api_calls()] == [429, 429, 429, 200]
    assert env.slept == [1.0, 2.0, 4.0]
    env.sandbox.fail_next(4, 429)
    with pytest.raises(RetryableGatewayError) as info:
        await env.make().connected_company()
    assert (info.value.status, info.value.retry_after) == (429, 8.0)  # the caller waits longer still


@pytest.mark.anyio
async def test_async_route_malformed_body_refused_at_once_or_by_its_protocol(env: Env) -> None:
    malformed = payable("PAG-2026-000501", account_id="not-an-id")
    with pytest.raises(PermanentGatewayError) as later:
        await env.make(route="async").create_payable(malformed)
    assert later.value.params["protocol_id"] in env.sandbox.state.protocols  # accepted, then failed

    env.sandbox.control({"action": "configure", "async_rejects_malformed": True})
    polls = len(env.sandbox.state.api_calls("/v1/protocolo/"))
    with pytest.raises(PermanentGatewayError) as at_once:
        await env.make(route="async").create_payable(malformed)
    assert at_once.value.status == 400 and "conta_financeira" in str(at_once.value)
    assert not isinstance(at_once.value, RetryableGatewayError) and "protocol_id" not in at_once.value.params
    assert len(env.sandbox.state.protocols) == 1 and len(env.sandbox.state.api_calls("/v1/protocolo/")) == polls
    assert env.sandbox.state.events == {}


@pytest.mark.anyio
async def test_default_limit_is_the_stricter_documented_500_a_minute(env: Env) -> None:
    env.sandbox.state.rate_limit_per_minute = 500  # an account held to the stricter figure Conta Azul has given
    client = env.make(limiter=None)  # the client's own limiter, with the defaults
    assert (client.limiter.per_second, client.limiter.per_minute) == (10, 500)
    await gather(*(client.connected_company() for _ in range(505)))
    statuses = [r.status for r in env.sandbox.state.api_calls()]
    assert len(statuses) == 505 and set(statuses) == {200}  # never met the limit
