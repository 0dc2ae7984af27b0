"""Approval integrity through the real app: what was approved is exactly what gets paid, once, by independent people.

Each test is one way the promise was broken before (a requester or bad timing could do it): a boleto worth more
than typed, a destination changed after an approval, one person approving every step, a retry adopting another
request's entry, two workers posting one payable, a posting stuck forever. Signed Slack requests reach the Bolt
app, which talks to LocalSlack; the posting worker talks to the Conta Azul sandbox; time is a shared FixedClock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.dev import slack_payloads as payloads
from bot.wiring import build_contaazul
from ledger import flows, rules
from ledger.contaazul.models import SYNC_PATHS, EntryDraft
from ledger.contaazul.sandbox.seed import ACCOUNT_IDS, ACCOUNT_ITAU, CATEGORY_IDS, PERSON_IDS
from ledger.domain import RequestStatus, StepStatus
from ledger.instruments import bank_barcode, barcode_to_line, br_code
from ledger.models import PaymentRequest
from ledger.outbox import PostingStatus, posting_for
from ledger.posting import PostingWorker
from ledger.read_models import RequestView
from ledger.terms import ApprovalTerms
from tests.harness import (
    CFO,
    DIRECTOR_EN,
    DIRECTOR_PT,
    MANAGER,
    POLICY,
    REQUESTER,
    VALID_ANSWERS,
    Aprova,
    boleto_for,
    running_aprova,
    with_matching_boleto,
)

pytestmark = pytest.mark.anyio

APPROVE, RETRY, EDIT = "payment-approve", "posting-retry", "payment-edit"
CREATE = SYNC_PATHS["payable"]
BIG_BOLETO = boleto_for("99.999,99", "2026-12-10")  # a real-shaped slip for R$ 99.999,99
OTHER_BANK_BOLETO = barcode_to_line(bank_barcode(bank="341", amount=Decimal("15000.00"), due_date=date(2026, 12, 10)))


async def stored(aprova: Aprova) -> int:
    async with aprova.deps.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentRequest)) or 0)


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or [], ensure_ascii=False)


async def request_no(aprova: Aprova, number: int = 1) -> RequestView:
    return await flows.get_request(aprova.deps.session_factory, request_id=number)


def entries(aprova: Aprova) -> list[Any]:
    assert aprova.sandbox is not None
    return list(aprova.sandbox.state.events.values())


def paste(view: dict[str, Any], typed: dict[str, Any]) -> str:
    """The requester pastes a code in the modal's boleto/PIX input (which dispatches as they type)."""
    return payloads.view_input_action(view, block_id="payment_code", user_id=REQUESTER, answers=typed)


async def click_approve(aprova: Aprova, approver: str, *, message: dict[str, Any] | None = None) -> None:
    await aprova.click(message or aprova.approval_messages(approver)[-1], APPROVE, user_id=approver)
    await aprova.settle()


# --------------------------------------------------------------------------------------------------- 1. boleto amount


