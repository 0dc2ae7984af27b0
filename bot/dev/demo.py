"""``python -m bot demo``: the whole flow on this machine, with no credentials.

Aprova runs as it does in production (the same process: HTTP server, Bolt handlers, posting worker, scheduler)
on a fresh SQLite file, next to a local stand-in for Slack (``bot.dev.localslack``) and, unless ``CONTAAZUL_API_URL``
is set, the bundled Conta Azul sandbox. The demo then plays the people: a finance admin connects Conta Azul, an
employee files a payment request through the modal, the approver taps **Aprovar**, and the payable is posted.
Every step is a correctly signed Slack request to Aprova's ``/slack/events``, so it goes through the real handlers.

With ``CONTAAZUL_CLIENT_ID``/``_SECRET``/``_AUTH_URL``/``_API_URL`` set, the same dance and posting run against
that server (a real trial account, or any compatible one): the consent is completed by itself when the authorize
endpoint redirects straight back with a code; otherwise a fresh connect link is printed for a person's browser (the
flow is bound to the browser that opens it) and the demo waits for the callback on ``APROVA_PUBLIC_URL`` (or
``http://localhost:PORT``), as registered at Conta Azul.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet

from bot.blocks.i18n import money
from bot.dev import slack_payloads as payloads
from bot.dev.localslack import LocalSlack
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError
from bot.wiring import RunningAprova, StartupError, run_aprova
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.sandbox import Sandbox
from ledger.instruments import br_code
from ledger.policy import Policy, parse_policy

REQUESTER, APPROVER, ADMIN = "U0DEMOANA", "U0DEMOBRU", "U0DEMOFAB"
PEOPLE = {REQUESTER: "Ana Souza", APPROVER: "Bruno Lima", ADMIN: "Fábio Prado"}
REQUESTS_CHANNEL = "C0PEDIDOS"
SANDBOX_CLIENT_ID, SANDBOX_SECRET = "aprova-local", "local-secret"
CONSENT_WAIT = timedelta(minutes=10)  # as long as the OAuth state lives
STEP_TIMEOUT = 60.0  # seconds for any one step to show in Slack

POLICY = parse_policy({"fallback": [ADMIN], "default": {"steps": [{"name": "Financeiro", "approvers": [APPROVER]}]}})

AMOUNT = Decimal("1234.56")
DUE_IN = timedelta(days=10)
# The supplier's PIX "copia e cola" code, as printed on its invoice: Aprova reads the amount from it.
PIX_CODE = br_code(
    key="financeiro@trigobom.com.br",
    receiver_name="DISTRIBUIDORA TRIGO BOM",
    city="SAO PAULO",
    amount=AMOUNT,
    txid="NF4521",
)
# A new supplier (valid CNPJ check digits), so the demo shows one being created in Conta Azul.
ANSWERS: dict[str, Any] = {
    "description": "Farinha de trigo — dezembro",
    "vendor_name": "Distribuidora Trigo Bom Ltda",
    "vendor_document": "99.887.766/0001-05",
    "cost_center": "Produção",
    "payment_method": "pix",
    "payment_code": PIX_CODE,
    "invoice_number": "NF 4521",
    "notes": "Entrega de 20 sacos.",
}


class DemoFailed(RuntimeError):
    """A step of the demo did not happen; the message says which and what Slack showed."""


@dataclass
class Demo:
    slack: LocalSlack
    aprova: RunningAprova
    http: httpx.AsyncClient
    secret: str
    out: TextIO

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    async def send(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> httpx.Response:
        headers = {"Content-Type": content_type, **payloads.sign(body, secret=self.secret)}
        response = await self.http.post("/slack/events", content=body.encode(), headers=headers)
        if response.status_code != 200:
            raise DemoFailed(f"Aprova answered {response.status_code}: {response.text[:300]}")
        return response

    async def slash(self, command: str, user: str, text: str = "") -> None:
        trigger = self.slack.new_trigger_id()
        await self.send(payloads.slash_command(command, user_id=user, trigger_id=trigger, text=text))

    async def until(self, what: str, found: Callable[[], Any]) -> Any:
        """Wait (bounded) for something to show in Slack; Aprova's listeners run after their ack."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            value = found()
            if inspect.isawaitable(value):
                value = await value
            if value is not None and value != []:
                return value
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    def readable(self, text: str) -> str:
        """Slack mrkdwn as a person reads it: mentions become names, links their label."""
        text = re.sub(r"<@(U\w+)>", lambda m: "@" + PEOPLE.get(m.group(1), m.group(1)), text)
        return re.sub(r"<([^|>]+)\|([^>]+)>", r"\2 (\1)", text)


