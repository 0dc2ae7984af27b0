"""/contaazul and the OAuth callback through the real app, against the Conta Azul sandbox on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from bot.dev import slack_payloads as payloads
from bot.scheduler import refresh_expiring_tokens
from ledger import flows
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.sandbox.seed import ACCOUNT_IDS
from ledger.domain import RequestStatus
from ledger.models import AuditEvent, ContaAzulConnection
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
        # PKCE end to end: the code was issued for a challenge, and exchanged with its verifier.
        [code] = aprova.sandbox.state.auth_codes.values()
        assert code.used and code.code_challenge is not None
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


async def test_a_leaked_authorize_url_connects_nothing_from_another_browser(session_factory, clock):
    async with (
        running_aprova(session_factory, clock, contaazul=True) as aprova,
        httpx.AsyncClient() as admin,
        httpx.AsyncClient() as stranger,
    ):
        url = connect_url(await command(aprova, "connect"))
        started = await admin.get(url)
        authorize = started.headers["location"]  # what a proxy log or the browser's history keeps

        # Someone holding the authorize URL consents (to their own company) in their browser: nothing happens.
        page = await consent_at(stranger, authorize)
        assert page.status_code == 400 and "não veio do navegador que abriu o link de conexão" in page.text
        assert await aprova.books.connection(payloads.TEAM_ID) is None
        assert aprova.sandbox.state.token_issue_count == 0  # their code was never exchanged
        assert aprova.slack.messages(aprova.slack.dm_channel(CFO)) == []

        # The start link works once: opened again, elsewhere, it sets no cookie and goes nowhere.
        again = await stranger.get(url)
        assert again.status_code == 400 and "já foi usado" in again.text
        assert "set-cookie" not in again.headers and "location" not in again.headers

        # The admin's own consent, in the browser that opened the link, still connects.
        page = await consent_at(admin, authorize)
        assert page.status_code == 200 and "Conta Azul conectado: Padaria Pão Quente Ltda" in page.text
        info = await aprova.books.connection(payloads.TEAM_ID)
        assert info is not None and info.connected_by == CFO


async def test_the_oauth_pages_are_never_cached_framed_or_scripted(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova, httpx.AsyncClient() as browser:
        started = await browser.get(connect_url(await command(aprova, "connect")))
        cookie = started.headers["set-cookie"]
        name, _, attributes = cookie.partition(";")
        assert name.startswith("aprova_oauth_browser=") and len(name.split("=", 1)[1]) >= 43
        flags = {part.strip().split("=")[0].lower(): part.strip() for part in attributes.split(";")}
        assert flags["httponly"] == "HttpOnly" and flags["samesite"] == "SameSite=Lax"
        assert flags["path"] == "Path=/contaazul/oauth" and flags["max-age"] == "Max-Age=600"
        assert "secure" not in flags  # APROVA_PUBLIC_URL is http here: a Secure cookie would never come back

        page = await consent_at(browser, started.headers["location"])
        assert page.status_code == 200
        style = re.search(r"<style>(.*?)</style>", page.text, re.DOTALL)
        assert style is not None and "<script" not in page.text
        style_hash = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        for response in (started, page):
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'none'" in csp
            assert f"style-src 'sha256-{style_hash}'" in csp and "script-src" not in csp
        assert page.headers["set-cookie"].startswith('aprova_oauth_browser=""')  # the binding is dropped
        assert "Max-Age=0" in page.headers["set-cookie"]

    async with running_aprova(
        session_factory, clock, contaazul=True, public_url="https://aprova.example.com"
    ) as aprova:
        url = connect_url(await command(aprova, "connect"))
        assert url.startswith("https://aprova.example.com/contaazul/oauth/start?state=")
        started = await aprova.http.get(f"/contaazul/oauth/start?{urlsplit(url).query}")
        assert started.status_code == 302 and "; Secure" in started.headers["set-cookie"]


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


async def test_disconnect_revokes_at_conta_azul_then_deletes_the_tokens(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        sandbox = aprova.sandbox
        assert sandbox is not None and sandbox.state.access_tokens
        clock.advance(timedelta(hours=2))  # the access token expired: the revocation refreshes it first
        reply = await command(aprova, "disconnect")
        assert "o acesso do Aprova foi revogado no Conta Azul e os tokens foram apagados" in reply["text"]
        [revoke] = [r for r in sandbox.state.request_log if r.path.startswith("/oauth/connections/")]
        assert (revoke.method, revoke.path, revoke.status) == (
            "DELETE",
            f"/oauth/connections/{sandbox.state.company.id}",
            204,
        )
        assert sandbox.state.revocation_count == 1
        assert not sandbox.state.access_tokens and not sandbox.state.refresh_tokens  # Conta Azul let Aprova go
        assert await aprova.books.connection(payloads.TEAM_ID) is None
        assert "não está conectado" in (await command(aprova, "status"))["text"]
        assert await disconnections(aprova) == [{"revocation": "revoked"}]


@pytest.mark.parametrize(
    ("endpoint", "told"),
    [
        ("failing", "A revogação do acesso no Conta Azul falhou (HTTP 502)"),
        ("absent", "O Conta Azul não ofereceu a revogação do acesso (HTTP 404)"),
    ],
)
async def test_a_failed_revocation_is_reported_and_the_tokens_are_deleted_all_the_same(
    session_factory, clock, endpoint, told
):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        assert aprova.sandbox is not None
        aprova.sandbox.control({"action": "configure", "revoke_endpoint": endpoint})
        reply = await command(aprova, "disconnect")
        assert told in reply["text"] and "os tokens foram apagados aqui" in reply["text"]
        assert "remova o aplicativo do Aprova nas integrações do Conta Azul" in reply["text"]
        assert aprova.sandbox.state.revocation_count == 0 and aprova.sandbox.state.refresh_tokens
        assert await aprova.books.connection(payloads.TEAM_ID) is None
        outcome = "failed" if endpoint == "failing" else "unavailable"
        error = "HTTP 502" if endpoint == "failing" else "HTTP 404"
        assert await disconnections(aprova) == [{"revocation": outcome, "revocation_error": error}]


async def disconnections(aprova: Aprova) -> list[dict[str, Any]]:
    async with aprova.deps.session_factory() as session:
        events = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "contaazul_disconnected").order_by(AuditEvent.id)
        )
        return [dict(event.detail) for event in events]


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


APPROVE, RETRY = "payment-approve", "posting-retry"


@pytest.mark.parametrize("first", ["posting worker", "refresh job"])
async def test_tokens_no_configured_key_decrypts_ask_admins_once_to_reconnect(session_factory, clock, first):
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        await aprova.file_request()
        await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
        await aprova.settle()
        # APROVA_ENCRYPTION_KEY was replaced without `rotate-key`: no configured key opens the stored tokens.
        stranger = TokenCipher(Fernet.generate_key().decode())
        async with session_factory.begin() as session:
            await session.execute(
                update(ContaAzulConnection).values(
                    access_token_enc=stranger.encrypt("a"), refresh_token_enc=stranger.encrypt("b")
                )
            )
        aprova.books.tokens.forget(payloads.TEAM_ID)  # as after a restart: tokens are read from the database
        clock.advance(timedelta(minutes=50))  # within the refresh job's 15 minutes of expiry

        async def refresh_job() -> None:
            assert await refresh_expiring_tokens(aprova.deps, aprova.poster.client) == []

        async def posting_worker() -> None:
            [result] = await aprova.post()
            assert result.outcome == "failed" and result.error_code == "needs_reconnect"

        for run in (posting_worker, refresh_job) if first == "posting worker" else (refresh_job, posting_worker):
            await run()  # neither crashes
        await refresh_job()
        info = await aprova.books.connection(payloads.TEAM_ID)
        assert info is not None and info.needs_reconnect
        status = await command(aprova, "status")
        assert "use `/contaazul connect`" in json.dumps(status["blocks"], ensure_ascii=False)
        alerts = [
            m for m in aprova.slack.messages(aprova.slack.dm_channel(CFO)) if "expirou ou foi revogada" in m["text"]
        ]
        assert len(alerts) == 1  # told once, whoever found out first

        # Connecting again heals it; Retry posts the payable.
        await aprova.connect_contaazul()
        told = next(m for m in reversed(aprova.slack.messages(aprova.slack.dm_channel(CFO))) if m.get("blocks"))
        await aprova.click(told, RETRY, user_id=CFO)
        await aprova.settle()
        [result] = await aprova.post()
        assert result.outcome == "posted"


async def test_an_approve_click_is_not_held_up_by_a_slow_token_refresh(session_factory, clock):
    """The refresh holds no database lock while Conta Azul's token endpoint takes its time: on SQLite a held write
    lock made an Approve click wait out the busy timeout, fail, and leave the request pending."""
    async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
        await aprova.connect_contaazul()
        await aprova.file_request()
        sandbox = aprova.sandbox
        assert sandbox is not None and aprova.poster is not None
        clock.advance(timedelta(minutes=50))  # the token expires within the refresh job's 15 minutes
        sandbox.hold(path_prefix="/oauth2/token")  # Conta Azul's token endpoint does not answer yet
        refresh = asyncio.create_task(refresh_expiring_tokens(aprova.deps, aprova.poster.client))
        try:
            await asyncio.wait_for(sandbox.until_held(), 10)
            await aprova.click(aprova.approval_messages(MANAGER)[-1], APPROVE, user_id=MANAGER)
            await aprova.settle()
            request = await flows.get_request(session_factory, request_id=1)
            assert request.status == RequestStatus.APPROVED  # decided while the refresh is still in flight
            assert not refresh.done()
        finally:
            sandbox.release_held()
        assert await refresh == [payloads.TEAM_ID]
        [result] = await aprova.post()
        assert result.outcome == "posted"
        assert sandbox.state.refresh_count == 1
