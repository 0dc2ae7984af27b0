"""What Aprova shows to whom: personal data masked where a whole channel reads, health details only to the operator,
and old bookkeeping rows purged."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.dev import slack_payloads as payloads
from bot.scheduler import PURGE_JOB, Scheduler, post_daily_digest, purge_bookkeeping
from ledger.instruments import br_code
from ledger.models import JobRun, OAuthState, ProcessedDelivery
from tests.harness import CFO, MANAGER, REQUESTER, VALID_ANSWERS, Aprova, running_aprova

pytestmark = pytest.mark.anyio

CPF, OTHER_CPF = "529.982.247-25", "111.444.777-35"
PIX_KEY = "ana.fornecedora@exemplo.com.br"
PIX_CODE = br_code(key=PIX_KEY, receiver_name="ANA FORNECEDORA", city="SAO PAULO", amount=Decimal("1234.56"))


def shown(message: dict[str, object]) -> str:
    return json.dumps(message, ensure_ascii=False)


async def file_pix_request_to_a_person(aprova: Aprova) -> dict[str, object]:
    return await aprova.file_request(
        vendor_name="Ana Fornecedora", vendor_document=CPF, payment_method="pix", payment_code=PIX_CODE
    )


async def test_the_requests_channel_sees_the_cpf_and_pix_key_masked_and_approvers_see_them_whole(
    session_factory, clock
):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = shown(await file_pix_request_to_a_person(aprova))
        assert CPF not in tracking and "52998224725" not in tracking and "***.982.247-**" in tracking
        assert PIX_KEY not in tracking and PIX_CODE not in tracking and "a***@exemplo.com.br" in tracking
        assert "PIX copia e cola para ANA FORNECEDORA (SAO PAULO)" in tracking  # what it pays is still said
        [asked] = aprova.approval_messages(MANAGER)
        direct = shown(asked)
        assert CPF in direct and PIX_KEY in direct and PIX_CODE in direct


async def test_an_edit_says_in_the_channel_what_changed_without_the_cpf_or_pix_key(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await file_pix_request_to_a_person(aprova)
        await aprova.click(aprova.message(tracking["channel"], tracking["ts"]), "payment-edit", user_id=REQUESTER)
        await aprova.settle()
        view = aprova.latest_view("payment-edit")
        answers = VALID_ANSWERS | {
            "vendor_name": "Ana Fornecedora",
            "vendor_document": OTHER_CPF,
            "payment_method": "pix",
            "payment_code": "pagamentos@outro-fornecedor.com.br",
        }
        assert (await aprova.submit(view, **answers)).text == ""
        await aprova.settle()
        reply = aprova.thread(tracking)[-1]["text"]
        assert "CNPJ/CPF do fornecedor: ***.982.247-** → ***.444.777-**" in reply and "Boleto/PIX" in reply
        for secret in (CPF, OTHER_CPF, PIX_KEY, "pagamentos@outro-fornecedor.com.br", PIX_CODE):
            assert secret not in reply
        assert "pagamentos@outro-fornecedor.com.br" in shown(aprova.approval_messages(MANAGER)[-1])


OPERATOR = {"Authorization": "Bearer ops-readyz-token"}


async def home_opened(aprova: Aprova, event_id: str) -> None:
    event = {"type": "app_home_opened", "user": REQUESTER, "channel": "D0HOME", "tab": "home", "event_ts": "1.2"}
    response = await aprova.send(payloads.event_callback(event, event_id=event_id), content_type="application/json")
    assert response.status_code == 200
    await aprova.settle()


async def rows(aprova: Aprova) -> dict[str, int]:
    async with aprova.deps.session_factory() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (ProcessedDelivery, OAuthState, JobRun)
        }


async def test_replay_keys_oauth_states_and_job_runs_are_purged_once_nothing_needs_them(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, finance_channel="C0FIN") as aprova:
        assert aprova.poster is not None
        client = aprova.poster.client
        await home_opened(aprova, "Ev0001")
        trigger = aprova.slack.new_trigger_id()
        await aprova.send_form(payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="connect"))
        await aprova.settle()
        assert await post_daily_digest(aprova.deps, client, owner="test")
        assert await rows(aprova) == {"processed_deliveries": 1, "oauth_states": 1, "job_runs": 1}

        clock.advance(timedelta(hours=1))
        assert await purge_bookkeeping(aprova.deps, client) == {
            "processed_deliveries": 0,
            "oauth_states": 0,
            "job_runs": 0,
        }
        published = len(aprova.slack.calls_to("views.publish"))
        await home_opened(aprova, "Ev0001")  # Slack retrying the event an hour later: still handled once
        assert len(aprova.slack.calls_to("views.publish")) == published

        clock.advance(timedelta(days=1))
        assert await purge_bookkeeping(aprova.deps, client) == {
            "processed_deliveries": 1,
            "oauth_states": 1,
            "job_runs": 0,  # a day's digest claim is kept for a month
        }
        clock.advance(timedelta(days=30))
        await purge_bookkeeping(aprova.deps, client)
        assert await rows(aprova) == {"processed_deliveries": 0, "oauth_states": 0, "job_runs": 0}
        assert PURGE_JOB in {job.id for job in Scheduler(aprova.deps, client).get_jobs()}
