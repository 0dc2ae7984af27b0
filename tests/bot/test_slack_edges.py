"""What arrives from Slack that is not a clean happy path: bad input, forged requests, repeated deliveries."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.dev import slack_payloads as payloads
from ledger.models import PaymentRequest
from tests.harness import MANAGER, REQUESTER, VALID_ANSWERS, running_aprova

pytestmark = pytest.mark.anyio


async def count_requests(session_factory) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentRequest)) or 0)


async def test_every_invalid_field_comes_back_inline_and_nothing_is_stored(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        bad = {
            "description": " ",
            "vendor_name": "",
            "vendor_document": "111.111.111-11",
            "amount": "1,234",
            "due_date": "2026-11-24",
            "category": "",
            "payment_method": "boleto",
            "payment_code": "1234",
            "invoice_number": "NF ???",
        }
        response = await aprova.submit(view, **(VALID_ANSWERS | bad))
        assert response.status_code == 200
        body = response.json()
        assert body["response_action"] == "errors"
        assert body["errors"] == {
            "description": "Campo obrigatório.",
            "vendor_name": "Campo obrigatório.",
            "vendor_document": "CPF/CNPJ inválido: confira os dígitos verificadores.",
            "amount": "Use no máximo 2 casas decimais (centavos).",
            "due_date": "O vencimento não pode estar no passado.",
            "category": "Campo obrigatório.",
            "payment_code": "A linha digitável tem 47 dígitos (ou 48 para contas de consumo).",
            "invoice_number": "Número de NF inválido (até 20 caracteres, ex.: 1234 ou 1234-1).",
        }
        for amount, message in [
            ("0", "O valor deve ser maior que zero."),
            ("-10,00", "O valor deve ser maior que zero."),
            ("dez reais", "Valor inválido. Use, por exemplo, 1.234,56."),
        ]:
            response = await aprova.submit(view, **(VALID_ANSWERS | {"amount": amount}))
            assert response.json()["errors"] == {"amount": message}
        response = await aprova.submit(view, **(VALID_ANSWERS | {"payment_method": "pix", "payment_code": "x@"}))
        assert response.json()["errors"] == {"payment_code": aprova_text("error.pix_key_invalid")}
        assert await count_requests(session_factory) == 0
        assert aprova.slack.calls_to("chat.postMessage") == []


def aprova_text(key: str) -> str:
    from bot.blocks.i18n import t

    return t("pt_BR", key)


async def test_english_speaker_gets_english_errors(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.add_user("U0ENG", real_name="Grace", locale="en-US")
        view = await aprova.open_modal("U0ENG")
        assert view["title"]["text"] == "Payment request"
        response = await aprova.submit(view, user_id="U0ENG", **(VALID_ANSWERS | {"amount": "0"}))
        assert response.json()["errors"] == {"amount": "The amount must be more than zero."}


async def test_accepted_amount_spellings(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        for typed in ("1.234,56", "1234.56", "R$ 1.234,56"):
            tracking = await aprova.file_request(amount=typed)
            assert "R$ 1.234,56" in tracking["text"]
        assert await count_requests(session_factory) == 3


async def test_the_payment_alias_command_opens_the_same_modal(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal(command="/payment")
        assert view["callback_id"] == "payment-request"


async def test_a_submission_delivered_twice_stores_one_request(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        body = payloads.view_submission(view, user_id=REQUESTER, answers=VALID_ANSWERS)
        first = await aprova.send_form(body)
        second = await aprova.send_form(body)
        await aprova.settle()
        assert first.status_code == second.status_code == 200
        assert await count_requests(session_factory) == 1
        assert len(aprova.approval_messages(MANAGER)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: payloads.sign(body, secret="not-the-secret"), id="forged"),
        pytest.param(lambda body: payloads.sign(body, timestamp=int(time.time()) - 600), id="stale"),
        pytest.param(lambda body: {}, id="unsigned"),
    ],
)
async def test_forged_or_stale_signature_is_refused_and_stores_nothing(session_factory, clock, headers):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        body = payloads.view_submission(view, user_id=REQUESTER, answers=VALID_ANSWERS)
        response = await aprova.send_form(body, headers=headers(body))
        assert response.status_code == 401
        trigger = aprova.slack.new_trigger_id()
        command = payloads.slash_command("/pagamento", user_id=REQUESTER, trigger_id=trigger)
        response = await aprova.send_form(command, headers=headers(command))
        assert response.status_code == 401
        await aprova.settle()
        assert await count_requests(session_factory) == 0
        assert len(aprova.slack.calls_to("views.open")) == 1


async def test_a_retried_event_is_handled_once(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request()
        event = {"type": "app_home_opened", "user": MANAGER, "channel": "D0MGR", "tab": "home", "event_ts": "1.2"}
        body = payloads.event_callback(event, event_id="Ev0001")
        first = await aprova.send(body, content_type="application/json")
        retry_headers = payloads.sign(body) | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        retried = await aprova.send(body, content_type="application/json", headers=retry_headers)
        await aprova.settle()
        assert first.status_code == retried.status_code == 200
        [published] = aprova.slack.calls_to("views.publish")
        assert "PAG-2026-000001" in str(published.args["view"])  # waiting for the manager's approval


async def test_garbage_button_value_gets_a_polite_answer(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request()
        [to_manager] = aprova.approval_messages(MANAGER)
        await aprova.click(to_manager, "payment-approve", user_id=MANAGER, value="{not json")
        await aprova.settle()
        assert "Não encontrei esse pedido" in aprova.slack.ephemerals(MANAGER)[-1]["text"]


async def test_slack_failures_while_notifying_do_not_lose_the_request(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", error="channel_not_found")
        view = await aprova.open_modal()
        response = await aprova.submit(view, **VALID_ANSWERS)
        await aprova.settle()
        assert response.status_code == 200
        assert await count_requests(session_factory) == 1
        assert len(aprova.approval_messages(MANAGER)) == 1  # the approver is still asked