def run_demo(
    *,
    keep_running: bool = False,
    assume_yes: bool = False,
    environ: dict[str, str] | None = None,
    out: TextIO = sys.stdout,
    ask: Callable[[str], str] = input,
) -> int:
    """Run the demo; 0 when the payable was posted and the thread got its reply.

    Args:
        keep_running: Keep Aprova running afterwards (until Ctrl-C).
        assume_yes: Do not ask before writing to a Conta Azul that is not the bundled sandbox.
        environ: The settings (the process environment by default).
        out: Where the story is told.
        ask: How the question is put to the person (``input``).
    """
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"✗ {problem}", file=sys.stderr)
        return 2
    configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level, "text")
    if settings.contaazul_api_url_set and not settings.contaazul_configured:
        print(
            "CONTAAZUL_API_URL is set, so the demo uses that server instead of the sandbox: set CONTAAZUL_CLIENT_ID "
            "and CONTAAZUL_CLIENT_SECRET too (and CONTAAZUL_AUTH_URL), or unset CONTAAZUL_API_URL.",
            file=sys.stderr,
        )
        return 2
    if settings.contaazul_api_url_set and not assume_yes and not _confirmed(settings, out, ask):
        print("Nothing was written to Conta Azul. (--yes skips this question.)", file=out)
        return 1
    try:
        return asyncio.run(_demo(settings, keep_running=keep_running, out=out))
    except (DemoFailed, StartupError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # how --keep is stopped; everything was closed on the way out
        print("\nAprova stopped.", file=out)
        return 0


def _confirmed(settings: Settings, out: TextIO, ask: Callable[[str], str]) -> bool:
    """Say what the demo will create in a Conta Azul that is not the sandbox, and ask before doing it."""
    print(f"The demo writes to the Conta Azul at {settings.contaazul_api_url}, in the company you authorize:", file=out)
    print(f"  - the supplier {ANSWERS['vendor_name']}, unless one with its CNPJ or name exists", file=out)
    print(f"  - the cost center {ANSWERS['cost_center']}, unless it exists", file=out)
    print(
        f"  - a payable of {money(AMOUNT, 'pt_BR')} due in {DUE_IN.days} days, “{ANSWERS['description']}”, on the "
        "default financial account",
        file=out,
    )
    out.flush()
    try:
        answer = ask("Go ahead? [y/N] ")
    except EOFError:  # no one at a terminal to answer
        answer = ""
    return answer.strip().lower() in ("y", "yes", "s", "sim")


async def _demo(settings: Settings, *, keep_running: bool, out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="aprova-demo-") as folder:
        database_url = f"sqlite:///{Path(folder) / 'aprova.db'}"
        await asyncio.to_thread(db.upgrade, database_url)
        async with _environment(settings, database_url, out) as demo:
            posted = await _play(demo, settings)
            if keep_running:
                demo.say(f"\nAprova keeps running at {demo.aprova.url} (Ctrl-C to stop).")
                await asyncio.Event().wait()
            return 0 if posted else 1


@asynccontextmanager
async def _environment(settings: Settings, database_url: str, out: TextIO) -> AsyncIterator[Demo]:
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(LocalSlack(team_id=payloads.TEAM_ID))
        slack.add_user(REQUESTER, real_name=PEOPLE[REQUESTER], locale="pt-BR")
        slack.add_user(APPROVER, real_name=PEOPLE[APPROVER], locale="pt-BR")
        slack.add_user(ADMIN, real_name=PEOPLE[ADMIN], locale="pt-BR", is_admin=True)
        secret = secrets.token_hex(16)
        sandbox = None
        use_sandbox = not settings.contaazul_api_url_set
        # Bind first: the OAuth redirect URI names the port. A real Conta Azul redirects only to the registered URL.
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        port = 0 if use_sandbox else settings.port
        try:
            listener.bind(("127.0.0.1", port))
        except OSError as exc:
            listener.close()
            raise StartupError(f"cannot listen on 127.0.0.1:{port} for the OAuth callback: {exc.strerror}") from None
        port = listener.getsockname()[1]
        demo_settings = replace(
            settings,
            database_url=database_url,
            slack_bot_token=slack.bot_token,
            slack_signing_secret=secret,
            slack_app_token=None,
            slack_api_url=slack.api_url,
            requests_channel=REQUESTS_CHANNEL,
            finance_admins=(ADMIN,),
            finance_channel=None,
            host="127.0.0.1",
            port=port,
            encryption_key=settings.encryption_key or Fernet.generate_key().decode(),
        )
        if use_sandbox:
            sandbox = await stack.enter_async_context(
                Sandbox(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_SECRET, auto_consent=True)
            )
            demo_settings = replace(
                demo_settings,
                contaazul_client_id=SANDBOX_CLIENT_ID,
                contaazul_client_secret=SANDBOX_SECRET,
                contaazul_auth_url=sandbox.auth_url,
                contaazul_api_url=sandbox.api_url,
                public_url=f"http://127.0.0.1:{port}",
            )
        policy: Policy = POLICY
        aprova = await stack.enter_async_context(run_aprova(demo_settings, policy, listener=listener))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=aprova.url, timeout=30))
        demo = Demo(slack=slack, aprova=aprova, http=http, secret=secret, out=out)
        books = (
            f"the Conta Azul sandbox at {sandbox.base_url}"
            if sandbox
            else f"Conta Azul at {settings.contaazul_api_url}"
        )
        demo.say("Aprova demo: everything runs on this machine.")
        demo.say(f"  Aprova       {aprova.url} (SQLite {database_url.removeprefix('sqlite:///')})")
        demo.say(f"  Slack        a local stand-in at {slack.api_url}")
        demo.say(f"  Conta Azul   {books}")
        demo.say()
        yield demo


