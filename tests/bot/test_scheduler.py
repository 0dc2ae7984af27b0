"""The periodic jobs through the real app: reminders, escalation, the daily digest and the token refresh.

The scheduler only decides when a job runs; the tests call each job as it would, moving the shared clock instead of
waiting. "Several instances" are several callers on one database at once (SQLite and PostgreSQL): each job must do
its work once whatever the number of callers.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from bot.scheduler import (
    DIGEST_JOB,
    ESCALATION_JOB,
    PURGE_JOB,
    REMINDERS_JOB,
    TOKEN_REFRESH_JOB,
    Scheduler,
    escalate_waiting_steps,
    post_daily_digest,
    refresh_expiring_tokens,
    send_reminders,
)
from ledger import flows
from ledger.domain import RequestStatus
from ledger.policy import parse_policy
from tests.harness import CFO, MANAGER, REQUESTER, Aprova, running_aprova

pytestmark = pytest.mark.anyio

APPROVE = "payment-approve"
FINANCE_CHANNEL = "C0FIN"


def client(aprova: Aprova) -> Any:
    assert aprova.poster is not None
    return aprova.poster.client


def thread_of(aprova: Aprova, message: dict[str, Any]) -> list[dict[str, Any]]:
    return aprova.slack.thread(message["channel"], message["ts"])


async def test_approvers_are_reminded_once_after_the_configured_time(session_factory, clock):
    async with running_aprova(session_factory, clock, remind_after_hours=24, escalate_after_hours=72) as aprova:
        await aprova.file_request()
        [approval] = aprova.approval_messages(MANAGER)

        clock.advance(timedelta(hours=23, minutes=59))
        assert await send_reminders(aprova.deps, client(aprova)) == 0
        await aprova.settle()
        clock.advance(timedelta(minutes=2))
        # Three instances run the job at the same moment: one reminder.
        counts = await asyncio.gather(*(send_reminders(aprova.deps, client(aprova)) for _ in range(3)))
        await aprova.settle()
        assert sorted(counts) == [0, 0, 1]
        [reminder] = thread_of(aprova, approval)
        assert reminder["text"] == "⏰ Lembrete: PAG-2026-000001 aguarda a sua aprovação há 24 h"
        assert reminder["subtype"] == "thread_broadcast"  # shown in the DM too, not only in the thread

        clock.advance(timedelta(hours=30))
        assert await send_reminders(aprova.deps, client(aprova)) == 0  # once per step
        await aprova.settle()
        assert len(thread_of(aprova, approval)) == 1
        # The reminder leaves the buttons where they were: the approval still works from the first message.
        await aprova.click(approval, APPROVE, user_id=MANAGER)
        await aprova.settle()
        assert (await flows.get_request(session_factory, request_id=1)).status == RequestStatus.APPROVED
        actions = [e.action for e in await flows.audit_trail(session_factory, request_id=1)]
        assert actions.count("reminded") == 1


async def test_decided_or_cancelled_requests_are_not_reminded(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request()
        await aprova.click(tracking, "payment-cancel", user_id=REQUESTER)
        await aprova.settle()
        clock.advance(timedelta(days=10))
        assert await send_reminders(aprova.deps, client(aprova)) == 0
        await aprova.settle()
        assert await escalate_waiting_steps(aprova.deps, client(aprova)) == 0
        await aprova.settle()


async def test_a_step_waiting_too_long_escalates_to_the_fallback_once(session_factory, clock):
    async with running_aprova(session_factory, clock, remind_after_hours=24, escalate_after_hours=72) as aprova:
        tracking = await aprova.file_request()
        clock.advance(timedelta(hours=71))
        assert await escalate_waiting_steps(aprova.deps, client(aprova)) == 0
        await aprova.settle()
        clock.advance(timedelta(hours=2))
        counts = await asyncio.gather(*(escalate_waiting_steps(aprova.deps, client(aprova)) for _ in range(3)))
        await aprova.settle()
        assert sorted(counts) == [0, 0, 1]
        await aprova.settle()

        request = await flows.get_request(session_factory, request_id=1)
        assert request.steps[0].approvers == (MANAGER, CFO)
        [asked] = aprova.approval_messages(CFO)
        assert asked["text"].startswith("⏫ PAG-2026-000001 está sem decisão há 73 h na etapa *Financeiro*")
        assert APPROVE in json.dumps(asked["blocks"])
        assert (
            thread_of(aprova, tracking)[-1]["text"]
            == "⏫ Sem decisão há 73 h na etapa *Financeiro*: escalado para <@U0CFO>."
        )
        assert await escalate_waiting_steps(aprova.deps, client(aprova)) == 0  # once per step
        await aprova.settle()

        # The fallback decides; the manager's message shows who did.
        await aprova.click(asked, APPROVE, user_id=CFO)
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.status, request.decided_by) == (RequestStatus.APPROVED, CFO)
        [manager_message] = aprova.approval_messages(MANAGER)
        assert "<@U0CFO>" in json.dumps(manager_message["blocks"], ensure_ascii=False)


async def test_escalation_never_adds_the_requester(session_factory, clock):
    policy = parse_policy(
        {"fallback": [REQUESTER], "default": {"steps": [{"name": "Financeiro", "approvers": [MANAGER]}]}}
    )
    async with running_aprova(session_factory, clock, policy=policy) as aprova:
        await aprova.file_request()
        clock.advance(timedelta(days=4))
        assert await escalate_waiting_steps(aprova.deps, client(aprova)) == 0
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert request.steps[0].approvers == (MANAGER,) and request.steps[0].escalated_at is not None
        assert aprova.approval_messages(REQUESTER) == []
        assert await escalate_waiting_steps(aprova.deps, client(aprova)) == 0
        await aprova.settle()


async def test_daily_digest_once_per_day_whatever_the_instances(session_factory, clock):
    async with running_aprova(session_factory, clock, finance_channel=FINANCE_CHANNEL) as aprova:
        await aprova.file_request()
        await aprova.file_request(amount="R$ 20.000,00")
        tracking = await aprova.file_request(amount="R$ 50,00")
        await aprova.click(aprova.approval_messages(MANAGER)[-1], "payment-reject", user_id=MANAGER)
        await aprova.settle()
        await aprova.submit(aprova.latest_view("payment-reject"), user_id=MANAGER, reason="Duplicado")
        await aprova.settle()
        assert (await flows.get_request(session_factory, request_id=3)).status == RequestStatus.REJECTED
        assert tracking

        clock.advance(timedelta(days=1))  # the next morning: the digest covers yesterday
        owners = ["instance-a", "instance-b", "instance-c"]
        posted = await asyncio.gather(*(post_daily_digest(aprova.deps, client(aprova), owner=o) for o in owners))
        assert sorted(posted) == [False, False, True]
        [digest] = aprova.slack.messages(FINANCE_CHANNEL)
        assert digest["text"] == (
            "Resumo do dia 25/11/2026: 2 aguardando aprovação, 0 lançados, 0 com falha de lançamento"
        )
        shown = json.dumps(digest["blocks"], ensure_ascii=False)
        assert "R$ 21.234,56" in shown and "❌ *Rejeitados no dia*\\n1 · R$ 50,00" in shown
        assert await post_daily_digest(aprova.deps, client(aprova), owner="instance-a") is False
        assert len(aprova.slack.messages(FINANCE_CHANNEL)) == 1


async def test_no_digest_without_a_finance_channel(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request()
        assert await post_daily_digest(aprova.deps, client(aprova), owner="a") is False


async def test_tokens_are_refreshed_before_they_expire_and_a_refused_refresh_alerts_once(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        sandbox = aprova.sandbox
        assert sandbox is not None

        def refreshes() -> int:
            return sum(1 for r in sandbox.state.request_log if r.path == "/oauth2/token")

        before = refreshes()
        assert await refresh_expiring_tokens(aprova.deps, client(aprova)) == []  # an hour left: nothing to do
        clock.advance(timedelta(minutes=50))  # 10 minutes left, under the 15 the job keeps
        results = await asyncio.gather(*(refresh_expiring_tokens(aprova.deps, client(aprova)) for _ in range(3)))
        # Whoever looked after the refresh found nothing due; whoever looked before waited for it: one refresh.
        assert ["T0001"] in results and all(r in ([], ["T0001"]) for r in results)
        assert refreshes() == before + 1
        assert await refresh_expiring_tokens(aprova.deps, client(aprova)) == []

        sandbox.revoke_refresh_tokens()
        clock.advance(timedelta(minutes=50))
        for _ in range(3):
            assert await refresh_expiring_tokens(aprova.deps, client(aprova)) == []
        alerts = [
            m for m in aprova.slack.messages(aprova.slack.dm_channel(CFO)) if "/contaazul connect` de novo" in m["text"]
        ]
        assert len(alerts) == 1
        info = await aprova.books.connection("T0001")
        assert info is not None and info.needs_reconnect


async def test_scheduler_registers_each_job_and_stops_cleanly(session_factory, clock):
    async with running_aprova(session_factory, clock, finance_channel=FINANCE_CHANNEL, contaazul=True) as aprova:
        scheduler = Scheduler(aprova.deps, client(aprova), owner="test")
        scheduler.start()
        assert scheduler.scheduler.running
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {TOKEN_REFRESH_JOB, REMINDERS_JOB, ESCALATION_JOB, DIGEST_JOB, PURGE_JOB}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        assert repr(jobs[DIGEST_JOB].trigger) == "<CronTrigger (hour='8', minute='0', timezone='America/Sao_Paulo')>"
        await scheduler.shutdown()
        assert not scheduler.scheduler.running
    async with running_aprova(session_factory, clock) as aprova:
        plain = {job.id for job in Scheduler(aprova.deps, client(aprova)).get_jobs()}
        assert plain == {REMINDERS_JOB, ESCALATION_JOB, PURGE_JOB}  # no Conta Azul, no finance channel
