"""The real Aprova app on loopback: Bolt behind aiohttp, talking to LocalSlack, driven by signed requests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.deliveries import DeliveryWorker
from bot.deps import Deps
from bot.dev import slack_payloads as payloads
from bot.dev.localslack import LocalSlack
from bot.errors import Listeners
from bot.posting import PostingLoop
from bot.settings import Settings
from bot.wiring import assemble
from ledger.clock import FixedClock
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.sandbox import Sandbox
from ledger.errors import InvalidValue
from ledger.instruments import bank_barcode, barcode_to_line
from ledger.outbox import PostingResult
from ledger.policy import Policy, parse_policy
from ledger.receivables import ReceivableRules
from ledger.validation import parse_brl_amount

REQUESTER, MANAGER, DIRECTOR_EN, DIRECTOR_PT, OUTSIDER, CFO = "U0REQ", "U0MGR", "U0DIR1", "U0DIR2", "U0OUT", "U0CFO"
REQUESTS_CHANNEL = "C0PEDIDOS"
SANDBOX_CLIENT_ID, SANDBOX_SECRET = "aprova-test", "sandbox-secret"
ENCRYPTION_KEY = "0vYSP5ng0Mr7-Ep9jBkYtX8QmSiG0fb3xBqEjL8jK3E="

POLICY = parse_policy(
    {
        "fallback": [CFO],
        "rules": [
            {
                "name": "Alto valor",
                "min_amount": "10000",
                "steps": [
                    {"name": "Gestor", "approvers": [MANAGER]},
                    {"name": "Diretoria", "approvers": ["S0DIRETORIA"]},
                ],
            }
        ],
        "default": {"steps": [{"name": "Financeiro", "approvers": [MANAGER]}]},
    }
)

VALID_ANSWERS: dict[str, Any] = {
    "description": "Farinha de trigo — novembro",
    "vendor_name": "Moinho Anaconda Ltda",
    "vendor_document": "11.222.333/0001-81",
    "amount": "R$ 1.234,56",
    "competence_date": "2026-11-01",
    "due_date": "2026-12-10",
    "category": "Matéria-Prima",
    "cost_center": "Produção",
    "payment_method": "boleto",
    # A real-shaped boleto for exactly R$ 1.234,56 due 10/12/2026 (file_request remakes it for other values).
    "payment_code": barcode_to_line(bank_barcode(bank="237", amount=Decimal("1234.56"), due_date=date(2026, 12, 10))),
    "invoice_number": "NF 4521",
    "notes": "Entrega de 20 sacos.",
}


@dataclass
class Aprova:
    slack: LocalSlack
    deps: Deps
    http: httpx.AsyncClient
    sandbox: Sandbox | None = None
    poster: PostingLoop | None = None
    listeners: Listeners | None = None
    deliveries: DeliveryWorker | None = None

    async def post(self) -> list[PostingResult]:
        """Run the posting worker until nothing is due, telling Slack as the app would."""
        assert self.poster is not None
        results = await self.poster.drain_and_notify()
        await self.settle()
        return results

    async def connect_contaazul(self, admin: str = "U0CFO") -> None:
        """The headless OAuth dance (the sandbox must run with auto_consent)."""
        trigger = self.slack.new_trigger_id()
        await self.send_form(payloads.slash_command("/contaazul", user_id=admin, trigger_id=trigger, text="connect"))
        await self.settle()
        reply = self.slack.ephemerals(admin)[-1]
        url = next(e["url"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"])
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            page = await browser.get(url)
        assert page.status_code == 200, page.text
        await self.settle()

    @property
    def books(self) -> ContaAzul:
        assert self.deps.contaazul is not None
        return self.deps.contaazul

    @property
    def clock(self) -> FixedClock:
        assert isinstance(self.deps.clock, FixedClock)
        return self.deps.clock

    async def send(self, body: str, *, content_type: str, headers: dict[str, str] | None = None) -> httpx.Response:
        signed = payloads.sign(body) if headers is None else headers
        return await self.http.post(
            "/slack/events", content=body.encode(), headers={"Content-Type": content_type, **signed}
        )

    async def send_form(self, body: str, **kwargs: Any) -> httpx.Response:
        return await self.send(body, content_type="application/x-www-form-urlencoded", **kwargs)

    async def open_modal(self, user_id: str = REQUESTER, command: str = "/pagamento") -> dict[str, Any]:
        before = len(self.slack.calls_to("views.open"))
        trigger = self.slack.new_trigger_id()
        response = await self.send_form(payloads.slash_command(command, user_id=user_id, trigger_id=trigger))
        assert response.status_code == 200, response.text
        await self.slack.wait_for("views.open", before + 1)
        return self.latest_view("payment-request")

    def latest_view(self, callback_id: str) -> dict[str, Any]:
        return [v for v in self.slack.views.values() if v.get("callback_id") == callback_id][-1]

    async def submit(self, view: dict[str, Any], *, user_id: str = REQUESTER, **answers: Any) -> httpx.Response:
        return await self.send_form(payloads.view_submission(view, user_id=user_id, answers=answers))

    async def file_request(self, user_id: str = REQUESTER, **overrides: Any) -> dict[str, Any]:
        """Open the modal and submit a valid request; returns the tracking message once approvers are asked."""
        view = await self.open_modal(user_id)
        answers = with_matching_boleto(VALID_ANSWERS | overrides, overrides)
        response = await self.submit(view, user_id=user_id, **answers)
        if response.text and '"duplicate_confirm"' in response.text:
            # The same payment filed again (tests reuse one): confirm it is another one, as a person would.
            warned = dict(response.json()["view"], id=view["id"])
            response = await self.submit(warned, user_id=user_id, **(answers | {"duplicate_confirm": ["yes"]}))
        assert response.status_code == 200 and response.text == "", response.text
        await self.settle()
        return self.tracking_messages()[-1]

    async def click(self, message: dict[str, Any], action_id: str, *, user_id: str, **kw: Any) -> httpx.Response:
        trigger = self.slack.new_trigger_id()
        body = payloads.block_actions(message, action_id=action_id, user_id=user_id, trigger_id=trigger, **kw)
        response = await self.send_form(body)
        assert response.status_code == 200, response.text
        return response

    def tracking_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(REQUESTS_CHANNEL) if not m.get("thread_ts")]

    def approval_messages(self, approver: str) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(self.slack.dm_channel(approver)) if not m.get("thread_ts")]

    def thread(self, tracking: dict[str, Any]) -> list[dict[str, Any]]:
        return self.slack.thread(tracking["channel"], tracking["ts"])

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        return next(m for m in self.slack.messages(channel) if m["ts"] == ts)

    async def settle(self) -> None:
        """Wait for every listener Bolt is still running after its ack, then send what is due to be told."""
        if self.listeners is not None and not await self.listeners.settle(timeout=1000):
            raise AssertionError("listeners did not finish")
        if self.deliveries is not None:
            await self.deliveries.drain()


def boleto_for(amount: str, due: str) -> str:
    """A valid boleto line for a typed amount and due date (bank 237), as the vendor's slip would have."""
    return barcode_to_line(bank_barcode(bank="237", amount=parse_brl_amount(amount), due_date=date.fromisoformat(due)))