async def _play(demo: Demo, settings: Settings) -> bool:
    slack, deps = demo.slack, demo.aprova.deps
    assert deps.contaazul is not None

    # 1. A finance admin connects Conta Azul.
    demo.say(f"1. {PEOPLE[ADMIN]} (finance admin) types /contaazul connect")
    await demo.slash("/contaazul", ADMIN, "connect")
    reply = await demo.until("the connect link", lambda: slack.ephemerals(ADMIN))
    url = next(e["url"] for b in reply[-1]["blocks"] if b["type"] == "actions" for e in b["elements"] if "url" in e)
    await _consent(demo, url)
    info = await demo.until("the connection", lambda: _connected_company(demo))
    demo.say(f"   Conta Azul conectado: {info}")

    # 2. An employee files a request through the modal, picking the category from Conta Azul's live list.
    demo.say(f"2. {PEOPLE[REQUESTER]} types /pagamento and fills in the modal")
    await demo.slash("/pagamento", REQUESTER)
    view = await demo.until("the request modal", lambda: _latest_view(slack, "payment-request"))
    category = await _pick_category(demo, view)
    view = await _paste_code(demo, view)
    today = SystemClock(settings.timezone).today()
    answers = ANSWERS | {
        "category": category,
        "competence_date": today.isoformat(),
        "due_date": (today + DUE_IN).isoformat(),
    }
    response = await demo.send(payloads.view_submission(view, user_id=REQUESTER, answers=answers))
    if response.text:
        raise DemoFailed(f"the modal was refused: {response.text}")
    approval = await demo.until("the approval message", lambda: _top_level(slack, slack.dm_channel(APPROVER)))
    tracking = _top_level(slack, REQUESTS_CHANNEL)[-1]
    demo.say(f"   {demo.readable(tracking['text'])}")
    demo.say(f"   {PEOPLE[APPROVER]} reads, among the fields:")
    for line in _what_the_approver_checks(approval[-1]):
        demo.say(f"     {demo.readable(line)}")

    # 3. The approver taps Aprovar in the DM; the posting worker takes it from there.
    demo.say(f"3. {PEOPLE[APPROVER]} taps Aprovar in the message Aprova sent him")
    clicked = time.perf_counter()
    trigger = slack.new_trigger_id()
    body = payloads.block_actions(approval[-1], action_id="payment-approve", user_id=APPROVER, trigger_id=trigger)
    await demo.send(body)
    outcome = await demo.until("the posting's reply in the thread", lambda: _outcome(slack, tracking))
    elapsed = time.perf_counter() - clicked
    posted = "Lançado no Conta Azul" in outcome["text"]
    demo.say(f"4. {'Posted' if posted else 'Not posted'} {elapsed:.2f} s after the click. The request's thread:")
    demo.say()
    [latest] = [m for m in slack.messages(REQUESTS_CHANNEL) if m["ts"] == tracking["ts"]]
    demo.say(f"   #pedidos  {demo.readable(latest['text'])}")
    for message in slack.thread(REQUESTS_CHANNEL, tracking["ts"]):
        demo.say(f"     ↳ {demo.readable(message['text'])}")
    return posted


async def _paste_code(demo: Demo, view: dict[str, Any]) -> dict[str, Any]:
    """Paste the supplier's PIX code: Aprova decodes it at once, fills the amount and says what it read."""
    typed = {"payment_method": "pix", "payment_code": PIX_CODE}
    await demo.send(payloads.view_input_action(view, block_id="payment_code", user_id=REQUESTER, answers=typed))

    def decoded() -> dict[str, Any] | None:
        current = demo.slack.views.get(view["id"]) or {}
        return next((b for b in current.get("blocks", []) if b.get("block_id") == "payment_code_decoded"), None)

    block = await demo.until("the decoded PIX code", decoded)
    filled = demo.slack.views[view["id"]]
    amount = next(b for b in filled["blocks"] if b.get("block_id") == "amount")["element"].get("initial_value")
    demo.say(f"   pasted the PIX code; Aprova read: {block['elements'][0]['text']}")
    demo.say(f"   the amount field was left empty and now shows {amount}")
    return filled


