"""The posting worker against the Conta Azul sandbox, through the real app: the basic path."""

from __future__ import annotations

import json

import pytest

from ledger import flows
from ledger.domain import RequestStatus
from tests.harness import MANAGER, REQUESTER, running_aprova

pytestmark = pytest.mark.anyio


async def test_final_approval_posts_once_and_replies_in_thread(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        tracking = await aprova.file_request()
        [to_manager] = aprova.approval_messages(MANAGER)
        await aprova.click(to_manager, "payment-approve", user_id=MANAGER)
        await aprova.settle()
        results = await aprova.post()
        assert [r.outcome for r in results] == ["posted"], [r.posting.error_detail for r in results]
        request = await flows.get_request(session_factory, request_id=1)
        assert request.status == RequestStatus.POSTED and request.contaazul_id
        assert aprova.sandbox is not None and len(aprova.sandbox.state.events) == 1
        reply = aprova.thread(tracking)[-1]["text"]
        assert reply.startswith(f"<@{REQUESTER}> 📗 Lançado no Conta Azul")
        assert "R$ 1.234,56" in reply and "10/12/2026" in reply and request.contaazul_id in reply
        assert "contas-a-pagar" in reply
        tracking = aprova.message(tracking["channel"], tracking["ts"])
        assert request.contaazul_id in json.dumps(tracking["blocks"])
        assert await aprova.post() == []
