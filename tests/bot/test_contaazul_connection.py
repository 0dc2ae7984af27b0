"""/contaazul and the OAuth callback through the real app, against the Conta Azul sandbox on loopback."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.dev import slack_payloads as payloads
from ledger import flows
from ledger.contaazul.sandbox.seed import ACCOUNT_IDS
from ledger.models import ContaAzulConnection
from tests.harness import CFO, MANAGER, REQUESTER, Aprova, running_aprova

pytestmark = pytest.mark.anyio


async def command(aprova: Aprova, text: str, *, user_id: str = CFO) -> dict[str, Any]:
    """Run ``/contaazul <text>`` and return the ephemeral reply."""
    before = len(aprova.slack.ephemerals(user_id))
    body = payloads.slash_command("/contaazul", user_id=user_id, trigger_id=aprova.slack.new_trigger_id(), text=text)
    response = await aprova.send_form(body)
    assert response.status_code == 200
    await aprova.settle()
    replies = aprova.slack.ephemerals(user_id)
    assert len(replies) == before + 1, replies
    return replies[-1]


def connect_url(reply: dict[str, Any]) -> str:
    buttons = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return str(buttons[0]["url"])


async def consent(browser: httpx.AsyncClient, url: str, decision: str = "autorizar") -> httpx.Response:
    """Play the admin's browser: open Aprova's start link (it sets the binding cookie and redirects), then the
    consent page, click a button, follow the redirect back to Aprova. A refused start link is returned as is."""
    started = await browser.get(url)
    if started.status_code != 302:
        return started
    return await consent_at(browser, started.headers["location"], decision)


async def consent_at(browser: httpx.AsyncClient, url: str, decision: str = "autorizar") -> httpx.Response:
    """The consent page at Conta Azul's authorize ``url``: click a button, follow the redirect back to Aprova."""
    page = await browser.get(url)
    assert page.status_code == 200 and "Autorizar" in page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id is not None
    answer = await browser.post(
        url.split("/oauth2/")[0] + "/oauth2/consent", data={"request_id": request_id.group(1), "decisao": decision}
    )
    assert answer.status_code in (302, 303)
    return await browser.get(answer.headers["location"])


async def connect(aprova: Aprova, browser: httpx.AsyncClient) -> httpx.Response:
    return await consent(browser, connect_url(await command(aprova, "connect")))