def _what_the_approver_checks(message: dict[str, Any]) -> list[str]:
    """The decoded payment code and the approval fingerprint, as the approver's DM shows them."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        for field in block.get("fields") or []:
            if field["text"].startswith("*Boleto/PIX*"):
                lines.append(field["text"].split("\n")[1])
        for element in block.get("elements") or []:
            if element.get("type") == "mrkdwn" and "🔏" in element.get("text", ""):
                lines.append(element["text"])
    return lines


async def _consent(demo: Demo, url: str) -> None:
    """Open Aprova's start link like a browser (it keeps the cookie that binds the flow to it) and go on to Conta
    Azul. An authorize page that redirects straight back needs nobody; otherwise a person consents in theirs."""
    async with httpx.AsyncClient(timeout=30) as browser:
        started = await browser.get(_on_our_address(demo, url))  # sets the cookie, redirects to Conta Azul
        if not started.is_redirect:
            raise DemoFailed(f"the connect link said {started.status_code}: {_page_text(started.text)}")
        answer = await browser.get(started.headers["location"])
        callback = urlsplit(demo.aprova.deps.settings.oauth_redirect_uri)
        location = answer.headers.get("location", "")
        if answer.is_redirect and urlsplit(location).path == callback.path:
            page = await browser.get(_on_our_address(demo, location))
            if page.status_code != 200:
                raise DemoFailed(f"the OAuth callback said {page.status_code}: {_page_text(page.text)}")
            return
    # This link was opened here: the person's browser needs a link of its own.
    await demo.slash("/contaazul", ADMIN, "connect")
    reply = await demo.until("a second connect link", lambda: demo.slack.ephemerals(ADMIN)[1:])
    url = next(e["url"] for b in reply[-1]["blocks"] if b["type"] == "actions" for e in b["elements"] if "url" in e)
    demo.say("   Open this link in a browser, sign in to Conta Azul and authorize Aprova:")
    demo.say(f"   {url}")
    demo.say(f"   (waiting up to {int(CONSENT_WAIT.total_seconds() // 60)} minutes for the callback)")
    deadline = time.monotonic() + CONSENT_WAIT.total_seconds()
    while await _connected_company(demo) is None:
        if time.monotonic() > deadline:
            raise DemoFailed("nobody authorized Aprova at Conta Azul in time")
        await asyncio.sleep(1)


def _on_our_address(demo: Demo, url: str) -> str:
    """An Aprova URL (start link, callback) on the address the demo listens on, whatever host it names."""
    parts = urlsplit(url)
    return f"{demo.aprova.url}{parts.path}?{parts.query}"


async def _connected_company(demo: Demo) -> str | None:
    books = demo.aprova.deps.contaazul
    assert books is not None
    info = await books.connection(payloads.TEAM_ID)
    if info is None:
        return None
    account = info.default_account_name or "no default financial account (choose one with /contaazul account)"
    return f"{info.company_name} — {account}"


async def _pick_category(demo: Demo, view: dict[str, Any]) -> str:
    """Type in the category's live list, as a person would, and take the option Aprova offers."""
    element = next(b["element"] for b in view["blocks"] if b.get("block_id") == "category")
    if element["type"] != "external_select":
        raise DemoFailed("the category field is not Conta Azul's live list; is Conta Azul connected?")
    for typed in ("matéria", ""):
        body = payloads.block_suggestion(view, block_id="category", user_id=REQUESTER, value=typed)
        answer = (await demo.send(body)).json()
        options = answer.get("options") or [o for g in answer.get("option_groups", []) for o in g["options"]]
        if options:
            value: str = options[0]["value"]
            demo.say(f"   category: typed “{typed}”, picked “{value}” from Conta Azul")
            return value
    raise DemoFailed("Conta Azul has no expense category to pick (create one in the ERP)")


def _latest_view(slack: LocalSlack, callback_id: str) -> dict[str, Any] | None:
    views = [v for v in slack.views.values() if v.get("callback_id") == callback_id]
    return views[-1] if views else None


def _top_level(slack: LocalSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if not m.get("thread_ts")]


def _outcome(slack: LocalSlack, tracking: dict[str, Any]) -> dict[str, Any] | None:
    replies = slack.thread(REQUESTS_CHANNEL, tracking["ts"])
    return next((m for m in replies if "Lançado no Conta Azul" in m["text"] or "Não consegui" in m["text"]), None)


def _page_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())[:300]
