"""Posting approved requests to Conta Azul exactly once, through the real app.

Signed Slack requests reach the Bolt app, which talks to LocalSlack; the posting worker talks to the Conta Azul
sandbox over HTTP. Every test counts the entries the sandbox holds, checks the request's final status and what
people read in Slack. Time is virtual: the app, the worker and the sandbox share one FixedClock, and every wait
(Retry-After, rate limits, protocol polling) moves it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import secrets
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from bot.blocks.posting_messages import PAYABLES_URL
from bot.dev import slack_payloads as payloads
from bot.dev.localslack import LocalSlack
from bot.posting import PostingLoop
from ledger import flows
from ledger.clock import SystemClock
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.models import ASYNC_PATHS, SEARCH_PATHS, SYNC_PATHS
from ledger.contaazul.oauth import OAuthConfig
from ledger.contaazul.sandbox import Sandbox
from ledger.contaazul.sandbox.documents import make_cnpj, make_cpf
from ledger.contaazul.sandbox.models import Category, Event, Installment, RequestRecord
from ledger.contaazul.sandbox.seed import (
    ACCOUNT_CAIXINHA,
    ACCOUNT_IDS,
    ACCOUNT_ITAU,
    CATEGORY_IDS,
    COST_CENTER_IDS,
    PERSON_DOCUMENTS,
    PERSON_IDS,
)
from ledger.db import create_engine, create_session_factory, upgrade
from ledger.domain import PaymentMethod, PlannedStep, RequestDraft, RequestStatus
from ledger.models import AuditEvent, PaymentRequest, Posting
from ledger.outbox import PostingResult, PostingStatus, enqueue_posting, posting_for
from ledger.read_models import PostingView, RequestView
from tests.harness import (
    CFO,
    ENCRYPTION_KEY,
    MANAGER,
    REQUESTER,
    SANDBOX_CLIENT_ID,
    SANDBOX_SECRET,
    Aprova,
    running_aprova,
)

pytestmark = pytest.mark.anyio

CREATE = SYNC_PATHS["payable"]
CREATE_ASYNC = ASYNC_PATHS["payable"]
SEARCH = SEARCH_PATHS["payable"]
RETRY = "posting-retry"
APPROVE = "payment-approve"
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------------- helpers


def sandbox_of(aprova: Aprova) -> Sandbox:
    assert aprova.sandbox is not None
    return aprova.sandbox


def entries(aprova: Aprova) -> list[Event]:
    return list(sandbox_of(aprova).state.events.values())


def the_entry(aprova: Aprova) -> tuple[Event, Installment]:
    """The one entry in the sandbox, with its one installment (fails if there are more)."""
    [event] = entries(aprova)
    [installment] = sandbox_of(aprova).state.event_installments(event.id)
    return event, installment


def calls(aprova: Aprova, path: str, method: str = "POST") -> list[RequestRecord]:
    return [r for r in sandbox_of(aprova).state.request_log if r.path == path and r.method == method]


async def approve(aprova: Aprova, **overrides: Any) -> dict[str, Any]:
    """File a request as the requester and approve it as the manager (its only step, under R$ 10.000)."""
    tracking = await aprova.file_request(**overrides)
    await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
    await aprova.settle()
    return tracking


async def request_no(aprova: Aprova, number: int = 1) -> RequestView:
    return await flows.get_request(aprova.deps.session_factory, request_id=number)


async def posting_no(aprova: Aprova, number: int = 1) -> PostingView:
    posting = await posting_for(aprova.deps.session_factory, request_id=number)
    assert posting is not None
    return posting


async def post_after_backoff(aprova: Aprova) -> list[PostingResult]:
    """Nothing happens before the posting is due; move the clock to the moment it is, and run the worker."""
    posting = await posting_no(aprova)
    assert posting.status == PostingStatus.PENDING and posting.next_attempt_at > aprova.clock.now()
    assert await aprova.post() == []
    aprova.clock.set(posting.next_attempt_at)
    return await aprova.post()


def posted_reply(vendor: str, entry_id: str) -> str:
    return (
        f"<@{REQUESTER}> 📗 Lançado no Conta Azul: {vendor} · R$ 1.234,56 · vencimento 10/12/2026 · "
        f"id `{entry_id}` · <{PAYABLES_URL}|abrir contas a pagar>"
    )


def failed_reply(reason: str) -> str:
    return f"<@{REQUESTER}> ⚠️ Não consegui lançar no Conta Azul: {reason}. O financeiro foi avisado."


def finance_notices(aprova: Aprova, channel: str) -> list[dict[str, Any]]:
    return [m for m in aprova.slack.messages(channel) if "não foi lançado no Conta Azul" in m["text"]]


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


async def assert_posted_once(
    aprova: Aprova, tracking: dict[str, Any], *, vendor: str = "Moinho Anaconda Ltda", route: str = "sync"
) -> Event:
    """Exactly one entry, the request posted with its id, one posted reply in the thread, the id on the tracking."""
    event, _ = the_entry(aprova)
    request = await request_no(aprova)
    assert request.status == RequestStatus.POSTED and request.contaazul_id == event.id
    posting = await posting_no(aprova)
    assert posting.status == PostingStatus.DONE and posting.contaazul_id == event.id
    # The older async route has no external reference field: the description carries ours alone.
    assert event.referencia_externa == (request.reference if route == "sync" else None)
    assert request.reference in event.descricao
    replies = [m["text"] for m in aprova.thread(tracking) if "Lançado no Conta Azul" in m["text"]]
    assert replies == [posted_reply(vendor, event.id)]
    shown = json.dumps(aprova.message(tracking["channel"], tracking["ts"])["blocks"], ensure_ascii=False)
    assert f"Conta Azul: lançamento `{event.id}`" in shown and "📗 Lançado no Conta Azul" in shown
    assert await aprova.post() == []  # nothing left to do
    assert len(entries(aprova)) == 1
    return event


# --------------------------------------------------------------------------------------------------- 1. happy paths

NEW_CNPJ = make_cnpj("998877660001")
NEW_CPF = make_cpf("321654987")


@pytest.mark.parametrize(
    ("answers", "vendor"),
    [
        pytest.param(
            # A different spelling of the name: the CNPJ alone finds the supplier.
            {"vendor_name": "Enel SP", "vendor_document": PERSON_DOCUMENTS["Enel Distribuição São Paulo"]},
            {"id": PERSON_IDS["Enel Distribuição São Paulo"]},
            id="vendor-found-by-cnpj",
        ),
        pytest.param(
            {"vendor_name": "Distribuidora Trigo Bom Ltda", "vendor_document": NEW_CNPJ},
            {"tipo_pessoa": "JURIDICA", "documento": NEW_CNPJ},
            id="new-vendor-cnpj",
        ),
        pytest.param(
            {
                "vendor_name": "Marcos Antônio Ferreira",
                "vendor_document": NEW_CPF,
                "payment_method": "pix",
                "payment_code": "marcos.ferreira@example.com",
            },
            {"tipo_pessoa": "FISICA", "documento": NEW_CPF},
            id="new-vendor-cpf-pix",
        ),
        pytest.param(
            {"vendor_name": "Papelaria Central ME", "vendor_document": ""},
            {"id": PERSON_IDS["Papelaria Central ME"]},
            id="vendor-found-by-name",
        ),
        pytest.param({"cost_center": "Obra Nova"}, {"id": PERSON_IDS["Moinho Anaconda Ltda"]}, id="new-cost-center"),
        pytest.param({"cost_center": ""}, {"id": PERSON_IDS["Moinho Anaconda Ltda"]}, id="no-cost-center"),
    ],
)
async def test_approved_request_is_posted_once_with_its_fields(session_factory, clock, answers, vendor):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        state = sandbox_of(aprova).state
        await aprova.connect_contaazul()
        people_before, centers_before = len(state.people), len(state.cost_centers)
        tracking = await approve(aprova, **answers)
        assert entries(aprova) == []  # approval only queues the posting

        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        event, installment = the_entry(aprova)
        request = await request_no(aprova)

        # The entry, field by field.
        assert Decimal(str(event.valor)) == Decimal("1234.56") == request.amount
        assert Decimal(str(installment.detalhe_valor["valor_bruto"])) == Decimal("1234.56")
        assert event.data_competencia == "2026-11-01" and installment.data_vencimento == "2026-12-10"
        assert event.conta_financeira_id == installment.conta_financeira_id == ACCOUNT_IDS[ACCOUNT_ITAU]
        [split] = event.rateio
        assert split["id_categoria"] == CATEGORY_IDS["Matéria-Prima"] and Decimal(str(split["valor"])) == Decimal(
            "1234.56"
        )
        method = "PIX_PAGAMENTO_INSTANTANEO" if answers.get("payment_method") == "pix" else "BOLETO_BANCARIO"
        assert installment.metodo_pagamento == method
        assert request.reference.startswith("PAG-2026-")
        assert request.reference in event.descricao and request.reference in installment.descricao
        assert event.referencia_externa == request.reference and request.reference in (event.observacao or "")

        cost_center = answers.get("cost_center", "Produção")
        if not cost_center:
            assert split["rateio_centro_custo"] == [] and len(state.cost_centers) == centers_before
        else:
            [center_split] = split["rateio_centro_custo"]
            center = state.cost_centers[center_split["id_centro_custo"]]
            assert center.nome == cost_center and Decimal(str(center_split["valor"])) == Decimal("1234.56")
            created = 0 if cost_center in COST_CENTER_IDS else 1
            assert len(state.cost_centers) == centers_before + created
            assert created or center.id == COST_CENTER_IDS[cost_center]

        person = state.people[event.contato_id]
        if "id" in vendor:
            assert person.id == vendor["id"] and len(state.people) == people_before
        else:
            assert len(state.people) == people_before + 1
            assert (person.nome, person.tipo_pessoa, person.documento, person.perfis) == (
                answers["vendor_name"],
                vendor["tipo_pessoa"],
                vendor["documento"],
                ["FORNECEDOR"],
            )

        assert len(calls(aprova, CREATE)) == 1
        await assert_posted_once(aprova, tracking, vendor=request.vendor_name)


# --------------------------------------------------------------------------------------------------- 2. category


async def retry_as(aprova: Aprova, notice: dict[str, Any], user_id: str) -> None:
    await aprova.click(notice, RETRY, user_id=user_id)
    await aprova.settle()


@pytest.mark.parametrize("how", ["typed-before-connecting", "renamed-in-conta-azul"])
async def test_missing_category_fails_then_an_admin_retries_once(session_factory, clock, how):
    in_channel = how == "renamed-in-conta-azul"
    settings = {"finance_channel": "C0FIN"} if in_channel else {}
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True, **settings) as aprova:
        state = sandbox_of(aprova).state
        if in_channel:
            await aprova.connect_contaazul()
            name = "Energia Elétrica"
            tracking = await approve(aprova, category=name)
            category = state.categories[CATEGORY_IDS[name]]
            category.nome = "Energia e Gás"  # renamed in Conta Azul after the request was filed

            def fix() -> str:
                category.nome = name
                return category.id

        else:
            name = "Insumos de Padaria"
            tracking = await approve(aprova, category=name)
            modal = aprova.latest_view("payment-request")
            kinds = {b["block_id"]: b["element"]["type"] for b in modal["blocks"] if b["type"] == "input"}
            assert kinds["category"] == "plain_text_input"  # typed, since Conta Azul was not connected yet
            await aprova.connect_contaazul()

            def fix() -> str:
                state.categories["c0ffee00-0000-4000-8000-000000000001"] = Category(
                    "c0ffee00-0000-4000-8000-000000000001", name, "DESPESA", None, "CUSTO_MERCADORIAS_VENDIDAS"
                )
                return "c0ffee00-0000-4000-8000-000000000001"

        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "category_missing"
        assert entries(aprova) == [] and calls(aprova, CREATE) == []
        request = await request_no(aprova)
        assert request.status == RequestStatus.POST_FAILED and request.contaazul_id is None
        posting = await posting_no(aprova)
        assert (posting.status, posting.error_code) == (PostingStatus.FAILED, "category_missing")
        reason = f"a categoria “{name}” não existe no Conta Azul (foi renomeada ou apagada?)"
        assert aprova.thread(tracking)[-1]["text"] == failed_reply(reason)
        shown = json.dumps(aprova.message(tracking["channel"], tracking["ts"])["blocks"], ensure_ascii=False)
        assert "Falha ao lançar no Conta Azul" in shown

        where = "C0FIN" if in_channel else aprova.slack.dm_channel(CFO)
        [notice] = finance_notices(aprova, where)
        assert request.reference in notice["text"] and reason in notice["text"] and "R$ 1.234,56" in notice["text"]
        assert buttons(notice) == [RETRY]
        if in_channel:
            assert finance_notices(aprova, aprova.slack.dm_channel(CFO)) == []  # the channel, not each admin
        original = copy.deepcopy(notice)

        # Someone who is not a finance admin sees the button in the channel: a polite no, nothing changes.
        await retry_as(aprova, notice, MANAGER)
        assert aprova.slack.ephemerals(MANAGER)[-1]["text"] == (
            "Só os administradores do financeiro podem tentar lançar de novo."
        )
        assert (await request_no(aprova)).status == RequestStatus.POST_FAILED
        assert await aprova.post() == []  # still nothing due

        category_id = fix()
        await retry_as(aprova, notice, CFO)
        notice = aprova.message(where, notice["ts"])
        assert buttons(notice) == []
        assert "🔁 Nova tentativa pedida por <@U0CFO> em" in json.dumps(notice["blocks"], ensure_ascii=False)
        assert (await request_no(aprova)).status == RequestStatus.POSTING

        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        event = await assert_posted_once(aprova, tracking)
        assert event.rateio[0]["id_categoria"] == category_id
        assert len(calls(aprova, CREATE)) == 1

        # The old button, clicked again: the request is not failed any more.
        await retry_as(aprova, original, CFO)
        assert "não está mais com falha" in aprova.slack.ephemerals(CFO)[-1]["text"]
        assert await aprova.post() == [] and len(entries(aprova)) == 1
        actions = [e.action for e in await flows.audit_trail(session_factory, request_id=1)]
        assert actions.count("post_failed") == 1 and actions.count("post_retry_requested") == 1
        assert actions.count("posted") == 1


# --------------------------------------------------------------------------------------------------- 3. connection


async def test_not_connected_fails_until_connected_and_retried(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        tracking = await approve(aprova)
        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "not_connected"
        assert (await request_no(aprova)).status == RequestStatus.POST_FAILED
        assert sandbox_of(aprova).state.api_calls() == [] and entries(aprova) == []
        reason = "o Conta Azul não está conectado (use `/contaazul connect`)"
        assert aprova.thread(tracking)[-1]["text"] == failed_reply(reason)
        [notice] = finance_notices(aprova, aprova.slack.dm_channel(CFO))
        assert reason in notice["text"] and buttons(notice) == [RETRY]

        await aprova.connect_contaazul()
        await retry_as(aprova, notice, CFO)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        await assert_posted_once(aprova, tracking)


async def test_no_default_account_fails_until_one_is_chosen_and_retried(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        # An ERP with two usable accounts and no default: connecting cannot pick one.
        sandbox_of(aprova).state.accounts[ACCOUNT_IDS[ACCOUNT_ITAU]].conta_padrao = False
        await aprova.connect_contaazul()
        info = await aprova.books.connection(payloads.TEAM_ID)
        assert info is not None and info.default_account_id is None
        tracking = await approve(aprova)

        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "no_account"
        assert (await request_no(aprova)).status == RequestStatus.POST_FAILED and entries(aprova) == []
        reason = "nenhuma conta financeira padrão foi escolhida (use `/contaazul account`)"
        assert aprova.thread(tracking)[-1]["text"] == failed_reply(reason)
        [notice] = finance_notices(aprova, aprova.slack.dm_channel(CFO))
        assert reason in notice["text"]

        trigger = aprova.slack.new_trigger_id()
        await aprova.send_form(payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="account"))
        await aprova.settle()
        response = await aprova.submit(
            aprova.latest_view("contaazul-account"), user_id=CFO, account=ACCOUNT_IDS[ACCOUNT_CAIXINHA]
        )
        assert response.status_code == 200 and response.text == ""
        await aprova.settle()

        await retry_as(aprova, notice, CFO)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        event = await assert_posted_once(aprova, tracking)
        assert event.conta_financeira_id == ACCOUNT_IDS[ACCOUNT_CAIXINHA]


# --------------------------------------------------------------------------------------------------- async route

PROTOCOL = "/v1/protocolo/"


async def test_async_route_follows_the_protocol_to_the_entry(session_factory, clock):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, contaazul_create_route="async"
    ) as aprova:
        sandbox_of(aprova).state.protocol_delay_seconds = 4  # Conta Azul takes a few seconds to process it
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert [c.status for c in calls(aprova, CREATE_ASYNC)] == [202] and calls(aprova, CREATE) == []
        polls = [r for r in sandbox_of(aprova).state.request_log if r.path.startswith(PROTOCOL)]
        assert len(polls) >= 2  # polled until SUCCESS
        event = await assert_posted_once(aprova, tracking, route="async")
        assert event.id == result.request.contaazul_id


async def test_protocol_still_pending_is_followed_later_never_posted_again(session_factory, clock):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, contaazul_create_route="async"
    ) as aprova:
        sandbox = sandbox_of(aprova)
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        sandbox.protocols_stay_pending(True)

        [result] = await aprova.post()  # polled for 90 s of (virtual) time, then handed back
        assert result.outcome == "retrying" and entries(aprova) == []
        posting = await posting_no(aprova)
        [protocol_id] = sandbox.state.protocols
        assert posting.protocol_id == protocol_id and (await request_no(aprova)).status == RequestStatus.POSTING

        sandbox.protocols_stay_pending(False)  # Conta Azul gets to it
        [result] = await post_after_backoff(aprova)
        assert result.outcome == "posted", result.posting.error_detail
        assert len(calls(aprova, CREATE_ASYNC)) == 1  # the protocol was followed, nothing sent again
        event = await assert_posted_once(aprova, tracking, route="async")
        assert sandbox.state.protocols[protocol_id].evento_id == event.id


async def test_protocol_error_fails_with_conta_azul_message(session_factory, clock):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, contaazul_create_route="async"
    ) as aprova:
        sandbox = sandbox_of(aprova)
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        sandbox.protocols_error_next(1)
        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "rejected"
        assert entries(aprova) == [] and (await request_no(aprova)).status == RequestStatus.POST_FAILED
        assert aprova.thread(tracking)[-1]["text"].startswith(
            f"<@{REQUESTER}> ⚠️ Não consegui lançar no Conta Azul: o Conta Azul recusou o lançamento ("
        )


# --------------------------------------------------------------------------------------------------- 4-6. faults


async def test_429_storm_waits_retry_after_and_posts_once(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        sandbox_of(aprova).fail_next(5, 429, retry_after=7, path_prefix=CREATE)
        started = clock.now()

        # The client absorbs three 429s in place (waiting 7 s each), then hands the job back with the hint.
        [result] = await aprova.post()
        assert result.outcome == "retrying" and result.posting.error_code == "retrying"
        posting = await posting_no(aprova)
        assert posting.next_attempt_at - clock.now() >= timedelta(seconds=7)
        assert (await request_no(aprova)).status == RequestStatus.POSTING
        assert entries(aprova) == []
        outcomes = ("Lançado no Conta Azul", "Não consegui lançar")
        assert not [m for m in aprova.thread(tracking) if any(o in m["text"] for o in outcomes)]  # nobody bothered yet

        [result] = await post_after_backoff(aprova)
        assert result.outcome == "posted", result.posting.error_detail
        creates = calls(aprova, CREATE)
        assert [c.status for c in creates] == [429] * 5 + [201]
        gaps = [later.at - earlier.at for earlier, later in zip(creates, creates[1:], strict=False)]
        assert all(gap >= timedelta(seconds=7) for gap in gaps), gaps
        assert clock.now() - started >= timedelta(seconds=35)
        await assert_posted_once(aprova, tracking)


async def test_server_errors_back_off_then_post_once(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        sandbox_of(aprova).fail_next(3, 500, path_prefix=CREATE)

        lease = aprova.deps.settings.posting_lease
        [result] = await aprova.post()
        for attempt in (1, 2, 3):
            assert result.outcome == "retrying" and entries(aprova) == []
            posting = await posting_no(aprova)
            assert posting.create_sent_at is not None
            sent = posting.create_sent_at
            ceiling = 2.0 * 2 ** (posting.attempts - 1)  # exponential backoff with jitter: 1-2 s, 2-4 s…
            delay = (posting.next_attempt_at - clock.now()).total_seconds()
            assert ceiling / 2 <= delay <= ceiling, (attempt, delay)
            [result] = await post_after_backoff(aprova)
            # A 500 may still have created it: nothing is sent again before two leases have passed since.
            assert result.outcome == "retrying" and len(calls(aprova, CREATE)) == attempt
            assert (await posting_no(aprova)).next_attempt_at >= sent + 2 * lease
            [result] = await post_after_backoff(aprova)
        assert result.outcome == "posted", result.posting.error_detail

        assert [c.status for c in calls(aprova, CREATE)] == [500, 500, 500, 201]
        assert len(calls(aprova, SEARCH, "GET")) >= 3  # each retry looked for the entry before creating it
        actions = [e.action for e in await flows.audit_trail(session_factory, request_id=1)]
        assert actions.count("post_attempt_failed") == 6 and actions[-1] == "posted"
        await assert_posted_once(aprova, tracking)


@pytest.mark.parametrize("mode", ["drop", "error"])
async def test_entry_created_but_answer_lost_is_adopted_not_posted_again(session_factory, clock, mode):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        sandbox_of(aprova).create_then_fail_next(1, mode=mode)

        [result] = await aprova.post()
        assert result.outcome == "retrying"
        [created] = entries(aprova)  # Conta Azul has it; we could not know
        posting = await posting_no(aprova)
        assert posting.create_sent_at is not None and posting.contaazul_id is None
        assert (await request_no(aprova)).status == RequestStatus.POSTING

        [result] = await post_after_backoff(aprova)
        assert result.outcome == "posted", result.posting.error_detail
        assert result.request.contaazul_id == created.id
        assert len(calls(aprova, CREATE)) == 1  # reconciled, never created again
        event = await assert_posted_once(aprova, tracking)
        assert event.id == created.id


# --------------------------------------------------------------------------------------------------- 7. killed worker


async def test_worker_killed_between_create_and_commit_is_reconciled(session_factory, clock, database_url):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        sandbox = sandbox_of(aprova)
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        # The create is stored, then its answer is held long enough for the worker to die waiting.
        sandbox.create_then_fail_next(1, mode="hang", seconds=60)
        clock.advance(timedelta(minutes=1))  # fresh rate-limit windows for the other process
        env = os.environ | {
            "DATABASE_URL": database_url,
            "CONTAAZUL_CLIENT_ID": SANDBOX_CLIENT_ID,
            "CONTAAZUL_CLIENT_SECRET": SANDBOX_SECRET,
            "CONTAAZUL_AUTH_URL": sandbox.auth_url,
            "CONTAAZUL_API_URL": sandbox.api_url,
            "APROVA_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "APROVA_WORKER_NOW": clock.now().isoformat(),
            "APROVA_WORKER_OWNER": "doomed-worker",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.posting_worker_process",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30  # a bound, not a wait: the loop ends when the entry exists
        try:
            # Waiting for another process: poll the sandbox in short real sleeps, bounded.
            while not sandbox.state.events and process.returncode is None and loop.time() < deadline:
                await asyncio.sleep(0.02)
        finally:
            if process.returncode is None:
                process.kill()  # SIGKILL: no cleanup, no commit
            _, stderr = await process.communicate()
        assert process.returncode == -9, stderr.decode(errors="replace")[-2000:]
        [created] = entries(aprova)

        posting = await posting_no(aprova)
        assert (posting.status, posting.lease_owner) == (PostingStatus.RUNNING, "doomed-worker")
        assert posting.create_sent_at is not None and posting.contaazul_id is None
        assert (await request_no(aprova)).status == RequestStatus.POSTING
        assert await aprova.post() == []  # the dead worker's lease still holds

        clock.set(posting.lease_expires_at + timedelta(seconds=1))
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert result.request.contaazul_id == created.id
        assert calls(aprova, CREATE) == []  # the dead worker's create is still unanswered; nobody created again
        event = await assert_posted_once(aprova, tracking)
        assert event.id == created.id


async def test_outcome_committed_but_never_told_is_told_once_by_the_next_worker(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await approve(aprova)
        # A process posts and commits, then dies before its Slack calls: nothing was said.
        [result] = await aprova.poster.worker.drain()
        assert result.outcome == "posted" and not [m for m in aprova.thread(tracking) if "Lançado" in m["text"]]
        # Two instances look for untold outcomes at once: one of them tells it, once.
        other = PostingLoop(aprova.deps, aprova.poster.client, owner="other-worker")
        await asyncio.gather(aprova.poster.announce(), other.announce())
        await aprova.settle()
        await assert_posted_once(aprova, tracking)
        assert (await posting_no(aprova)).announced_at == clock.now()


# --------------------------------------------------------------------------------------------------- 8. two workers


async def connect_headless(books: ContaAzul, team_id: str) -> None:
    """The OAuth dance against the sandbox's auto-consent: authorize redirects straight back with a code."""
    state = await books.begin_connection(team_id=team_id, user_id=CFO)
    binding = secrets.token_urlsafe(32)  # what the browser's cookie would hold
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(await books.open_in_browser(state=state, binding=binding))
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    await books.complete(state=query["state"][0], code=query["code"][0], binding=binding)


