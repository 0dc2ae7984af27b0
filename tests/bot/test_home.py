"""The App Home tab per person, through the real app: requester, approver (deciding from the tab, paged), admin."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.dev import slack_payloads as payloads
from ledger import flows
from ledger.domain import RequestStatus
from tests.bot.test_blocks import assert_within_slack_limits
from tests.harness import CFO, MANAGER, OUTSIDER, REQUESTER, Aprova, running_aprova

pytestmark = pytest.mark.anyio

_events = itertools.count(1)


async def open_home(aprova: Aprova, user_id: str) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home", "event_ts": "1.2"}
    body = payloads.event_callback(event, event_id=f"Ev{next(_events):06d}{user_id}")
    response = await aprova.send(body, content_type="application/json")
    assert response.status_code == 200
    await aprova.settle()
    return home_of(aprova, user_id)


def home_of(aprova: Aprova, user_id: str) -> dict[str, Any]:
    view = aprova.slack.home_views[user_id]
    assert_within_slack_limits(view, "home")
    return view


def shown(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
    return found


async def act_in_home(aprova: Aprova, user_id: str, action: dict[str, Any], view: dict[str, Any]) -> None:
    """A click in the Home tab, as Slack sends it: a button, or a choice in an overflow menu."""
    payload = {
        "type": "block_actions",
        "team": {"id": payloads.TEAM_ID, "domain": "padaria"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": payloads.TEAM_ID},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": aprova.slack.new_trigger_id(),
        "view": view,
        "actions": [action | {"block_id": "b", "action_ts": "1.1"}],
        "is_enterprise_install": False,
    }
    response = await aprova.send_form(urlencode({"payload": json.dumps(payload)}))
    assert response.status_code == 200
    await aprova.settle()


async def click_in_home(
    aprova: Aprova, user_id: str, button: dict[str, Any], view: dict[str, Any] | None = None
) -> None:
    action = {"type": "button", "action_id": button["action_id"], "value": button.get("value")}
    await act_in_home(aprova, user_id, action, view or home_of(aprova, user_id))


async def test_requester_sees_where_each_request_is(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request()
        home = await open_home(aprova, REQUESTER)
        assert "*Meus pedidos recentes*" in shown(home)
        assert "*PAG-2026-000001* · Moinho Anaconda Ltda · R$ 1.234,56 · 10/12/2026" in shown(home)
        assert "aguarda *Financeiro*: <@U0MGR>" in shown(home)
        assert "*Financeiro*\\n" not in shown(home)  # not a finance admin: no admin panel


async def test_approver_decides_from_the_home_tab(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        await aprova.file_request()
        home = await open_home(aprova, MANAGER)
        approve = next(b for b in buttons(home) if b["action_id"] == "payment-approve")
        assert {b["action_id"] for b in buttons(home)} >= {"payment-approve", "payment-reject", "request-history"}
        await click_in_home(aprova, MANAGER, approve)
        assert (await flows.get_request(session_factory, request_id=1)).status == RequestStatus.APPROVED
        refreshed = home_of(aprova, MANAGER)
        assert "payment-approve" not in shown(refreshed) and "Nada por aqui." in shown(refreshed)
        # The requester's own approval message in Slack was updated like any decision.
        [message] = aprova.approval_messages(MANAGER)
        assert "payment-approve" not in json.dumps(message["blocks"])

        # The same (stale) button again: told privately in the DM what already happened.
        await click_in_home(aprova, MANAGER, approve)
        assert "já" in aprova.slack.messages(aprova.slack.dm_channel(MANAGER))[-1]["text"]


async def test_many_waiting_requests_are_paged(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        for number in range(19):
            await aprova.file_request(amount=f"R$ {100 + number},00", invoice_number=f"NF {1000 + number}")
        home = await open_home(aprova, MANAGER)
        assert shown(home).count('"payment-approve"') == 8 and "Página 1 de 3 · 19 pedidos" in shown(home)
        [more] = [b for b in buttons(home) if b["action_id"].startswith("home-page")]
        await click_in_home(aprova, MANAGER, more)
        second = home_of(aprova, MANAGER)
        assert "Página 2 de 3" in shown(second) and {
            b["text"]["text"] for b in buttons(second) if b["action_id"].startswith("home-page")
        } == {
            "◀ Anteriores",
            "Próximos ▶",
        }
        assert "PAG-2026-000009" in shown(second) and "PAG-2026-000001*" not in shown(second)


async def test_finance_admin_sees_the_books_failures_with_retry_and_the_month(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        home = await open_home(aprova, CFO)
        assert "🔌 Conta Azul não conectado: use `/contaazul connect`." in shown(home)
        # Approved before connecting: the posting fails, and the admin can retry from the tab.
        await aprova.file_request()
        await aprova.file_request(
            amount="R$ 500,00", cost_center="", category="Energia Elétrica", invoice_number="NF 2"
        )
        for message in aprova.approval_messages(MANAGER):
            await aprova.click(message, "payment-approve", user_id=MANAGER)
        await aprova.settle()
        assert [r.outcome for r in await aprova.post()] == ["failed", "failed"]
        await aprova.connect_contaazul()
        home = await open_home(aprova, CFO)
        text = shown(home)
        assert "✅ Conectado a *Padaria Pão Quente Ltda* · conta Itaú Conta Corrente" in text
        assert "⚠️ Lançamentos com falha (2)" in text and "o Conta Azul não está conectado" in text
        assert (
            "*A pagar em 11/2026, por categoria*\\nMatéria-Prima: R$ 1.234,56 (1)\\nEnergia Elétrica: R$ 500,00 (1)"
            in text
        )
        assert "Produção: R$ 1.234,56 (1)\\n(sem centro de custo): R$ 500,00 (1)" in text
        retry = next(b for b in buttons(home) if b["action_id"] == "posting-retry")
        await click_in_home(aprova, CFO, retry)
        assert (await flows.get_request(session_factory, request_id=1)).status == RequestStatus.POSTING
        assert "⚠️ Lançamentos com falha (1)" in shown(home_of(aprova, CFO))
        [result] = await aprova.post()
        assert result.outcome == "posted", result.posting.error_detail

        # Someone who is not an admin, with the same button: refused, nothing changes.
        admin_home = home_of(aprova, CFO)
        retry = next(b for b in buttons(admin_home) if b["action_id"] == "posting-retry")
        await click_in_home(aprova, OUTSIDER, retry, view=admin_home)
        assert (await flows.get_request(session_factory, request_id=2)).status == RequestStatus.POST_FAILED