async def test_admin_connects_through_the_consent_page(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        reply = await command(aprova, "connect")
        url = connect_url(reply)
        assert url.startswith(f"{aprova.http.base_url}/contaazul/oauth/start?state=")
        started = await browser.get(url)
        assert started.status_code == 302
        authorize = started.headers["location"]
        assert authorize.startswith(f"{aprova.sandbox.authorize_url}?")
        assert "scope=openid+profile+aws.cognito.signin.user.admin" in authorize
        assert "redirect_uri=http%3A%2F%2F127.0.0.1" in authorize
        assert "code_challenge_method=S256" in authorize and "code_challenge=" in authorize
        page = await consent_at(browser, authorize)
        assert page.status_code == 200
        assert "Conta Azul conectado: Padaria Pão Quente Ltda" in page.text
        await aprova.settle()
        [confirmation] = [m for m in aprova.slack.messages(aprova.slack.dm_channel(CFO))]
        assert "Padaria Pão Quente Ltda" in confirmation["text"]
        assert "Itaú Conta Corrente" in confirmation["text"]  # the ERP's default account was picked

        status = await command(aprova, "status")
        rendered = json.dumps(status["blocks"], ensure_ascii=False)
        assert "Padaria Pão Quente Ltda" in rendered and f"<@{CFO}>" in rendered
        assert "Itaú Conta Corrente" in rendered and "funcionando" in rendered

        async with session_factory() as session:
            row = await session.get(ContaAzulConnection, 1)
        assert row is not None
        assert "access" not in row.access_token_enc and row.refresh_token_enc.startswith("gAAAA")  # Fernet, not clear


async def test_headless_redirect_completes_by_itself(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        url = connect_url(await command(aprova, "connect"))
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            page = await browser.get(url)
        assert page.status_code == 200 and "Padaria Pão Quente Ltda" in page.text


async def test_state_is_single_use_bound_and_expiring(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        callback = f"{aprova.http.base_url}/contaazul/oauth/callback"
        forged = await browser.get(callback, params={"state": "made-up", "code": "x"})
        assert forged.status_code == 400 and "não é válido" in forged.text

        url = connect_url(await command(aprova, "connect"))
        page = await consent(browser, url)
        assert page.status_code == 200
        replay = await browser.get(str(page.url))  # the same callback URL again
        assert replay.status_code == 400 and "já foi usado" in replay.text

        url = connect_url(await command(aprova, "connect"))
        clock.advance(timedelta(minutes=11))
        late = await consent(browser, url)
        assert late.status_code == 400 and "expirou" in late.text

        url = connect_url(await command(aprova, "connect"))
        denied = await consent(browser, url, decision="negar")
        assert denied.status_code == 400 and "negada" in denied.text
        again = await browser.get(callback, params={"state": url.split("state=")[1].split("&")[0], "code": "x"})
        assert "já foi usado" in again.text  # a denied consent used its state up


async def test_only_finance_admins_manage_the_connection(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova:
        for action in ("connect", "status", "account", "disconnect"):
            reply = await command(aprova, action, user_id=MANAGER)
            assert "só os administradores do financeiro" in reply["text"]
        aprova.slack.add_user("U0OWNER", locale="en-US", is_owner=True)
        reply = await command(aprova, "status", user_id="U0OWNER")  # workspace owners count as admins
        assert "not connected" in reply["text"]
        assert "Uso:" in (await command(aprova, "help")).get("text", "")


async def test_choose_the_default_financial_account(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        await connect(aprova, browser)
        body = payloads.slash_command(
            "/contaazul", user_id=CFO, trigger_id=aprova.slack.new_trigger_id(), text="account"
        )
        await aprova.send_form(body)
        await aprova.settle()
        modal = aprova.latest_view("contaazul-account")
        names = [o["text"]["text"] for o in modal["blocks"][0]["element"]["options"]]
        assert "Caixinha" in names and "Receba Fácil" not in names and "Bradesco (encerrada)" not in names
        response = await aprova.submit(modal, user_id=CFO, account=ACCOUNT_IDS["Caixinha"])
        assert response.status_code == 200 and response.text == ""
        await aprova.settle()
        info = await aprova.books.connection("T0001")
        assert info is not None and info.default_account_name == "Caixinha"


async def test_disconnect_removes_tokens(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        await connect(aprova, browser)
        assert "desconectado" in (await command(aprova, "disconnect"))["text"]
        assert await aprova.books.connection("T0001") is None
        assert "não está conectado" in (await command(aprova, "status"))["text"]


async def test_refused_refresh_alerts_admins_once(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        await connect(aprova, browser)
        assert aprova.sandbox is not None
        aprova.sandbox.revoke_refresh_tokens()
        clock.advance(timedelta(hours=2))  # the access token expired: the next call must refresh
        for _ in range(3):
            status = await command(aprova, "status")
            assert "use `/contaazul connect`" in json.dumps(status["blocks"], ensure_ascii=False)
        alerts = [
            m for m in aprova.slack.messages(aprova.slack.dm_channel(CFO)) if "expirou ou foi revogada" in m["text"]
        ]
        assert len(alerts) == 1
        assert aprova.sandbox.state.refresh_count == 1  # no loop against the token endpoint


async def test_request_modal_offers_live_lists_when_connected(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        view = await aprova.open_modal()
        assert "Conta Azul não conectado" in json.dumps(view["blocks"], ensure_ascii=False)
        await connect(aprova, browser)
        view = await aprova.open_modal()
        kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
        assert kinds["category"] == kinds["cost_center"] == kinds["vendor_name"] == "external_select"

        async def options(block_id: str, typed: str) -> list[dict[str, Any]]:
            body = payloads.block_suggestion(view, block_id=block_id, user_id=REQUESTER, value=typed)
            response = await aprova.send_form(body)
            assert response.status_code == 200
            return list(response.json()["options"])

        categories = await options("category", "energia eletrica")
        assert [o["value"] for o in categories] == ["Energia Elétrica"]
        assert categories[0]["text"]["text"] == "Despesas Administrativas › Energia Elétrica"
        assert await options("category", "Categoria Inventada") == []
        centers = await options("cost_center", "Obra Nova")
        assert centers[0]["value"] == "Obra Nova" and "Criar centro de custo" in centers[0]["text"]["text"]
        assert [o["value"] for o in await options("cost_center", "produção")] == ["Produção"]
        vendors = await options("vendor_name", "Moinho")
        assert "Moinho Anaconda Ltda" in [o["value"] for o in vendors]

        # The selections submit like typed values.
        from tests.harness import VALID_ANSWERS

        answers = VALID_ANSWERS | {"category": "Energia Elétrica", "cost_center": "Obra Nova"}
        response = await aprova.submit(view, **answers)
        assert response.status_code == 200 and response.text == ""
        await aprova.settle()
        request = await flows.get_request(session_factory, request_id=1)
        assert (request.category, request.cost_center) == ("Energia Elétrica", "Obra Nova")
