"""``python -m bot demo``: the whole flow with no credentials, and against a Conta Azul given by the environment."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from urllib.parse import urlsplit

import httpx
import pytest

import bot.dev.demo
from bot.dev.demo import run_demo
from ledger.contaazul.sandbox import Sandbox

POSTED = re.compile(
    r"↳ @Ana Souza 📗 Lançado no Conta Azul: Distribuidora Trigo Bom Ltda · R\$ 1\.234,56 · vencimento "
)


class ExternalSandbox:
    """A Conta Azul stand-in running in its own thread and loop, as a server the demo did not start."""

    def __init__(self, *, auto_consent: bool) -> None:
        self.sandbox = Sandbox(client_id="external-app", client_secret="external-secret", auto_consent=auto_consent)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Sandbox:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sandbox.start(port=0), self._loop).result(timeout=10)
        return self.sandbox

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sandbox.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(autouse=True)
def keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo quiets the root logger for a person at a terminal; the test runner keeps its own."""
    monkeypatch.setattr(bot.dev.demo, "configure_logging", lambda *args: None)


@pytest.fixture
def external_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with ExternalSandbox(auto_consent=request.param) as sandbox:
        yield sandbox


def environment_for(sandbox: Sandbox) -> dict[str, str]:
    return {
        "CONTAAZUL_CLIENT_ID": "external-app",
        "CONTAAZUL_CLIENT_SECRET": "external-secret",
        "CONTAAZUL_AUTH_URL": sandbox.auth_url,
        "CONTAAZUL_API_URL": sandbox.api_url,
        "PORT": "0",
    }


def test_demo_without_credentials_posts_the_payable_with_the_bundled_sandbox():
    out = io.StringIO()
    assert run_demo(environ={}, out=out) == 0
    text = out.getvalue()
    assert "the Conta Azul sandbox at http://127.0.0.1:" in text
    assert "Conta Azul conectado: Padaria Pão Quente Ltda — Itaú Conta Corrente" in text
    assert "picked “Matéria-Prima” from Conta Azul" in text
    decoded = (
        "PIX copia e cola para DISTRIBUIDORA TRIGO BOM (SAO PAULO) · chave financeiro@trigobom.com.br · "
        "valor R$ 1.234,56 · txid NF4521"
    )
    assert f"pasted the PIX code; Aprova read: {decoded}" in text
    assert "the amount field was left empty and now shows 1.234,56" in text
    assert "PAG-2026-000001 · Distribuidora Trigo Bom Ltda · R$ 1.234,56 — ⏳ Aguardando aprovação" in text
    assert f"reads, among the fields:\n     {decoded}\n     🔏 Impressão digital da aprovação: `" in text
    assert "#pedidos  PAG-2026-000001 · Distribuidora Trigo Bom Ltda · R$ 1.234,56 — 📗 Lançado no Conta Azul" in text
    assert len(POSTED.findall(text)) == 1
    assert re.search(r"Posted \d+\.\d\d s after the click", text)


@pytest.mark.parametrize("external_sandbox", [True], indirect=True)
def test_demo_runs_against_the_conta_azul_in_the_environment(external_sandbox: Sandbox):
    out, questions = io.StringIO(), []

    def agree(question: str) -> str:
        questions.append(question)
        return "s"

    assert run_demo(environ=environment_for(external_sandbox), out=out, ask=agree) == 0, out.getvalue()
    assert questions == ["Go ahead? [y/N] "]
    text = out.getvalue()
    assert f"The demo writes to the Conta Azul at {external_sandbox.api_url}" in text
    assert "the supplier Distribuidora Trigo Bom Ltda, unless one with its CNPJ or name exists" in text
    assert "a payable of R$ 1.234,56 due in 10 days" in text
    assert f"Conta Azul at {external_sandbox.api_url}" in text and "the Conta Azul sandbox" not in text
    [event] = external_sandbox.state.events.values()
    assert event.referencia_externa == "PAG-2026-000001"
    assert len(POSTED.findall(text)) == 1


class ConsentingPerson(io.StringIO):
    """Reads the demo's output; when it prints a connect link, opens it and clicks Autorizar, like a person."""

    def __init__(self) -> None:
        super().__init__()
        self.done: Future[int] = Future()

    def write(self, text: str) -> int:
        link = re.search(r"^\s+(http://\S+/contaazul/oauth/start\?\S+)$", text, re.MULTILINE)
        if link:
            threading.Thread(target=self._consent, args=(link.group(1),), daemon=True).start()
        return super().write(text)

    def _consent(self, url: str) -> None:
        try:
            with httpx.Client(timeout=10) as browser:  # keeps the cookie Aprova's start link sets
                started = browser.get(on_loopback(url))  # http://localhost:PORT/contaazul/oauth/start?state=...
                assert started.status_code == 302, started.text
                page = browser.get(started.headers["location"])
                request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
                assert request_id, page.text
                answer = browser.post(
                    str(page.url.join("/oauth2/consent")),
                    data={"request_id": request_id.group(1), "decisao": "autorizar"},
                )
                callback = browser.get(on_loopback(answer.headers["location"]))  # .../contaazul/oauth/callback?...
            self.done.set_result(callback.status_code)
        except Exception as exc:  # surfaced by the test through the future
            self.done.set_exception(exc)


def on_loopback(url: str) -> str:
    """The demo listens on 127.0.0.1; the URLs it hands out name localhost, as registered at Conta Azul."""
    parts = urlsplit(url)
    return f"http://127.0.0.1:{parts.port}{parts.path}?{parts.query}"


@pytest.mark.parametrize("external_sandbox", [False], indirect=True)
def test_demo_prints_the_consent_link_and_waits_for_the_callback(external_sandbox: Sandbox):
    person = ConsentingPerson()
    assert run_demo(environ=environment_for(external_sandbox), out=person, assume_yes=True) == 0, person.getvalue()
    assert person.done.result(timeout=10) == 200
    text = person.getvalue()
    assert "Open this link in a browser, sign in to Conta Azul and authorize Aprova:" in text
    assert "Conta Azul conectado: Padaria Pão Quente Ltda" in text and len(POSTED.findall(text)) == 1


@pytest.mark.parametrize("external_sandbox", [True], indirect=True)
def test_demo_writes_nothing_to_a_real_conta_azul_unless_told_yes(external_sandbox: Sandbox):
    suppliers = len(external_sandbox.state.people)
    out = io.StringIO()

    def nobody_at_the_terminal(question: str) -> str:
        raise EOFError

    for answer in (lambda question: "n", nobody_at_the_terminal):
        assert run_demo(environ=environment_for(external_sandbox), out=out, ask=answer) == 1
    assert "Nothing was written to Conta Azul. (--yes skips this question.)" in out.getvalue()
    assert not external_sandbox.state.events and len(external_sandbox.state.people) == suppliers


def test_demo_refuses_a_conta_azul_url_without_credentials(capsys):
    assert run_demo(environ={"CONTAAZUL_API_URL": "http://127.0.0.1:9"}, out=io.StringIO()) == 2
    assert "set CONTAAZUL_CLIENT_ID and CONTAAZUL_CLIENT_SECRET" in capsys.readouterr().err