POLICY_TOML = """
fallback = ["U0CFO"]

[default]
steps = [{ name = "Financeiro", approvers = ["U0MGR"] }]
"""
VENDORS = [
    ("Moinho Anaconda Ltda", "11222333000181"),
    ("Papelaria Central ME", None),
    ("Distribuidora Trigo Bom", "99887766000105"),
]


async def approved_requests(session_factory, clock, slack, count: int) -> list[str]:
    """``count`` requests submitted and approved through the flows the handlers call, each with a tracking message."""
    references = []
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    async with httpx.AsyncClient(base_url=slack.api_url, headers=auth) as api:
        for number in range(count):
            vendor, document = VENDORS[number % len(VENDORS)]
            draft = RequestDraft(
                description=f"Insumos, lote {number}",
                vendor_name=vendor,
                vendor_document=document,
                amount=Decimal("100.00") + number,
                competence_date=clock.today(),
                due_date=clock.today() + timedelta(days=10 + number % 20),
                category="Matéria-Prima",
                cost_center=["Produção", "Obra Nova", None][number % 3],
                payment_method=PaymentMethod.TRANSFER,
            )
            submitted = await flows.submit_request(
                session_factory,
                clock=clock,
                team_id=payloads.TEAM_ID,
                requester_id=REQUESTER,
                submission_key=f"bulk-{number}",
                draft=draft,
                steps=[PlannedStep(name="Financeiro", approvers=(MANAGER,))],
            )
            request = submitted.request
            posted = (
                await api.post("chat.postMessage", data={"channel": "C0PEDIDOS", "text": request.reference})
            ).json()
            await flows.record_tracking_message(
                session_factory, request_id=request.id, channel=posted["channel"], ts=posted["ts"]
            )
            await flows.decide(
                session_factory,
                clock=clock,
                request_id=request.id,
                step_position=0,
                actor_id=MANAGER,
                approve=True,
                on_final_approval=enqueue_posting,
            )
            references.append(request.reference)
    return references


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("count", "slow"),
    [
        (200, False),
        # Every create answers after 4 s, past the 1 s request timeout and past the 3 s lease: each create's outcome
        # is unknown, the job is taken over by whichever process, and nobody creates it again.
        (20, True),
    ],
    ids=["200-approvals", "creates-slower-than-the-lease"],
)
async def test_two_app_processes_on_postgresql_post_each_approval_once(fresh_postgres_url, tmp_path, count, slow):
    team = payloads.TEAM_ID
    clock = SystemClock()  # two real app processes: real time everywhere
    await asyncio.to_thread(upgrade, fresh_postgres_url)
    engine = create_engine(fresh_postgres_url)
    session_factory = create_session_factory(engine)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY_TOML, encoding="utf-8")
    processes: list[asyncio.subprocess.Process] = []
    try:
        async with (
            LocalSlack(team_id=team) as slack,
            Sandbox(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_SECRET, auto_consent=True) as sandbox,
        ):
            # This test is about exactly-once under contention; the drain against the 10/s limit is benchmarked.
            sandbox.state.rate_limit_per_second, sandbox.state.rate_limit_per_minute = 100, 6000
            if slow:
                sandbox.slow_next(count, seconds=4, path_prefix=CREATE)
            books = ContaAzul(
                config=OAuthConfig(
                    client_id=SANDBOX_CLIENT_ID,
                    client_secret=SANDBOX_SECRET,
                    auth_url=sandbox.auth_url,
                    api_url=sandbox.api_url,
                    redirect_uri="http://127.0.0.1/contaazul/oauth/callback",
                ),
                session_factory=session_factory,
                clock=clock,
                cipher=TokenCipher(ENCRYPTION_KEY),
            )
            try:
                await connect_headless(books, team)
            finally:
                await books.aclose()
            references = await approved_requests(session_factory, clock, slack, count)

            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CONTAAZUL_", "APROVA_"))} | {
                "DATABASE_URL": fresh_postgres_url,
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "CONTAAZUL_CLIENT_ID": SANDBOX_CLIENT_ID,
                "CONTAAZUL_CLIENT_SECRET": SANDBOX_SECRET,
                "CONTAAZUL_AUTH_URL": sandbox.auth_url,
                "CONTAAZUL_API_URL": sandbox.api_url,
                "APROVA_ENCRYPTION_KEY": ENCRYPTION_KEY,
                "APROVA_POLICY_FILE": str(policy),
                "APROVA_REQUESTS_CHANNEL": "C0PEDIDOS",
                # The Slack stand-in has no per-channel limit: unpaced, the 200 thread replies do not take minutes.
                "APROVA_SLACK_CHANNEL_BURST": "100000",
                "HOST": "127.0.0.1",
                "PORT": "0",
            }
            if slow:
                env |= {"CONTAAZUL_TIMEOUT_SECONDS": "1", "APROVA_POSTING_LEASE_SECONDS": "3"}
            for _ in range(2):
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot",
                        cwd=REPO,
                        env=env,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.PIPE,
                    )
                )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            # Waiting for other processes: poll the database in short real sleeps, bounded.
            while loop.time() < deadline and all(p.returncode is None for p in processes):
                async with session_factory() as session:
                    # Posted and told: the outcome is announced once the request's earlier messages are out.
                    unfinished = Posting.status.in_([PostingStatus.PENDING.value, PostingStatus.RUNNING.value])
                    untold = Posting.announced_at.is_(None)
                    left = await session.scalar(select(func.count()).select_from(Posting).where(unfinished | untold))
                if left == 0:
                    break
                await asyncio.sleep(0.2)
            outputs = []
            for process in processes:
                if process.returncode is None:
                    process.terminate()  # SIGTERM: a graceful stop
                _, stderr = await process.communicate()
                outputs.append(stderr.decode(errors="replace"))
            assert [p.returncode for p in processes] == [0, 0], "\n---\n".join(o[-3000:] for o in outputs)

            async with session_factory() as session:
                stuck = [
                    (p.reference, p.status, p.attempts, p.error_code, p.error_detail)
                    for p in await session.scalars(select(Posting).where(Posting.status != PostingStatus.DONE.value))
                ]
            assert stuck == []
            events = entries_of(sandbox)
            assert sorted(e.referencia_externa for e in events) == sorted(references)  # 200, none twice
            creates = [r for r in sandbox.state.request_log if r.path == CREATE and r.method == "POST"]
            assert [r.status for r in creates] == [201] * count  # nothing was ever created twice
            async with session_factory() as session:
                requests = list(await session.scalars(select(PaymentRequest)))
                audits = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "posted")))
            by_reference = {e.referencia_externa: e.id for e in events}
            assert all(
                r.status == RequestStatus.POSTED and r.contaazul_id == by_reference[r.reference] for r in requests
            )
            assert len(audits) == count
            if slow:  # each create timed out, and the entry was found and adopted on a later attempt
                async with session_factory() as session:
                    assert all(p.attempts >= 2 for p in await session.scalars(select(Posting)))
            else:
                assert len({a.detail["worker"] for a in audits}) == 2  # both processes posted
            for request in requests:
                replies = [
                    m for m in slack.thread("C0PEDIDOS", request.tracking_ts) if "Lançado no Conta Azul" in m["text"]
                ]
                assert len(replies) == 1, request.reference
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await engine.dispose()


def entries_of(sandbox: Sandbox) -> list[Event]:
    return list(sandbox.state.events.values())
