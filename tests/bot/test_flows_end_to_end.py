"""Whole flows through the real Bolt app: signed HTTP requests in, Slack Web API calls out."""

from __future__ import annotations

import asyncio
import json

import pytest

from ledger import flows
from ledger.domain import RequestStatus
from tests.harness import (
    DIRECTOR_EN,
    DIRECTOR_PT,
    MANAGER,
    OUTSIDER,
    REQUESTER,
    running_aprova,
)

pytestmark = pytest.mark.anyio


def texts(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


async def test_two_step_approval_ends_approved(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request(amount="15.000,00")
        assert "PAG-2026-000001" in tracking["text"]
        assert "R$ 15.000,00" in texts(tracking["blocks"])
        [to_manager] = aprova.approval_messages(MANAGER)
        rendered = texts(to_manager["blocks"])
        for expected in ("R$ 15.000,00", "10/12/2026", "01/11/2026", "11.222.333/0001-81", "Matéria-Prima", "Produção"):
            assert expected in rendered
        assert aprova.approval_messages(DIRECTOR_EN) == []

        await aprova.click(to_manager, "payment-approve", user_id=MANAGER)
        await aprova.settle()
        to_manager = aprova.message(to_manager["channel"], to_manager["ts"])
        assert "payment-approve" not in texts(to_manager["blocks"])
        assert f"Aprovado por <@{MANAGER}>" in texts(to_manager["blocks"])
        [to_director_en] = aprova.approval_messages(DIRECTOR_EN)
        assert "Approve" in texts(to_director_en["blocks"])  # English for an en-US user
        assert "R$15,000.00" in texts(to_director_en["blocks"])
        assert len(aprova.approval_messages(DIRECTOR_PT)) == 1

        await aprova.click(to_director_en, "payment-approve", user_id=DIRECTOR_EN)
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.APPROVED
        tracking = aprova.message(tracking["channel"], tracking["ts"])
        assert "Aprovado" in tracking["text"]
        assert "payment-cancel" not in texts(tracking["blocks"])
        thread = aprova.thread(tracking)
        assert [m["text"].split()[0] for m in thread] == [f"<@{REQUESTER}>"] * 2
        assert "Próxima etapa: *Diretoria*" in thread[0]["text"]
        # The other director's message no longer offers buttons.
        [to_director_pt] = aprova.approval_messages(DIRECTOR_PT)
        assert "payment-approve" not in texts(to_director_pt["blocks"])
        trail = [e.action for e in await flows.audit_trail(session_factory, request_id=1)]
        assert trail == ["submitted", "step_approved", "approved"]


async def test_reject_asks_for_a_reason(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request()
        [to_manager] = aprova.approval_messages(MANAGER)
        await aprova.click(to_manager, "payment-reject", user_id=MANAGER)
        await aprova.settle()
        modal = aprova.latest_view("payment-reject")
        response = await aprova.submit(modal, user_id=MANAGER, reason="   ")
        assert response.json() == {"response_action": "errors", "errors": {"reason": "Diga o motivo da rejeição."}}
        response = await aprova.submit(modal, user_id=MANAGER, reason="Sem NF anexada")
        assert response.status_code == 200 and response.text == ""
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.REJECTED
        assert request.decision_reason == "Sem NF anexada"
        thread = aprova.thread(tracking)
        assert "Sem NF anexada" in thread[-1]["text"] and f"<@{REQUESTER}>" in thread[-1]["text"]


async def test_requester_cancels(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        tracking = await aprova.file_request()
        [to_manager_before] = aprova.approval_messages(MANAGER)
        await aprova.click(tracking, "payment-cancel", user_id=OUTSIDER)
        await aprova.settle()
        assert "Só quem fez o pedido" in aprova.slack.ephemerals(OUTSIDER)[-1]["text"]
        await aprova.click(tracking, "payment-cancel", user_id=REQUESTER)
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.CANCELLED
        [to_manager] = aprova.approval_messages(MANAGER)
        assert "Cancelado pelo solicitante" in texts(to_manager["blocks"])
        await aprova.click(to_manager_before, "payment-approve", user_id=MANAGER)  # a stale button
        await aprova.settle()
        assert "já foi cancelado" in aprova.slack.ephemerals(MANAGER)[-1]["text"]


async def test_outsider_and_requester_cannot_decide(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request(user_id=MANAGER)  # the manager files; policy's only approver is the manager
        request = await flows.get_request(session_factory, request_id=1)
        assert request.steps[0].approvers == ("U0CFO",)  # the requester was replaced by the fallback
        [to_cfo] = aprova.approval_messages("U0CFO")
        await aprova.click(to_cfo, "payment-approve", user_id=MANAGER)
        await aprova.click(to_cfo, "payment-approve", user_id=OUTSIDER)
        await aprova.settle()
        assert "seu próprio pedido" in aprova.slack.ephemerals(MANAGER)[-1]["text"]
        assert "não é aprovador desta etapa" in aprova.slack.ephemerals(OUTSIDER)[-1]["text"]
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.PENDING and request.version == 1


async def test_concurrent_clicks_make_exactly_one_decision(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request(amount="20.000,00")
        [to_manager] = aprova.approval_messages(MANAGER)
        await aprova.click(to_manager, "payment-approve", user_id=MANAGER)
        await aprova.settle()
        [to_en] = aprova.approval_messages(DIRECTOR_EN)
        [to_pt] = aprova.approval_messages(DIRECTOR_PT)
        clicks = [aprova.click(to_en, "payment-approve", user_id=DIRECTOR_EN) for _ in range(5)]
        clicks += [aprova.click(to_pt, "payment-approve", user_id=DIRECTOR_PT) for _ in range(5)]
        await asyncio.gather(*clicks)
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.APPROVED
        trail = [e.action for e in await flows.audit_trail(session_factory, request_id=1)]
        assert trail.count("approved") == 1
        losers = aprova.slack.ephemerals()
        assert len(losers) == 9
        assert all("já foi aprovado" in m["text"] or "already approved" in m["text"] for m in losers)
