"""Won deals become receivables, through the real server: signed webhooks of each CRM format, the posting worker
against the Conta Azul sandbox, the finance channel in LocalSlack; and ``/contaazul receivable`` by hand.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.dev import slack_payloads as payloads
from bot.scheduler import post_daily_digest
from ledger import flows
from ledger.contaazul.sandbox import Sandbox
from ledger.contaazul.sandbox.documents import make_cnpj
from ledger.contaazul.sandbox.models import Event
from ledger.contaazul.sandbox.seed import CATEGORY_IDS, COST_CENTER_IDS, PERSON_DOCUMENTS, PERSON_IDS
from ledger.crm.generic import sign_generic
from ledger.crm.hubspot import sign_hubspot
from ledger.domain import RequestStatus
from ledger.models import PaymentRequest
from ledger.policy import parse_policy
from ledger.receivables import ReceivableRule, ReceivableRules
from tests.harness import CFO, MANAGER, OUTSIDER, Aprova, running_aprova
from tests.pipedrive_standin import PipedriveStandIn

pytestmark = pytest.mark.anyio

SECRET, HUBSPOT_SECRET = "whsec-aprova-1", "hubspot-client-secret"
PIPEDRIVE_AUTH = ("aprova", "pd-webhook-password")
FINANCE = "C0FIN"
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
NEW_CNPJ = make_cnpj("445566770001")
MERCADO = "Mercado Bom Preço Ltda"
RULES = ReceivableRules(
    category="Vendas de Produtos",
    cost_center="Comercial",
    due_days=30,
    rules=(ReceivableRule(pipelines=frozenset({"eventos"}), category="Encomendas e Eventos", due_days=15),),
)
WEBHOOKS: dict[str, Any] = {
    "finance_channel": FINANCE,
    "webhook_secrets": ("whsec-new", SECRET),  # rotation: either key is accepted
    "pipedrive_webhook_user": PIPEDRIVE_AUTH[0],
    "pipedrive_webhook_password": PIPEDRIVE_AUTH[1],
    "hubspot_client_secrets": (HUBSPOT_SECRET,),
}


def generic_deal(**overrides: Any) -> dict[str, Any]:
    deal = {
        "deal_id": "D-1001",
        "title": "Coffee break — evento de dezembro",
        "value": "1234.56",
        "currency": "BRL",
        "won_at": "2026-11-24",
        "customer": {"name": "Eventos Primavera Ltda", "document": NEW_CNPJ, "email": "financeiro@primavera.com.br"},
        "pipeline": "Eventos",
    }
    return deal | overrides


async def post_generic(
    aprova: Aprova, payload: Any, *, secret: str = SECRET, shift: timedelta = timedelta(0), raw: bytes | None = None
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    timestamp = int((aprova.clock.now() + shift).timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-Aprova-Timestamp": str(timestamp),
        "X-Aprova-Signature": sign_generic(secret, timestamp, json.dumps(payload).encode() if raw else body),
    }
    return await settled(aprova, await aprova.http.post("/crm/generic", content=body, headers=headers))


async def settled(aprova: Aprova, answer: httpx.Response) -> httpx.Response:
    """The webhook's answer, once what it tells in Slack has gone out (the delivery worker's part)."""
    await aprova.settle()
    return answer


async def post_signed(aprova: Aprova, body: bytes) -> httpx.Response:
    """A generic delivery of exactly these bytes, correctly signed."""
    timestamp = int(aprova.clock.now().timestamp())
    headers = {"X-Aprova-Timestamp": str(timestamp), "X-Aprova-Signature": sign_generic(SECRET, timestamp, body)}
    return await aprova.http.post("/crm/generic", content=body, headers=headers)


async def post_hubspot(
    aprova: Aprova, payload: Any, *, secret: str = HUBSPOT_SECRET, shift: timedelta = timedelta(0)
) -> httpx.Response:
    body = json.dumps(payload).encode()
    timestamp = int((aprova.clock.now() + shift).timestamp() * 1000)
    uri = f"{aprova.deps.settings.public_base_url}/crm/hubspot"
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": str(timestamp),
        "X-HubSpot-Signature-v3": sign_hubspot(secret, "POST", uri, body, timestamp),
    }
    return await settled(aprova, await aprova.http.post("/crm/hubspot", content=body, headers=headers))


async def post_pipedrive(aprova: Aprova, payload: Any, *, auth: tuple[str, str] = PIPEDRIVE_AUTH) -> httpx.Response:
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {credentials}"}
    return await settled(
        aprova, await aprova.http.post("/crm/pipedrive", content=json.dumps(payload).encode(), headers=headers)
    )


def sandbox_of(aprova: Aprova) -> Sandbox:
    assert aprova.sandbox is not None
    return aprova.sandbox


def receivables_in(aprova: Aprova) -> list[Event]:
    return [e for e in sandbox_of(aprova).state.events.values() if e.tipo == "RECEITA"]


async def stored(aprova: Aprova) -> int:
    async with aprova.deps.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentRequest)) or 0)


def finance_messages(aprova: Aprova) -> list[dict[str, Any]]:
    return [m for m in aprova.slack.messages(FINANCE) if not m.get("thread_ts")]


def thread(aprova: Aprova, message: dict[str, Any]) -> list[str]:
    return [m["text"] for m in aprova.slack.thread(message["channel"], message["ts"])]


def webhooks_app(session_factory, clock, **overrides: Any) -> Any:
    rules = overrides.pop("receivables", RULES)
    return running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, receivables=rules, **(WEBHOOKS | overrides)
    )


# --------------------------------------------------------------------------------------------------- generic


async def test_same_deal_three_times_is_one_receivable_with_a_new_customer(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        people_before = len(sandbox_of(aprova).state.people)
        answers = []
        for secret in (SECRET, SECRET, SECRET, "whsec-new"):  # the CRM retries, each delivery signed anew
            answers.append(await post_generic(aprova, generic_deal(), secret=secret))
            clock.advance(timedelta(seconds=1))
        assert [a.status_code for a in answers] == [202, 200, 200, 200]
        assert answers[0].json() == {"status": "accepted", "reference": "REC-2026-000001"}
        assert all(a.json() == {"status": "duplicate", "reference": "REC-2026-000001"} for a in answers[1:])
        assert await stored(aprova) == 1

        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = receivables_in(aprova)
        [installment] = sandbox_of(aprova).state.event_installments(event.id)
        assert Decimal(str(event.valor)) == Decimal("1234.56")
        assert event.data_competencia == "2026-11-24" and installment.data_vencimento == "2026-12-09"  # +15 days
        [split] = event.rateio
        assert split["id_categoria"] == CATEGORY_IDS["Encomendas e Eventos"]  # the Eventos pipeline rule
        assert split["rateio_centro_custo"][0]["id_centro_custo"] == COST_CENTER_IDS["Comercial"]
        assert event.referencia_externa == "REC-2026-000001" and "REC-2026-000001" in event.descricao
        customer = sandbox_of(aprova).state.people[event.contato_id]
        assert len(sandbox_of(aprova).state.people) == people_before + 1
        assert (customer.nome, customer.perfis, customer.email) == (
            "Eventos Primavera Ltda",
            ["CLIENTE"],
            "financeiro@primavera.com.br",
        )

        [tracking] = finance_messages(aprova)
        assert tracking["text"] == "REC-2026-000001 · Eventos Primavera Ltda · R$ 1.234,56 — 📗 Lançado no Conta Azul"
        shown = json.dumps(tracking["blocks"], ensure_ascii=False)
        assert (
            "*Cliente*" in shown and "sem aprovação (lançamento direto)" in shown and "enviado por o CRM" not in shown
        )
        assert thread(aprova, tracking) == [
            "📗 Conta a receber lançada no Conta Azul: Eventos Primavera Ltda · R$ 1.234,56 · vencimento 09/12/2026 "
            f"· id `{event.id}` · <https://app.contaazul.com/#/ca/financeiro/contas-a-receber|abrir contas a receber>"
        ]
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.kind, request.source, request.status) == ("receivable", "generic", RequestStatus.POSTED)

        # Delivered again after posting: still one.
        clock.advance(timedelta(minutes=1))
        assert (await post_generic(aprova, generic_deal())).json()["status"] == "duplicate"
        assert await aprova.post() == [] and len(receivables_in(aprova)) == 1

        # The next morning's digest counts it apart from the payables.
        clock.advance(timedelta(days=1))
        assert await post_daily_digest(aprova.deps, aprova.poster.client, owner="a")  # type: ignore[union-attr]
        digest = json.dumps(finance_messages(aprova)[-1]["blocks"], ensure_ascii=False)
        assert "📥 *Contas a receber lançadas no dia*\\n1 · R$ 1.234,56" in digest
        assert "📗 *Lançados no dia*\\n0 · R$ 0,00" in digest


async def test_existing_customer_is_found_by_cnpj_and_installments_split_monthly(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        people_before = len(sandbox_of(aprova).state.people)
        customer = {"name": "Mercado Bom Preço", "document": PERSON_DOCUMENTS[MERCADO]}  # another spelling
        deal = generic_deal(deal_id="D-2002", value=1000, pipeline="Atacado", customer=customer, installments=3)
        assert (await post_generic(aprova, deal)).status_code == 202
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = receivables_in(aprova)
        assert event.contato_id == PERSON_IDS[MERCADO] and len(sandbox_of(aprova).state.people) == people_before
        assert event.rateio[0]["id_categoria"] == CATEGORY_IDS["Vendas de Produtos"]  # no rule matched: the default
        parcels = sorted(sandbox_of(aprova).state.event_installments(event.id), key=lambda p: p.data_vencimento)
        assert [p.data_vencimento for p in parcels] == ["2026-12-24", "2027-01-24", "2027-02-24"]  # won + 30 days
        amounts = [Decimal(str(p.detalhe_valor["valor_bruto"])) for p in parcels]
        assert amounts == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")] and sum(amounts) == Decimal(1000)
        [tracking] = finance_messages(aprova)
        assert "(3× mensais)" in thread(aprova, tracking)[-1]


@pytest.mark.parametrize(
    "case",
    ["wrong-secret", "tampered-body", "stale", "future", "no-signature", "no-timestamp"],
)
async def test_forged_or_stale_generic_webhooks_get_401_and_store_nothing(session_factory, clock, case):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        deal = generic_deal()
        if case == "wrong-secret":
            answer = await post_generic(aprova, deal, secret="guessed")
        elif case == "tampered-body":
            answer = await post_generic(aprova, deal, raw=json.dumps(deal | {"value": "9234.56"}).encode())
        elif case in ("stale", "future"):
            answer = await post_generic(aprova, deal, shift=timedelta(seconds=-301 if case == "stale" else 301))
        else:
            body = json.dumps(deal).encode()
            header = "X-Aprova-Timestamp" if case == "no-signature" else "X-Aprova-Signature"
            value = str(int(clock.now().timestamp())) if case == "no-signature" else sign_generic(SECRET, 1, body)
            answer = await aprova.http.post("/crm/generic", content=body, headers={header: value})
        assert answer.status_code == 401, answer.text
        assert await stored(aprova) == 0 and finance_messages(aprova) == []
        # Within the window, the same deal signed properly goes through.
        assert (await post_generic(aprova, deal, shift=timedelta(seconds=-299))).status_code == 202


async def test_a_replayed_request_changes_nothing(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        body = json.dumps(generic_deal(deal_id="D-3003")).encode()
        timestamp = int(clock.now().timestamp())
        headers = {"X-Aprova-Timestamp": str(timestamp), "X-Aprova-Signature": sign_generic(SECRET, timestamp, body)}
        first = await aprova.http.post("/crm/generic", content=body, headers=headers)
        clock.advance(timedelta(minutes=2))  # inside the window: the signature still checks out
        replay = await settled(aprova, await aprova.http.post("/crm/generic", content=body, headers=headers))
        assert (first.status_code, replay.status_code) == (202, 200) and replay.json() == {"status": "duplicate"}
        assert await stored(aprova) == 1 and len(finance_messages(aprova)) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": {"name": "Cliente X", "document": "11.111.111/1111-11"}}, "customer_document"),
        ({"value": "0"}, None),
        ({"value": "12.345"}, None),
        ({"currency": "USD"}, None),
        ({"won_at": "24/11/2026"}, None),
        ({"customer": {"document": NEW_CNPJ}}, None),
        ({"installments": 99}, "installments"),
        ({"value": "0.05", "installments": 10}, "installments"),  # installments of R$ 0,00 would be refused later
    ],
)
async def test_a_deal_that_cannot_become_a_receivable_gets_422_and_nothing_is_stored(
    session_factory, clock, change, field
):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        answer = await post_generic(aprova, generic_deal() | change)
        assert answer.status_code == 422, answer.text
        if field:
            assert field in answer.json()["fields"]
        assert await stored(aprova) == 0
        for junk in (b"not json", b"[1, 2]"):
            assert (await post_generic(aprova, None, raw=junk)).status_code in (400, 401, 422)


HOSTILE_VALUES: list[tuple[dict[str, Any] | bytes, str]] = [
    ({"value": "1e40"}, "value"),
    (b'{"deal_id": "D-9", "value": 1e40, "won_at": "2026-11-24", "customer": {"name": "X"}}', "value"),
    ({"value": "99999999999999999.99"}, "value"),  # would overflow the centavos column
    ({"value": 10**30}, "value"),
    ({"won_at": "0001-01-01"}, "won_at"),
    ({"won_at": "9999-12-31"}, "won_at"),  # + 30 days would overflow
    ({"won_at": "9999-12-31T23:59:59-05:00"}, "won_at"),
    ({"won_at": 10**40}, "won_at"),
    ({"won_at": -86400}, "won_at"),
    (b'{"deal_id": "D-9", "value": "10", "won_at": 1e400, "customer": {"name": "X"}}', "won_at"),
    ({"won_at": "\u00b2"}, "won_at"),  # a digit to Python, not a date
    ({"due_date": "9999-12-15", "installments": 2}, "due_date"),
    ({"installments": "\u0663"}, "installments"),  # Arabic-Indic 3
    ({"installments": "9" * 40}, "installments"),
]


async def test_hostile_values_get_422_naming_the_field_and_store_nothing(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        for change, field in HOSTILE_VALUES:
            if isinstance(change, bytes):  # numbers JSON can say but Python's json.dumps cannot write
                answer = await post_signed(aprova, change)
            else:
                answer = await post_generic(aprova, generic_deal() | change)
            assert answer.status_code == 422, (change, answer.status_code, answer.text)
            assert field in answer.json()["fields"], (change, answer.text)
        assert (await aprova.http.post("/crm/generic", content=b"1" * 5000, headers={})).status_code == 401
        assert await stored(aprova) == 0 and finance_messages(aprova) == []
        assert (await post_generic(aprova, generic_deal())).status_code == 202


async def test_non_ascii_or_malformed_credentials_get_401(session_factory, clock):
    """Headers are whatever a client sends: non-ASCII signatures, timestamps in other digits, bytes that are not
    UTF-8 — each a 401, never a crash."""
    async with webhooks_app(session_factory, clock) as aprova:
        body = json.dumps(generic_deal()).encode()
        now = int(clock.now().timestamp())
        signature = sign_generic(SECRET, now, body)
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("generic", {"X-Aprova-Timestamp": str(now), "X-Aprova-Signature": (signature[:-1] + "é").encode()}),
            ("generic", {"X-Aprova-Timestamp": str(now), "X-Aprova-Signature": signature.encode() + b"\xff"}),
            ("generic", {"X-Aprova-Timestamp": "\u00b2".encode(), "X-Aprova-Signature": signature}),
            (
                "generic",
                {"X-Aprova-Timestamp": str(now).translate(ARABIC_DIGITS).encode(), "X-Aprova-Signature": signature},
            ),
            ("generic", {"X-Aprova-Timestamp": "9" * 5000, "X-Aprova-Signature": signature}),
            ("hubspot", {"X-HubSpot-Request-Timestamp": str(now * 1000), "X-HubSpot-Signature-v3": "ñ".encode()}),
            ("hubspot", {"X-HubSpot-Request-Timestamp": b"\xe9", "X-HubSpot-Signature-v3": "abc"}),
            ("pipedrive", {"Authorization": "Basic é".encode()}),
            ("pipedrive", {"Authorization": b"Basic \xff\xfe"}),
            ("pipedrive", {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}),
        ]
        for source, headers in attempts:
            answer = await aprova.http.post(f"/crm/{source}", content=body, headers=headers)
            assert answer.status_code == 401, (source, headers, answer.status_code, answer.text)
        assert await stored(aprova) == 0


async def test_a_delivery_refused_with_503_is_taken_when_sent_again(session_factory, clock):
    """The replay key is claimed with the receivable: the CRM's retry of the same signed request is not a
    "duplicate" of a delivery that stored nothing."""
    rules = replace(RULES, require_approval=True)
    policy = parse_policy({"default": {"steps": [{"name": "Diretoria", "approvers": ["S0DIRETORIA"]}]}})
    async with webhooks_app(session_factory, clock, receivables=rules, policy=policy) as aprova:
        body = json.dumps(generic_deal(deal_id="D-5003")).encode()
        timestamp = int(clock.now().timestamp())
        headers = {"X-Aprova-Timestamp": str(timestamp), "X-Aprova-Signature": sign_generic(SECRET, timestamp, body)}
        aprova.slack.fail_next("usergroups.users.list", error="internal_error")  # nobody to approve, right now
        refused = await aprova.http.post("/crm/generic", content=body, headers=headers)
        assert refused.status_code == 503 and await stored(aprova) == 0
        clock.advance(timedelta(minutes=1))  # the CRM sends the same signed request again, within the window
        retried = await aprova.http.post("/crm/generic", content=body, headers=headers)
        assert (retried.status_code, retried.json()) == (202, {"status": "accepted", "reference": "REC-2026-000001"})
        replay = await aprova.http.post("/crm/generic", content=body, headers=headers)
        assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
        assert await stored(aprova) == 1


async def test_missing_revenue_category_fails_clearly_with_retry(session_factory, clock):
    rules = replace(RULES, category="Receita de Assinaturas", rules=())
    async with webhooks_app(session_factory, clock, receivables=rules) as aprova:
        await aprova.connect_contaazul()
        assert (await post_generic(aprova, generic_deal())).status_code == 202
        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "category_missing"
        assert receivables_in(aprova) == []
        tracking, notice = finance_messages(aprova)
        reason = "a categoria “Receita de Assinaturas” não existe no Conta Azul (foi renomeada ou apagada?)"
        assert thread(aprova, tracking) == [f"⚠️ Não consegui lançar no Conta Azul: {reason}. O financeiro foi avisado."]
        assert reason in notice["text"] and "REC-2026-000001" in notice["text"]
        assert any(
            e["action_id"] == "posting-retry" for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"]
        )


async def test_without_configuration_the_webhooks_answer_404(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        for source in ("generic", "pipedrive", "hubspot", "other"):
            assert (await aprova.http.post(f"/crm/{source}", content=b"{}")).status_code == 404
    async with webhooks_app(session_factory, clock, receivables=None) as aprova:
        answer = await post_generic(aprova, generic_deal())
        assert answer.status_code == 404 and "receivables.toml" in answer.json()["error"]


# --------------------------------------------------------------------------------------------------- approval


async def test_receivables_can_require_approval_with_the_same_buttons(session_factory, clock):
    rules = replace(RULES, require_approval=True)
    async with webhooks_app(session_factory, clock, receivables=rules) as aprova:
        await aprova.connect_contaazul()
        assert (await post_generic(aprova, generic_deal())).status_code == 202
        await aprova.settle()
        assert await aprova.post() == []  # waits for the approver
        [asked] = aprova.approval_messages(MANAGER)
        assert asked["text"] == "Aprovação pedida: REC-2026-000001 · Eventos Primavera Ltda · R$ 1.234,56"
        shown = json.dumps(asked["blocks"], ensure_ascii=False)
        assert "Conta a receber REC-2026-000001" in shown and "CRM pede a sua aprovação" in shown
        [tracking] = finance_messages(aprova)
        assert "payment-cancel" not in json.dumps(tracking["blocks"])  # nobody to cancel it: approvers decide

        await aprova.click(asked, "payment-approve", user_id=MANAGER)
        await aprova.settle()
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert len(receivables_in(aprova)) == 1
        replies = thread(aprova, tracking)
        assert replies[0].startswith("✅ Pedido aprovado por <@U0MGR>") and replies[-1].startswith("📗 Conta a receber")


# --------------------------------------------------------------------------------------------------- Pipedrive


def pipedrive_v2(*, status: str = "won", previous: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    deal = {
        "id": 4242,
        "title": "Bolo de casamento — Silva",
        "value": 2500,
        "currency": "BRL",
        "status": status,
        "won_time": "2026-11-25T13:10:00Z",
        "pipeline_id": 1,
        "org_id": 7,
        "person_id": 9,
        "custom_fields": {"9f1cdoc": {"type": "varchar", "value": NEW_CNPJ}},
    } | data
    meta = {"action": "change", "entity": "deal", "entity_id": 4242, "version": "2.0", "id": "d1b0", "attempt": 1}
    return {"meta": meta, "data": deal, "previous": previous if previous is not None else {"status": "open"}}


async def test_pipedrive_v2_won_deal_reads_its_organization_and_posts_once(session_factory, clock):
    rules = replace(RULES, pipedrive=replace(RULES.pipedrive, document_field="9f1cdoc"))
    async with PipedriveStandIn(token="pd-api-token") as pipedrive:
        pipedrive.organizations[7] = {"id": 7, "name": "Buffet Silva & Filhos Ltda", "custom_fields": {}}
        pipedrive.persons[9] = {
            "id": 9,
            "name": "Ana Silva",
            "emails": [{"value": "ana@buffetsilva.com.br", "primary": True}],
        }
        settings = {"pipedrive_api_url": pipedrive.url, "pipedrive_api_token": "pd-api-token"}
        async with webhooks_app(session_factory, clock, receivables=rules, **settings) as aprova:
            await aprova.connect_contaazul()
            assert (await post_pipedrive(aprova, pipedrive_v2(), auth=("aprova", "wrong"))).status_code == 401
            assert pipedrive.requests == [] and await stored(aprova) == 0

            for payload, why in [
                (pipedrive_v2(status="open", previous={"stage_id": 1}), "the deal is not won"),
                (pipedrive_v2(previous={"title": "old title"}), "the deal was already won"),
            ]:
                answer = await post_pipedrive(aprova, payload)
                assert answer.status_code == 200 and answer.json() == {"status": "ignored", "reason": why}

            answers = [await post_pipedrive(aprova, pipedrive_v2()) for _ in range(3)]  # Pipedrive retries
            assert [a.status_code for a in answers] == [202, 200, 200]
            assert pipedrive.requests[:2] == ["/api/v2/organizations/7", "/api/v2/persons/9"]
            [result] = await aprova.post()
            assert result.outcome == "posted", result.posting.error_detail
            [event] = receivables_in(aprova)
            customer = sandbox_of(aprova).state.people[event.contato_id]
            assert (customer.nome, customer.documento, customer.email) == (
                "Buffet Silva & Filhos Ltda",
                NEW_CNPJ,
                "ana@buffetsilva.com.br",
            )
            assert event.data_competencia == "2026-11-25" and Decimal(str(event.valor)) == Decimal(2500)
            request = await flows.get_request(session_factory, request_id=1)
            assert request.source == "pipedrive" and "Pipedrive: negócio 4242" in (request.notes or "")


async def test_pipedrive_v1_payload_carries_the_names_itself(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        payload = {
            "v": 1,
            "meta": {"v": 1, "action": "updated", "object": "deal", "id": 77, "timestamp": 1795618800},
            "current": {
                "id": 77,
                "title": "Encomenda de pães",
                "value": 480.5,
                "currency": "BRL",
                "status": "won",
                "won_time": "2026-11-25 12:00:00",
                "org_name": "Café da Esquina ME",
                "person_name": "Rita",
                "pipeline_id": 2,
            },
            "previous": {"status": "open"},
        }
        assert (await post_pipedrive(aprova, payload)).status_code == 202
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = receivables_in(aprova)
        assert event.contato_id == PERSON_IDS["Café da Esquina ME"]  # an existing customer, by exact name
        assert Decimal(str(event.valor)) == Decimal("480.50")


async def test_pipedrive_v2_without_an_api_token_says_what_to_set(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        answer = await post_pipedrive(aprova, pipedrive_v2())
        assert answer.status_code == 422 and "PIPEDRIVE_API_TOKEN" in answer.json()["error"]
        assert await stored(aprova) == 0


# --------------------------------------------------------------------------------------------------- HubSpot


def hubspot_deal(**properties: Any) -> dict[str, Any]:
    values = {
        "dealname": "Festa de fim de ano — Construtora Alfa",
        "amount": "8900.00",
        "closedate": "1795446000000",  # 2026-11-23 15:00 UTC, in milliseconds
        "dealstage": "closedwon",
        "pipeline": "default",
        "company_name": "Construtora Alfa S.A.",
        "cnpj": NEW_CNPJ,
        "email": "compras@alfa.com.br",
        "deal_currency_code": "BRL",
    } | properties
    return {"objectId": 987654, "properties": {k: {"value": v} for k, v in values.items()}}


async def test_hubspot_workflow_webhook_is_verified_and_posted(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        assert (await post_hubspot(aprova, hubspot_deal(), secret="forged")).status_code == 401
        assert (await post_hubspot(aprova, hubspot_deal(), shift=timedelta(minutes=-6))).status_code == 401
        events = [{"objectId": 987654, "subscriptionType": "deal.propertyChange", "propertyName": "dealstage"}]
        answer = await post_hubspot(aprova, events)
        assert answer.status_code == 200 and answer.json()["status"] == "ignored"
        answer = await post_hubspot(aprova, hubspot_deal(dealstage="contractsent"))
        assert answer.json() == {"status": "ignored", "reason": "deal stage 'contractsent' is not a won stage"}
        assert await stored(aprova) == 0

        assert (await post_hubspot(aprova, hubspot_deal())).status_code == 202
        flat = {
            "hs_object_id": "987654",
            "amount": "8900.00",
            "company_name": "Construtora Alfa S.A.",
            "closedate": "2026-11-23",
        }
        assert (await post_hubspot(aprova, flat)).json()["status"] == "duplicate"  # same deal id, flat body
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = receivables_in(aprova)
        assert Decimal(str(event.valor)) == Decimal("8900.00") and event.data_competencia == "2026-11-23"
        assert sandbox_of(aprova).state.people[event.contato_id].nome == "Construtora Alfa S.A."


# --------------------------------------------------------------------------------------------------- by hand


async def test_finance_admin_posts_a_receivable_from_the_modal(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        trigger = aprova.slack.new_trigger_id()
        await aprova.send_form(
            payloads.slash_command("/contaazul", user_id=OUTSIDER, trigger_id=trigger, text="receivable")
        )
        await aprova.settle()
        assert aprova.slack.ephemerals(OUTSIDER)[-1]["text"].startswith("Desculpe, só os administradores do financeiro")

        trigger = aprova.slack.new_trigger_id()
        await aprova.send_form(payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="receivable"))
        await aprova.settle()
        view = aprova.latest_view("contaazul-receivable")
        kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
        assert kinds["category"] == kinds["customer_name"] == "external_select"
        options = await aprova.send_form(
            payloads.block_suggestion(view, block_id="category", user_id=CFO, value="vend")
        )
        assert [o["value"] for o in options.json()["options"]] == ["Vendas de Produtos"]  # revenue categories only

        answers = {
            "description": "Bolos para o evento de Natal",
            "customer_name": "Restaurante Sabor Caseiro Ltda",
            "amount": "R$ 3.200,00",
            "sale_date": "2026-11-25",
            "due_date": "2026-11-20",  # in the past: refused under the field
            "category": "Vendas de Produtos",
            "customer_email": "sem-arroba",
        }
        refused = await aprova.submit(view, user_id=CFO, **answers)
        assert set(refused.json()["errors"]) == {"due_date", "customer_email"}
        assert await stored(aprova) == 0
        answers |= {"due_date": "2026-12-20", "customer_email": "", "installments": "2"}
        assert (await aprova.submit(view, user_id=CFO, **answers)).text == ""
        await aprova.settle()
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = receivables_in(aprova)
        assert event.contato_id == PERSON_IDS["Restaurante Sabor Caseiro Ltda"]
        assert len(sandbox_of(aprova).state.event_installments(event.id)) == 2
        [tracking] = finance_messages(aprova)
        assert thread(aprova, tracking)[-1].startswith("<@U0CFO> 📗 Conta a receber lançada no Conta Azul")
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.source, request.requester_id) == ("manual", CFO)


async def test_a_supplier_who_buys_from_us_becomes_a_customer_too(session_factory, clock):
    async with webhooks_app(session_factory, clock) as aprova:
        await aprova.connect_contaazul()
        people_before = len(sandbox_of(aprova).state.people)
        moinho = {"name": "Moinho Anaconda Ltda", "document": PERSON_DOCUMENTS["Moinho Anaconda Ltda"]}
        assert (await post_generic(aprova, generic_deal(deal_id="D-4004", customer=moinho))).status_code == 202
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = receivables_in(aprova)
        person = sandbox_of(aprova).state.people[event.contato_id]
        assert person.id == PERSON_IDS["Moinho Anaconda Ltda"] and len(sandbox_of(aprova).state.people) == people_before
        assert sorted(person.perfis) == ["CLIENTE", "FORNECEDOR"]