async def test_a_boleto_for_more_than_typed_is_refused_and_an_empty_amount_takes_the_boletos(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        refused = await aprova.submit(view, **(VALID_ANSWERS | {"amount": "R$ 100,00", "payment_code": BIG_BOLETO}))
        assert refused.json() == {
            "response_action": "errors",
            "errors": {
                "amount": "O boleto/PIX é de R$ 99.999,99, mas o valor informado é R$ 100,00. "
                "Corrija um dos dois (ou deixe o valor em branco)."
            },
        }
        assert await stored(aprova) == 0  # the small-amount rule was never chosen for it

        english = await aprova.open_modal(DIRECTOR_EN)
        answers = VALID_ANSWERS | {"amount": "100.00", "due_date": "2026-12-11", "payment_code": BIG_BOLETO}
        refused = await aprova.submit(english, user_id=DIRECTOR_EN, **answers)
        assert refused.json()["errors"] == {
            "amount": "The boleto/PIX code is for R$99,999.99, but the amount typed is R$100.00. "
            "Fix one of them (or leave the amount empty).",
            "due_date": "The boleto is due on Dec 10, 2026, but the due date chosen is Dec 11, 2026. "
            "Fix one of them (or leave the due date empty).",
        }

        # Left empty, amount and due date come from the boleto, and the high-amount rule applies: two steps.
        accepted = await aprova.submit(
            view, **(VALID_ANSWERS | {"amount": "", "due_date": None, "payment_code": BIG_BOLETO})
        )
        assert accepted.text == ""
        await aprova.settle()
        request = await request_no(aprova)
        assert (request.amount, request.due_date) == (Decimal("99999.99"), date(2026, 12, 10))
        assert [s.name for s in request.steps] == ["Gestor", "Diretoria"]
        # The approver reads what the boleto says, not just its digits, and the fingerprint of what they approve.
        shown = text_of(aprova.approval_messages(MANAGER)[-1])
        assert "Boleto do banco 237 · valor R$ 99.999,99 · vence 10/12/2026" in shown
        assert f"`{request.terms_digest[:4].upper()}-{request.terms_digest[4:8].upper()}`" in shown


async def test_a_pasted_code_fills_the_modal_and_shows_what_it_says(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        typed = {"payment_method": "boleto", "payment_code": BIG_BOLETO}
        await aprova.send_form(
            payloads.view_input_action(view, block_id="payment_code", user_id=REQUESTER, answers=typed)
        )
        await aprova.settle()
        filled = aprova.slack.views[view["id"]]
        inputs = {b["block_id"]: b["element"] for b in filled["blocks"] if b["type"] == "input"}
        assert inputs["amount"]["initial_value"] == "99.999,99" and inputs["due_date"]["initial_date"] == "2026-12-10"
        [decoded] = [b for b in filled["blocks"] if b.get("block_id") == "payment_code_decoded"]
        assert decoded["elements"][0]["text"] == "Boleto do banco 237 · valor R$ 99.999,99 · vence 10/12/2026"

        # A PIX code pasted while Boleto is chosen: the method follows the code, and its receiver is shown.
        pix = br_code(
            key="financeiro@boasafra.com.br",
            receiver_name="MOINHO BOA SAFRA",
            city="CURITIBA",
            amount=Decimal("1234.56"),
            txid="NF4521",
        )
        answers = {"payment_method": "boleto", "payment_code": pix}
        await aprova.send_form(
            payloads.view_input_action(filled, block_id="payment_code", user_id=REQUESTER, answers=answers)
        )
        await aprova.settle()
        again = aprova.slack.views[view["id"]]
        method = next(b["element"] for b in again["blocks"] if b.get("block_id") == "payment_method")
        assert method["initial_option"]["value"] == "pix"
        [decoded] = [b for b in again["blocks"] if b.get("block_id") == "payment_code_decoded"]
        assert decoded["elements"][0]["text"] == (
            "PIX copia e cola para MOINHO BOA SAFRA (CURITIBA) · chave financeiro@boasafra.com.br · valor R$ 1.234,56"
            " · txid NF4521"
        )

        # Submitted as filled: stored with the code's values.
        answers = {k: v for k, v in VALID_ANSWERS.items() if k not in ("amount", "due_date", "payment_method")}
        response = await aprova.submit(filled, **(answers | {"payment_code": BIG_BOLETO}))
        assert response.text == ""
        await aprova.settle()
        assert (await request_no(aprova)).amount == Decimal("99999.99")


# ------------------------------------------------------------------------ 2. the destination after an approval


@pytest.mark.parametrize(
    "change",
    [
        {"payment_code": OTHER_BANK_BOLETO},  # another payee's boleto for the same amount and day
        {"payment_method": "pix", "payment_code": "pagamentos@outro-fornecedor.com.br"},
        {"invoice_number": "NF 9999"},
    ],
    ids=["boleto", "pix", "nf"],
)
async def test_changing_where_the_money_goes_restarts_approval(session_factory, clock, change):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await aprova.file_request(amount="R$ 15.000,00")  # Gestor, then Diretoria
        await click_approve(aprova, MANAGER)
        [director_message] = aprova.approval_messages(DIRECTOR_EN)
        before = await request_no(aprova)

        await aprova.click(aprova.message(tracking["channel"], tracking["ts"]), EDIT, user_id=REQUESTER)
        await aprova.settle()
        view = aprova.latest_view("payment-edit")
        answers = with_matching_boleto(VALID_ANSWERS | {"amount": "15.000,00"}, {"amount": "15.000,00"}) | change
        assert (await aprova.submit(view, **answers)).text == ""
        await aprova.settle()

        request = await request_no(aprova)
        assert request.terms_digest != before.terms_digest
        assert (request.approval_round, request.current_step) == (2, 0)
        assert [s.status for s in request.steps] == [StepStatus.OPEN, StepStatus.WAITING]
        # The director's button from before decides nothing; the manager is asked again.
        await click_approve(aprova, DIRECTOR_EN, message=director_message)
        assert (await request_no(aprova)).status == RequestStatus.PENDING
        await click_approve(aprova, MANAGER)
        await click_approve(aprova, DIRECTOR_EN)
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        posted = await request_no(aprova)
        assert all(s.approved_digest == posted.terms_digest for s in posted.steps)
        [event] = entries(aprova)
        note = event.observacao
        assert ApprovalTerms.of(posted).digest()[:8].upper() in note
        for value in change.values():
            if value not in ("pix",):
                assert value.replace("NF ", "") in note or value in note


# ----------------------------------------------------------------------------------- 3. one person, one decision


async def test_one_person_in_two_steps_decides_only_one(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.add_usergroup("S0DIRETORIA", [MANAGER, DIRECTOR_EN])  # the manager is also a director
        await aprova.file_request(amount="R$ 15.000,00")
        request = await request_no(aprova)
        assert [s.approvers for s in request.steps] == [(MANAGER,), (DIRECTOR_EN,)]
        await click_approve(aprova, MANAGER)
        # Even with the director's message in hand, the manager cannot decide the second step.
        [director_message] = aprova.approval_messages(DIRECTOR_EN)
        await aprova.click(director_message, APPROVE, user_id=MANAGER)
        await aprova.settle()
        assert "Você já decidiu a etapa *Gestor* de PAG-2026-000001" in aprova.slack.ephemerals(MANAGER)[-1]["text"]
        assert (await request_no(aprova)).status == RequestStatus.PENDING
        await click_approve(aprova, DIRECTOR_EN)
        request = await request_no(aprova)
        assert request.status == RequestStatus.APPROVED
        assert {s.decided_by for s in request.steps} == {MANAGER, DIRECTOR_EN}


async def test_a_delegation_never_hands_someone_a_second_step(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        # The English director is away and hands their approvals to the manager, who holds the first step.
        await rules.add_delegation(
            session_factory,
            clock=clock,
            team_id=payloads.TEAM_ID,
            actor_id=CFO,
            approver_id=DIRECTOR_EN,
            delegate_id=MANAGER,
            starts_on=clock.today(),
            ends_on=clock.today() + timedelta(days=5),
        )
        await aprova.file_request(amount="R$ 15.000,00")
        request = await request_no(aprova)
        assert [s.approvers for s in request.steps] == [(MANAGER,), (DIRECTOR_PT,)]


async def test_a_step_left_with_nobody_else_goes_to_the_fallback(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.add_usergroup("S0DIRETORIA", [MANAGER])
        await aprova.file_request(amount="R$ 15.000,00")
        request = await request_no(aprova)
        assert [s.approvers for s in request.steps] == [(MANAGER,), (CFO,)]


async def test_escalation_never_adds_someone_who_holds_another_step(session_factory, clock):
    policy = replace(POLICY, fallback=(MANAGER, CFO))
    async with running_aprova(session_factory, clock, policy=policy) as aprova:
        from bot.scheduler import escalate_waiting_steps

        await aprova.file_request(amount="R$ 15.000,00")
        await click_approve(aprova, MANAGER)
        clock.advance(timedelta(days=4))
        assert aprova.poster is not None
        assert await escalate_waiting_steps(aprova.deps, aprova.poster.client) == 1
        await aprova.settle()
        request = await request_no(aprova)
        assert request.steps[1].approvers == (DIRECTOR_EN, DIRECTOR_PT, CFO)  # the manager was not added


# ------------------------------------------------------------------------------ 4. a retry adopting another's entry


async def test_a_retry_never_adopts_another_requests_entry(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        assert aprova.sandbox is not None
        aprova.sandbox.fail_next(1, 500, path_prefix=CREATE)  # request 1's create: nothing made, outcome unknown
        await aprova.file_request()
        await click_approve(aprova, MANAGER)
        [first] = await aprova.post()
        assert first.outcome == "retrying" and entries(aprova) == []

        # The requester files the same payment with the previous reference planted in its description.
        await aprova.file_request(description="Farinha [PAG-2026-000001]")
        await click_approve(aprova, MANAGER)
        [second] = await aprova.post()
        assert second.outcome == "posted"
        [planted] = entries(aprova)
        assert "PAG-2026-000001" not in planted.descricao.replace("[PAG-2026-000002]", "")

        clock.advance(timedelta(hours=1))  # past the wait for an unknown create
        [retried] = await aprova.post()
        assert retried.outcome == "posted", retried.posting.error_detail
        one, two = await request_no(aprova, 1), await request_no(aprova, 2)
        assert one.contaazul_id != two.contaazul_id and len(entries(aprova)) == 2


async def test_an_entry_with_our_reference_but_another_amount_is_never_adopted(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        assert aprova.sandbox is not None
        aprova.sandbox.fail_next(1, 500, path_prefix=CREATE)
        await aprova.file_request()
        await click_approve(aprova, MANAGER)
        [first] = await aprova.post()
        assert first.outcome == "retrying"
        # Someone types an entry in Conta Azul carrying our reference, for another amount.
        await aprova.books.client(payloads.TEAM_ID).create_payable(
            EntryDraft(
                description="lançado à mão",
                amount=Decimal("1.00"),
                competence_date=date(2026, 11, 1),
                due_date=date(2026, 12, 10),
                person_id=PERSON_IDS["Moinho Anaconda Ltda"],
                account_id=ACCOUNT_IDS[ACCOUNT_ITAU],
                category_id=CATEGORY_IDS["Matéria-Prima"],
                cost_center_id=None,
                payment_method="BOLETO_BANCARIO",
                external_reference="PAG-2026-000001",
            )
        )
        clock.advance(timedelta(hours=1))
        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "reconcile_conflict"
        assert len(entries(aprova)) == 1  # nothing adopted, nothing posted twice
        request = await request_no(aprova)
        assert request.status == RequestStatus.POST_FAILED and request.contaazul_id is None
        told = aprova.slack.messages(aprova.slack.dm_channel(CFO))[-1]
        assert "já existe no Conta Azul um lançamento com a referência deste pedido" in text_of(told)


# ---------------------------------------------------------------------------------- 5. two workers, one payable


async def test_a_create_that_would_wait_past_its_lease_is_not_sent(session_factory, clock):
    """Worker A meets 429s on its create; worker B takes over the moment A's lease runs out. Before, A slept
    through its Retry-Afters past the lease and sent its create anyway: two entries."""
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        assert aprova.sandbox is not None
        await aprova.file_request()
        await click_approve(aprova, MANAGER)
        lease = timedelta(seconds=60)
        other = PostingWorker(session_factory, clock=clock, books=aprova.books, owner="worker-b", lease=lease)
        took_over: list[Any] = []

        async def sleep_then_maybe_take_over(seconds: float) -> None:
            await clock.sleep(seconds)
            posting = await posting_for(session_factory, request_id=1)
            if posting is not None and posting.lease_expires_at and clock.now() >= posting.lease_expires_at:
                took_over.extend(await other.drain())  # another instance, while this one is still waiting

        books_a = build_contaazul(aprova.deps.settings, clock, session_factory, sleep=sleep_then_maybe_take_over)
        assert books_a is not None
        try:
            worker_a = PostingWorker(session_factory, clock=clock, books=books_a, owner="worker-a", lease=lease)
            aprova.sandbox.fail_next(3, 429, retry_after=25, path_prefix=CREATE)
            first = await worker_a.drain()
        finally:
            await books_a.aclose()
        clock.advance(timedelta(minutes=1))
        await other.drain()
        await aprova.post()
        assert len(entries(aprova)) == 1
        assert [r.outcome for r in first] == ["retrying"] and not took_over  # A stopped while its lease held
        request = await request_no(aprova)
        assert request.status == RequestStatus.POSTED and request.contaazul_id == entries(aprova)[0].id


# ---------------------------------------------------------------------------------------------- 6. never stuck


async def test_an_unexpected_error_fails_the_posting_and_tells_finance(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await aprova.file_request()
        await click_approve(aprova, MANAGER)
        # A broken environment: the HTTP client to Conta Azul is gone (httpx raises RuntimeError, not a gateway
        # error).
        await aprova.books.http.aclose()
        [result] = await aprova.post()
        assert result.outcome == "failed" and result.error_code == "internal"
        posting = await posting_for(session_factory, request_id=1)
        assert posting is not None and posting.status == PostingStatus.FAILED and posting.lease_owner is None
        assert (await request_no(aprova)).status == RequestStatus.POST_FAILED
        told = aprova.slack.messages(aprova.slack.dm_channel(CFO))[-1]
        assert RETRY in json.dumps(told["blocks"]) and "um erro interno interrompeu o lançamento" in text_of(told)
        assert "erro interno" in aprova.thread(tracking)[-1]["text"]


async def test_a_protocol_never_resolved_ends_unconfirmed_and_retry_reconciles_first(session_factory, clock):
    async with running_aprova(
        session_factory, clock, contaazul=True, auto_consent=True, contaazul_create_route="async"
    ) as aprova:
        await aprova.connect_contaazul()
        assert aprova.sandbox is not None
        aprova.sandbox.discard_protocols_next(1)  # accepted, then silently dropped: nothing will ever come of it
        await aprova.file_request()
        await click_approve(aprova, MANAGER)
        outcomes = []
        for _ in range(200):
            outcomes += [r.outcome for r in await aprova.post()]
            if "failed" in outcomes:
                break
            clock.advance(timedelta(minutes=20))
        assert outcomes[-1] == "failed" and set(outcomes[:-1]) == {"retrying"}
        posting = await posting_for(session_factory, request_id=1)
        assert posting is not None and posting.error_code == "unconfirmed"
        assert posting.create_sent_at is not None and clock.now() - posting.create_sent_at >= timedelta(hours=24)
        told = aprova.slack.messages(aprova.slack.dm_channel(CFO))[-1]
        assert "o Conta Azul nunca confirmou o lançamento" in text_of(told)

        # The admin checked Conta Azul (nothing there) and presses Retry: Aprova looks first, then posts anew.
        await aprova.click(told, RETRY, user_id=CFO)
        await aprova.settle()
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail
        assert len(entries(aprova)) == 1
        dropped, posted = aprova.sandbox.state.protocols.values()
        assert (dropped.status, dropped.evento_id) == ("PENDING", None) and posted.evento_id == entries(aprova)[0].id
        actions = [e.action for e in await flows.audit_trail(session_factory, request_id=1)]
        assert "protocol_abandoned" in actions


async def test_receivable_installments_of_zero_are_refused_in_the_modal(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        trigger = aprova.slack.new_trigger_id()
        await aprova.send_form(payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="receivable"))
        await aprova.settle()
        view = aprova.latest_view("contaazul-receivable")
        answers = {
            "description": "Amostras",
            "customer_name": "Restaurante Sabor Caseiro Ltda",
            "amount": "R$ 0,05",
            "sale_date": "2026-11-25",
            "due_date": "2026-12-20",
            "installments": "10",
            "category": "Vendas de Produtos",
        }
        refused = await aprova.submit(view, user_id=CFO, **answers)
        assert refused.json()["errors"] == {
            "installments": "Valor pequeno demais para tantas parcelas: cada uma precisa de pelo menos R$ 0,01."
        }
        assert await stored(aprova) == 0