def with_matching_boleto(answers: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A test that changes the amount or due date of the default boleto request gets a boleto that says the same
    (Aprova refuses a boleto that contradicts them); one that sets its own payment code keeps it."""
    if "payment_code" in overrides or answers.get("payment_method") != "boleto":
        return answers
    if "amount" not in overrides and "due_date" not in overrides:
        return answers
    try:
        return answers | {"payment_code": boleto_for(answers["amount"], answers["due_date"])}
    except (InvalidValue, ValueError, TypeError, KeyError):
        return answers | {"payment_code": ""}  # the test is about a bad amount or date: no boleto to compare


def make_settings(slack: LocalSlack, **overrides: Any) -> Settings:
    base = Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=payloads.SIGNING_SECRET,
        slack_api_url=slack.api_url,
        requests_channel=REQUESTS_CHANNEL,
        finance_admins=(CFO,),
        # The clock stands still in tests: pacing (tested on its own) would hold every message after the burst.
        slack_channel_burst=10_000,
    )
    return replace(base, **overrides)


@asynccontextmanager
async def running_aprova(
    session_factory: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    *,
    policy: Policy = POLICY,
    contaazul: bool = False,
    auto_consent: bool = False,
    receivables: ReceivableRules | None = None,
    **settings_overrides: Any,
) -> AsyncIterator[Aprova]:
    """Aprova on loopback with LocalSlack; with ``contaazul``, also the Conta Azul sandbox, connected to nothing yet."""
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(LocalSlack(team_id=payloads.TEAM_ID))
        # Bind first: the OAuth redirect URI must name our port before the app is built.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        sandbox = None
        if contaazul:
            sandbox = Sandbox(
                client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_SECRET, clock=clock.now, auto_consent=auto_consent
            )
            await stack.enter_async_context(sandbox)
            settings_overrides = {
                "contaazul_client_id": SANDBOX_CLIENT_ID,
                "contaazul_client_secret": SANDBOX_SECRET,
                "contaazul_auth_url": sandbox.auth_url,
                "contaazul_api_url": sandbox.api_url,
                "encryption_key": ENCRYPTION_KEY,
                "public_url": f"http://127.0.0.1:{port}",
            } | settings_overrides
        slack.add_user(REQUESTER, real_name="Ana Souza", locale="pt-BR")
        slack.add_user(MANAGER, real_name="Bruno Lima", locale="pt-BR")
        slack.add_user(DIRECTOR_EN, real_name="Carla Reis", locale="en-US")
        slack.add_user(DIRECTOR_PT, real_name="Diego Melo", locale="pt-BR")
        slack.add_user(OUTSIDER, real_name="Eva Dias", locale="pt-BR")
        slack.add_user(CFO, real_name="Fábio Prado", locale="pt-BR", is_admin=True)
        slack.add_usergroup("S0DIRETORIA", [DIRECTOR_EN, DIRECTOR_PT])
        settings = make_settings(slack, **settings_overrides)
        assembly = await assemble(
            stack,
            settings,
            policy,
            session_factory=session_factory,
            clock=clock,
            receivables=receivables,
            sleep=clock.sleep,
            worker_owner="test-worker",
        )
        runner = web.AppRunner(assembly.web_app)
        await runner.setup()
        await web.SockSite(runner, listener).start()
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10))
        # The tests drive the worker themselves (aprova.post()), so every step is deterministic.
        aprova = Aprova(
            slack=slack,
            deps=assembly.deps,
            http=http,
            sandbox=sandbox,
            poster=assembly.poster,
            listeners=assembly.listeners,
            deliveries=assembly.deliveries,
        )
        try:
            yield aprova
        finally:
            await aprova.settle()
            await runner.cleanup()
