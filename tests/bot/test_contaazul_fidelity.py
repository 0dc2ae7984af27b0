"""Posting through the real app against the Conta Azul sandbox behaving as the live API was seen to behave.

Each test turns one of the sandbox's switches (a create route that does not exist yet, an answer without the entry's
id, an entry stored without its supplier, the documented people-search default) and checks what people see, what
the books hold, and that nothing is ever posted twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.dev import slack_payloads as payloads
from ledger import flows
from ledger.contaazul.models import ASYNC_PATHS, SYNC_PATHS
from ledger.contaazul.sandbox.documents import make_cnpj
from ledger.contaazul.sandbox.seed import PERSON_DOCUMENTS, PERSON_IDS
from ledger.domain import RequestStatus
from ledger.outbox import PostingStatus
from tests.bot.test_posting import (
    RETRY,
    approve,
    assert_posted_once,
    buttons,
    calls,
    entries,
    finance_notices,
    posted_reply,
    posting_no,
    request_no,
    sandbox_of,
)
from tests.harness import CFO, MANAGER, REQUESTER, Aprova, running_aprova

pytestmark = pytest.mark.anyio

CREATE, CREATE_ASYNC = SYNC_PATHS["payable"], ASYNC_PATHS["payable"]
PEOPLE = "/v1/pessoas"


def configure(aprova: Aprova, **settings: Any) -> None:
    sandbox_of(aprova).control({"action": "configure", **settings})


async def approve_another(aprova: Aprova, **overrides: Any) -> dict[str, Any]:
    tracking = await aprova.file_request(**overrides)
    await aprova.click(aprova.approval_messages(MANAGER)[-1], "payment-approve", user_id=MANAGER)
    await aprova.settle()
    return tracking


async def post_measured(aprova: Aprova) -> list[str]:
    """Post what is due in a fresh rate-limit second, and return the people calls it made."""
    aprova.clock.advance(timedelta(seconds=1))
    since = len(sandbox_of(aprova).state.request_log)
    [result] = await aprova.post()
    assert result.outcome == "posted", result.posting.error_detail
    return [
        f"{r.method} {r.status} {r.query}" for r in sandbox_of(aprova).state.request_log[since:] if r.path == PEOPLE
    ]


# --------------------------------------------------------------------------------------------------- create routes


async def test_missing_sync_route_posts_through_the_async_route_and_the_process_remembers(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        configure(aprova, sync_route_missing=405)
        tracking = await approve(aprova)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert [c.status for c in calls(aprova, CREATE)] == [405] and [c.status for c in calls(aprova, CREATE_ASYNC)]
        await assert_posted_once(aprova, tracking, route="async")

        # The next posting goes straight to the async route: the missing one is not asked again in this process.
        await approve_another(aprova, description="Fermento — novembro")
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert [c.status for c in calls(aprova, CREATE)] == [405]
        assert [c.status for c in calls(aprova, CREATE_ASYNC)] == [202, 202] and len(entries(aprova)) == 2


async def test_a_create_accepted_without_its_id_is_found_by_reference(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        configure(aprova, created_answer_without_id=True)
        tracking = await approve(aprova)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [created] = entries(aprova)
        assert result.request.contaazul_id == created.id and len(calls(aprova, CREATE)) == 1
        await assert_posted_once(aprova, tracking)


async def test_an_accepted_create_not_listed_yet_waits_for_a_person_and_is_never_sent_again(session_factory, clock):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, contaazul_create_route="async"
    ) as aprova:
        await aprova.connect_contaazul()
        configure(aprova, created_answer_without_id=True, protocol_delay_seconds=120)
        tracking = await approve(aprova)

        # Accepted (202) with no protocol, and Conta Azul has not processed it yet: a person is asked to look.
        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "unconfirmed"
        assert entries(aprova) == [] and (await request_no(aprova)).status == RequestStatus.POST_FAILED
        posting = await posting_no(aprova)
        assert posting.create_sent_at is not None  # Retry looks before it sends anything
        reason = "o Conta Azul nunca confirmou o lançamento"
        assert reason in aprova.thread(tracking)[-1]["text"]
        [notice] = finance_notices(aprova, aprova.slack.dm_channel(CFO))
        assert reason in notice["text"] and buttons(notice) == [RETRY]

        clock.advance(timedelta(minutes=3))  # Conta Azul gets to it
        await aprova.click(notice, RETRY, user_id=CFO)
        await aprova.settle()
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert len(calls(aprova, CREATE_ASYNC)) == 1  # found by its reference, never sent again
        await assert_posted_once(aprova, tracking, route="async")


# --------------------------------------------------------------------------------------------------- counterparty


@pytest.mark.parametrize("route", ["sync", "async"])
async def test_an_entry_without_the_supplier_sent_is_posted_with_a_warning_for_finance(session_factory, clock, route):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, contaazul_create_route=route
    ) as aprova:
        await aprova.connect_contaazul()
        configure(aprova, counterparty_ignored=True)  # Conta Azul drops the supplier it was sent
        tracking = await approve(aprova)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [event] = entries(aprova)
        assert event.contato_id is None
        request, posting = await request_no(aprova), await posting_no(aprova)
        assert (request.status, request.contaazul_id) == (RequestStatus.POSTED, event.id)
        assert (posting.status, posting.error_code) == (PostingStatus.DONE, "counterparty_mismatch")

        warning = (
            "⚠️ Atenção: no Conta Azul este lançamento aparece com outro fornecedor (nenhum), não Moinho Anaconda "
            "Ltda. O financeiro foi avisado para corrigir."
        )
        [reply] = [m["text"] for m in aprova.thread(tracking) if "Lançado no Conta Azul" in m["text"]]
        assert reply == f"{posted_reply('Moinho Anaconda Ltda', event.id)}\n{warning}"
        [notice] = [m for m in aprova.slack.messages(aprova.slack.dm_channel(CFO)) if "outro fornecedor" in m["text"]]
        assert notice["text"] == (
            f"⚠️ *{request.reference}* (R$ 1.234,56) foi lançado no Conta Azul (id `{event.id}`), mas aparece com "
            "outro fornecedor: nenhum em vez de Moinho Anaconda Ltda.\nCorrija o lançamento no Conta Azul."
        )
        assert buttons(notice) == []  # nothing to retry: the entry exists, and is fixed in Conta Azul
        trail = await flows.audit_trail(session_factory, request_id=1)
        [mismatch] = [e for e in trail if e.action == "counterparty_mismatch"]
        assert mismatch.detail == {"contaazul_id": event.id, "sent": PERSON_IDS["Moinho Anaconda Ltda"]}  # shown: none
        assert await aprova.post() == [] and len(entries(aprova)) == 1


async def test_the_warning_reaches_the_finance_channel_in_english(session_factory, clock):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, finance_channel="C0FIN", default_locale="en"
    ) as aprova:
        await aprova.connect_contaazul()
        configure(aprova, counterparty_ignored=True)
        tracking = await approve(aprova)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        [notice] = [m for m in aprova.slack.messages("C0FIN") if "another vendor" in m["text"]]
        assert "it shows another vendor: none instead of Moinho Anaconda Ltda." in notice["text"]
        assert finance_notices(aprova, aprova.slack.dm_channel(CFO)) == []  # the channel, not each admin
        assert "this entry shows another vendor (none), not Moinho Anaconda Ltda" in aprova.thread(tracking)[-1]["text"]


# --------------------------------------------------------------------------------------------------- vendors


async def test_vendors_found_and_created_in_few_calls_under_the_documented_search_default(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        state = sandbox_of(aprova).state
        await aprova.connect_contaazul()
        configure(aprova, pessoas_default_tipos_pessoa="Física")  # a search without tipos_pessoa sees no company
        people_before = len(state.people)

        # A supplier Conta Azul has, by CNPJ: one search.
        enel = "Enel Distribuição São Paulo"
        await approve(aprova, vendor_name="Enel SP", vendor_document=PERSON_DOCUMENTS[enel])
        assert len(await post_measured(aprova)) == 1
        [event] = entries(aprova)
        assert event.contato_id == PERSON_IDS[enel] and len(state.people) == people_before

        # A new supplier: its CNPJ, its name among companies, then created — three calls.
        new_cnpj = make_cnpj("998877660001")
        await approve_another(aprova, vendor_name="Distribuidora Trigo Bom Ltda", vendor_document=new_cnpj)
        searches = await post_measured(aprova)
        assert len(searches) <= 4 and searches[-1] == "POST 201 " and len(state.people) == people_before + 1
        assert all("tipos_pessoa=Jurídica" in s for s in searches[:-1]), searches

        # The same supplier again, with nothing cached (another instance, or minutes later): one call.
        aprova.books.forget_lookups(payloads.TEAM_ID)
        await approve_another(aprova, vendor_name="Distribuidora Trigo Bom Ltda", vendor_document=new_cnpj)
        assert len(await post_measured(aprova)) == 1 and len(state.people) == people_before + 1
        assert len({e.contato_id for e in entries(aprova)}) == 2


async def test_a_vendor_typed_without_a_document_is_found_by_name_among_companies(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        state = sandbox_of(aprova).state
        await aprova.connect_contaazul()
        configure(aprova, pessoas_default_tipos_pessoa="Física")
        people_before = len(state.people)
        tracking = await approve(aprova, vendor_name="Papelaria Central ME", vendor_document="")
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        event = await assert_posted_once(aprova, tracking, vendor="Papelaria Central ME")
        assert event.contato_id == PERSON_IDS["Papelaria Central ME"] and len(state.people) == people_before


async def test_the_vendor_type_ahead_lists_companies_under_the_documented_search_default(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        configure(aprova, pessoas_default_tipos_pessoa="Física")
        view = await aprova.open_modal()
        body = payloads.block_suggestion(view, block_id="vendor_name", user_id=REQUESTER, value="Moinho")
        response = await aprova.send_form(body)
        assert response.status_code == 200
        assert "Moinho Anaconda Ltda" in [o["value"] for o in response.json()["options"]]
