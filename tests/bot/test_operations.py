"""First run and operations, as an operator meets them: the commands run as subprocesses (``python -m bot …`` in a
folder of their own, with its own ``.env``), Slack played by LocalSlack and Conta Azul by the sandbox.

One test per case of what can silently go wrong: an install that failed half-way, a ``check`` that passes what is
wrong, a replaced encryption key, tracebacks instead of one line, a Socket Mode token Slack refuses or a Slack out
of reach, the connect button nobody listened to, a demo writing to a real Conta Azul, dependencies nobody pinned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.fernet import Fernet
from slack_bolt.async_app import AsyncApp

from bot.checks import EXAMPLE_APPROVERS, policy_approvers
from bot.dev import slack_payloads as payloads
from bot.dev.localslack import LocalSlack
from bot.socket_mode import OncePer, SocketModeLink
from bot.wiring import StartupError
from ledger import db
from ledger.contaazul.sandbox import Sandbox
from ledger.policy import load_policy
from tests.bot.test_demo import ExternalSandbox, environment_for
from tests.bot.test_settings import VARIABLES
from tests.conftest import postgres_reachable
from tests.harness import (
    CFO,
    DIRECTOR_EN,
    DIRECTOR_PT,
    ENCRYPTION_KEY,
    MANAGER,
    REQUESTER,
    REQUESTS_CHANNEL,
    SANDBOX_CLIENT_ID,
    SANDBOX_SECRET,
    VALID_ANSWERS,
    running_aprova,
)

pytestmark = pytest.mark.anyio
T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
POLICY = f'fallback = ["{CFO}"]\n[default]\nsteps = [{{ name = "Financeiro", approvers = ["{MANAGER}"] }}]\n'


@dataclass
class Ran:
    code: int | None
    out: str
    err: str


def operator_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This machine's environment without Aprova's variables, running this checkout's code."""
    environment = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    return environment | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"} | dict(extra)


async def start(*args: str, cwd: Path, env: Mapping[str, str] = {}) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=operator_environment(env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(*args: str, cwd: Path, env: Mapping[str, str] = {}, answer: str = "", timeout: float = 60) -> Ran:
    """``python -m …`` to its end, as an operator types it."""
    process = await start(*args, cwd=cwd, env=env)
    out, err = await asyncio.wait_for(process.communicate(answer.encode()), timeout)
    return Ran(process.returncode, out.decode(), err.decode())


async def read_until(stream: asyncio.StreamReader, pattern: str, seen: list[str], timeout: float = 30) -> re.Match[str]:
    """Read lines (kept in ``seen``) until one matches."""
    async with asyncio.timeout(timeout):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"ended before {pattern!r}:\n{''.join(seen)}")
            seen.append(line)
            if found := re.search(pattern, line):
                return found


async def stop(process: asyncio.subprocess.Process, seen: list[str], sig: int = signal.SIGTERM) -> Ran:
    process.send_signal(sig)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return Ran(process.returncode, out.decode(), "".join(seen) + err.decode())


def assert_one_clean_line(ran: Ran, line: str) -> None:
    assert "Traceback" not in ran.err, ran.err
    problems = [entry for entry in ran.err.splitlines() if entry.startswith("✗ ")]
    assert problems == [f"✗ {line}"] or (len(problems) == 1 and problems[0].startswith(f"✗ {line}")), ran.err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the operator runs the commands: a copy of the shipped examples, nothing else."""
    for example in (".env.example", "approval-policy.example.toml"):
        shutil.copy(ROOT / example, tmp_path / example)
    return tmp_path


def workspace_env(folder: Path, slack: LocalSlack, **extra: str) -> dict[str, str]:
    """A set-up that is right: LocalSlack's tokens, a policy naming its people, a migrated SQLite file."""
    (folder / "approval-policy.toml").write_text(POLICY, encoding="utf-8")
    for user in (MANAGER, CFO):
        slack.add_user(user)
    return {
        "DATABASE_URL": f"sqlite:///{folder / 'aprova.db'}",
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "local-signing-secret",
        "SLACK_API_URL": slack.api_url,
        "APROVA_FINANCE_ADMINS": CFO,
        "PORT": "0",
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "text",
    } | extra


# --------------------------------------------------------------------------- 1. an install that failed is retried

FAKE_PYTHON = """#!/bin/sh
# Plays `python3 -m venv DIR` (a venv whose python plays pip) so the Makefile's logic runs without the network.
mkdir -p "$3/bin"
cat > "$3/bin/python" <<'EOF'
#!/bin/sh
echo "$@" >> "$(dirname "$0")/../pip.log"
[ -e "$(dirname "$0")/../../network-down" ] && exit 1
exit 0
EOF
chmod +x "$3/bin/python"
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_an_install_that_failed_is_retried_and_a_complete_one_is_not_repeated(tmp_path: Path):
    for name in ("Makefile", "pyproject.toml", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON, encoding="utf-8")
    fake.chmod(0o755)

    def make_install() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "install", f"PYTHON={fake}"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    (tmp_path / "network-down").touch()
    assert make_install().returncode != 0
    assert not (tmp_path / ".venv" / ".installed").exists()
    (tmp_path / "network-down").unlink()
    assert make_install().returncode == 0  # retried, not "up to date" with a half-installed .venv
    log = (tmp_path / ".venv" / "pip.log").read_text(encoding="utf-8")
    assert "install --quiet --require-hashes -r requirements-dev.lock" in log
    attempts = log.count("requirements-dev.lock")
    assert make_install().returncode == 0  # installed: nothing runs again
    assert (tmp_path / ".venv" / "pip.log").read_text(encoding="utf-8").count("requirements-dev.lock") == attempts


# --------------------------------------------------------------------------- 2. check says what is wrong


def test_the_example_policy_ids_are_the_ones_check_calls_placeholders():
    assert set(policy_approvers(load_policy(ROOT / "approval-policy.example.toml"))) == EXAMPLE_APPROVERS


async def test_a_fresh_clone_with_the_example_env_gets_every_placeholder_listed(folder: Path):
    shutil.copy(folder / ".env.example", folder / ".env")  # copied unchanged
    ran = await run("-m", "bot", "check", cwd=folder)
    assert ran.code == 1 and "Traceback" not in ran.err
    problems = [line for line in ran.err.splitlines() if line.startswith("✗ ")]
    assert [p.split(":")[0] for p in problems] == [
        "✗ SLACK_BOT_TOKEN",
        "✗ SLACK_SIGNING_SECRET",
        "✗ APROVA_PUBLIC_URL",
        "✗ APROVA_POLICY_FILE",
        "✗ DATABASE_URL",
    ]
    assert all("still the example value from .env.example →" in p for p in problems[:3])
    assert (
        "✗ APROVA_POLICY_FILE: approval policy file not found: approval-policy.toml → copy the example, then put your "
        "approvers' Slack ids in it: cp approval-policy.example.toml approval-policy.toml"
    ) in problems
    assert ran.err.splitlines()[-1] == "5 problem(s): fix them, then run `make check` (python -m bot check)."
    assert not (folder / "aprova.db").exists()

    shutil.copy(folder / "approval-policy.example.toml", folder / "approval-policy.toml")
    ran = await run("-m", "bot", "check", cwd=folder)
    assert "approval-policy.toml still names the example's approvers (S00000DIRET, U0000000CFO" in ran.err


async def test_every_command_names_each_malformed_setting_with_its_fix(folder: Path):
    (folder / ".env").write_text(
        "DATABASE_URL=notaurl\nLOG_LEVEL=VERBOSE\nAPROVA_FINANCE_ADMINS=bob\nAPROVA_REQUESTS_CHANNEL=#pedidos\n"
        "CONTAAZUL_CLIENT_ID=aprova-app\nAPROVA_PUBLIC_URL=aprova.padaria.com.br\n",
        encoding="utf-8",
    )
    ran = await run("-m", "bot", "migrate", cwd=folder, env={"APROVA_FINANCE_ADMINS": "U0FIN"})  # the environment wins
    assert ran.code == 2 and "Traceback" not in ran.err
    problems = [line.split(" ")[1] for line in ran.err.splitlines() if line.startswith("✗ ")]
    assert problems == [
        "LOG_LEVEL",
        "DATABASE_URL",
        "APROVA_PUBLIC_URL",
        "APROVA_REQUESTS_CHANNEL",
        "CONTAAZUL_CLIENT_SECRET",
    ]
    assert "✗ LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'VERBOSE')" in ran.err


async def test_check_asks_slack_about_the_tokens_and_the_people(folder: Path):
    async with LocalSlack(team_id=payloads.TEAM_ID) as slack:
        env = workspace_env(folder, slack)
        await asyncio.to_thread(db.upgrade, env["DATABASE_URL"])

        ran = await run("-m", "bot", "check", cwd=folder, env=env | {"SLACK_APP_TOKEN": slack.app_token})
        assert ran.code == 0, ran.err
        assert "✓ Slack: workspace Local Slack, bot @aprova" in ran.out
        assert "✓ every finance admin and approver exists in the workspace" in ran.out
        assert ran.out.splitlines()[-1] == "Aprova's set-up is valid."

        (folder / "approval-policy.toml").write_text(
            f'fallback = ["U0GONE"]\n[[rules]]\nname = "Alto"\nmin_amount = "10000"\n'
            f'steps = [{{ name = "Diretoria", approvers = ["S0NOBODY"] }}]\n'
            f'[default]\nsteps = [{{ name = "Financeiro", approvers = ["{MANAGER}"] }}]\n',
            encoding="utf-8",
        )
        ran = await run("-m", "bot", "check", cwd=folder, env=env | {"APROVA_FINANCE_ADMINS": "U0NOTHERE"})
        assert ran.code == 1 and "Traceback" not in ran.err
        assert "✗ APROVA_FINANCE_ADMINS: U0NOTHERE (APROVA_FINANCE_ADMINS) is not a person of this Slack workspace" in (
            ran.err
        )
        assert "U0GONE (approval-policy.toml (fallback)) is not a person of this Slack workspace" in ran.err
        assert "S0NOBODY (approval-policy.toml (rule “Alto”, step Diretoria)) is not a user group" in ran.err

        wrong = {"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_APP_TOKEN": "xapp-revoked"}
        ran = await run("-m", "bot", "check", cwd=folder, env=env | wrong)
        assert "✗ SLACK_BOT_TOKEN: Slack refuses it (invalid_auth) → copy the Bot User OAuth Token" in ran.err
        assert "✗ SLACK_APP_TOKEN: Slack refuses it (invalid_auth) → generate an App-Level Token" in ran.err
        assert "xoxb-revoked" not in ran.err + ran.out


# --------------------------------------------------------------------------- 3. a replaced encryption key


async def test_a_replaced_encryption_key_is_told_to_the_operator_the_admin_and_readyz(folder: Path, clock):
    url = f"sqlite:///{folder / 'aprova.db'}"
    await asyncio.to_thread(db.upgrade, url)
    engine = db.create_engine(url)
    session_factory = db.create_session_factory(engine)
    replaced = Fernet.generate_key().decode()
    try:
        async with running_aprova(session_factory, clock, contaazul=True, auto_consent=True) as aprova:
            await aprova.connect_contaazul()
            assert aprova.sandbox is not None
            env = workspace_env(folder, aprova.slack) | {
                "DATABASE_URL": url,
                "CONTAAZUL_CLIENT_ID": SANDBOX_CLIENT_ID,
                "CONTAAZUL_CLIENT_SECRET": SANDBOX_SECRET,
                "CONTAAZUL_AUTH_URL": aprova.sandbox.auth_url,
                "CONTAAZUL_API_URL": aprova.sandbox.api_url,
                "APROVA_ENCRYPTION_KEY": ENCRYPTION_KEY,
            }
            ran = await run("-m", "bot", "check", cwd=folder, env=env)
            assert "✓ Conta Azul: workspace T0001 posts to Padaria Pão Quente Ltda" in ran.out, ran.err

            ran = await run("-m", "bot", "check", cwd=folder, env=env | {"APROVA_ENCRYPTION_KEY": replaced})
            assert ran.code == 1
            assert (
                "✗ APROVA_ENCRYPTION_KEY: cannot decrypt the Conta Azul tokens stored for workspace T0001 "
                "(Padaria Pão Quente Ltda): the key was replaced or lost → put back the key they were encrypted with"
            ) in ran.err
            ran = await run(
                "-m", "bot", "check", "--contaazul", cwd=folder, env=env | {"APROVA_ENCRYPTION_KEY": replaced}
            )
            assert ran.code == 1 and "✗ tokens: APROVA_ENCRYPTION_KEY cannot decrypt them" in ran.out

        async with running_aprova(
            session_factory, clock, contaazul=True, encryption_key=replaced, readyz_token="ops-token"
        ) as aprova:
            ready = await aprova.http.get("/readyz", headers={"Authorization": "Bearer ops-token"})
            assert ready.json()["contaazul"] == {"T0001": "tokens_unreadable"}
            trigger = aprova.slack.new_trigger_id()
            await aprova.send_form(payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="status"))
            await aprova.settle()
            told = aprova.slack.ephemerals(CFO)[-1]["text"]
            assert "não podem ser lidos com a chave configurada (APROVA_ENCRYPTION_KEY" in told
            assert "/contaazul connect" in told
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- 4. one line, not a traceback

PG = "postgresql://postgres@127.0.0.1"
NOWHERE = "http://127.0.0.1:9/api/"  # a privileged port no test server takes: nothing ever answers there


@pytest.mark.parametrize(
    ("database_url", "line", "needs_postgres"),
    [
        (f"{PG}:1/aprova", "DATABASE_URL: nothing answers at 127.0.0.1:1 → start PostgreSQL", False),
        ("sqlite:////nonexistent-folder/aprova.db", "DATABASE_URL: cannot create the SQLite file", False),
        (f"{PG}:5432/aprova_never_created", 'DATABASE_URL: PostgreSQL at 127.0.0.1:5432 has no database "', True),
        (f"{PG}:5432/aprova_never_created?sslmode=verify-full", "DATABASE_URL: the SSL connection to", True),
    ],
)
async def test_database_problems_are_one_line(folder: Path, database_url, line, needs_postgres):
    if needs_postgres and not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable")
    ran = await run("-m", "bot", "migrate", cwd=folder, env={"DATABASE_URL": database_url})
    assert ran.code == 2
    assert_one_clean_line(ran, line)


async def test_serve_says_a_database_problem_in_one_line_too(folder: Path):
    async with LocalSlack() as slack:
        env = workspace_env(folder, slack, DATABASE_URL="sqlite:////nonexistent-folder/aprova.db")
        ran = await run("-m", "bot", cwd=folder, env=env)
        assert ran.code == 2
        assert_one_clean_line(
            ran, "DATABASE_URL: cannot create the SQLite file /nonexistent-folder/aprova.db: its folder does not exist"
        )


async def test_the_sandbox_on_a_port_in_use_says_so(folder: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ran = await run("-m", "ledger.contaazul.sandbox", "--port", str(port), cwd=folder)
    assert ran.code == 1 and "Traceback" not in ran.err
    in_use = f"✗ cannot listen on 127.0.0.1:{port} (address already in use) → pick another port with --port"
    assert ran.err.strip() == in_use


async def test_ctrl_c_stops_the_kept_demo_quietly(folder: Path):
    process = await start("-m", "bot", "demo", "--keep", cwd=folder)
    assert process.stdout is not None
    seen: list[str] = []
    await read_until(process.stdout, r"Aprova keeps running at http://127\.0\.0\.1:\d+ \(Ctrl-C to stop\)", seen, 120)
    ran = await stop(process, [], signal.SIGINT)
    assert ran.code == 0 and "Traceback" not in ran.err, ran.err
    assert ran.out.strip().endswith("Aprova stopped.")


async def test_an_unexpected_error_gives_the_person_the_id_in_the_log(session_factory, clock, caplog):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("views.open", "internal_error")
        trigger = aprova.slack.new_trigger_id()
        with caplog.at_level(logging.ERROR, logger="bot.errors"):
            await aprova.send_form(payloads.slash_command("/pagamento", user_id=REQUESTER, trigger_id=trigger))
            await aprova.settle()
        told = aprova.slack.ephemerals(REQUESTER)[-1]["text"]
        error_id = re.search(r"Erro interno, código ([0-9a-f]{8})", told)
        assert error_id, told
        [logged] = [r for r in caplog.records if r.name == "bot.errors"]
        assert f"unexpected error {error_id.group(1)} handling /pagamento" in logged.getMessage()
        assert logged.exc_info is not None  # a bug's traceback stays in the log, for the operator


# --------------------------------------------------------------------------- 5. Socket Mode


def serve_socket_env(folder: Path, slack: LocalSlack, app_token: str, api_url: str | None = None) -> dict[str, str]:
    env = workspace_env(folder, slack, SLACK_APP_TOKEN=app_token)
    env.pop("SLACK_SIGNING_SECRET")
    return env | ({"SLACK_API_URL": api_url} if api_url else {})


async def test_socket_mode_connects_and_answers_over_the_socket(folder: Path):
    async with LocalSlack(team_id=payloads.TEAM_ID) as slack:
        slack.add_user(REQUESTER)
        env = serve_socket_env(folder, slack, slack.app_token)
        policy = folder / "approval-policy.toml"
        policy.write_text(
            policy.read_text(encoding="utf-8").replace(f'fallback = ["{CFO}"]', 'fallback = ["U0GONE"]'), "utf-8"
        )
        process = await start("-m", "bot", cwd=folder, env=env)
        seen: list[str] = []
        try:
            assert process.stderr is not None
            await read_until(process.stderr, "connected to Slack in Socket Mode", seen)
            gone = "warning: APROVA_POLICY_FILE: U0GONE (approval-policy.toml (fallback)) is not a person of this Slack"
            assert any(line.startswith(gone) for line in seen), seen
            command = dict(
                parse_qsl(payloads.slash_command("/pagamento", user_id=REQUESTER, trigger_id=slack.new_trigger_id()))
            )
            ack = await slack.socket_mode.deliver("slash_commands", command)
            assert set(ack) >= {"envelope_id"}
            await slack.wait_for("views.open", timeout=15)
        finally:
            ran = await stop(process, seen)
        assert ran.code == 0 and "Traceback" not in ran.err, ran.err


async def test_a_refused_app_token_stops_aprova_naming_it(folder: Path):
    async with LocalSlack() as slack:
        ran = await run("-m", "bot", cwd=folder, env=serve_socket_env(folder, slack, "xapp-revoked"))
    assert ran.code == 2
    assert_one_clean_line(ran, "SLACK_APP_TOKEN: Slack refuses it (invalid_auth) → generate an App-Level Token")


async def test_an_unreachable_slack_is_one_warning_while_aprova_keeps_serving(folder: Path):
    async with LocalSlack() as slack:
        env = serve_socket_env(folder, slack, "xapp-whatever", api_url=NOWHERE)
    process = await start("-m", "bot", cwd=folder, env=env)
    assert process.stderr is not None
    seen: list[str] = []
    try:
        port = (await read_until(process.stderr, r"health checks on port (\d+)", seen)).group(1)
        await read_until(process.stderr, "cannot connect to Slack in Socket Mode", seen)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).json() == {"status": "ok"}
    finally:
        ran = await stop(process, seen)
    assert ran.code == 0 and "Traceback" not in ran.err, ran.err
    assert sum("cannot connect to Slack" in line for line in ran.err.splitlines()) == 1
    assert f"at {NOWHERE}" in ran.err


async def test_slack_out_of_reach_is_said_once_a_minute_without_a_traceback(caplog):
    now = [0.0]
    attempts = []

    async def sleep(seconds: float) -> None:
        attempts.append(now[0])
        now[0] += seconds
        if len(attempts) == 36:  # three minutes of retries every 5 s
            raise asyncio.CancelledError

    app = AsyncApp(token="xoxb-unused", signing_secret="unused")
    link = SocketModeLink(app, app_token="xapp-1", api_url=NOWHERE, clock=lambda: now[0], sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="bot.socket_mode"), pytest.raises(asyncio.CancelledError):
        await link.connect()
    await link.close()
    warnings = [r for r in caplog.records if r.name == "bot.socket_mode"]
    assert len(attempts) == 36 and len(warnings) == 3  # at 0, 60 and 120 s
    assert all(r.exc_info is None and "retrying every 5 s" in r.getMessage() for r in warnings)


def test_slack_sdk_complaints_are_condensed():
    now = [0.0]
    condense = OncePer(60, clock=lambda: now[0])
    records = []
    for second in range(0, 180, 10):  # slack_sdk retrying every 10 s with a traceback
        now[0] = float(second)
        try:
            raise ConnectionError("Cannot connect")
        except ConnectionError:
            record = logging.LogRecord("sdk", logging.ERROR, __file__, 1, "Failed to connect", None, sys.exc_info())
        if condense.filter(record):
            records.append(record)
    assert len(records) == 3 and all(r.exc_info is None and r.levelname == "WARNING" for r in records)


async def test_socket_mode_link_refuses_like_slack_does():
    async with LocalSlack() as slack:
        app = AsyncApp(token=slack.bot_token, signing_secret="unused")
        link = SocketModeLink(app, app_token="xapp-revoked", api_url=slack.api_url)
        with pytest.raises(StartupError, match=r"^SLACK_APP_TOKEN: Slack refuses it \(invalid_auth\)"):
            await link.connect()
        await link.close()


# --------------------------------------------------------------------------- 7. the connect button is acknowledged


async def test_the_connect_link_button_is_acknowledged(session_factory, clock):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova:
        trigger = aprova.slack.new_trigger_id()
        await aprova.send_form(payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="connect"))
        await aprova.settle()
        reply = aprova.slack.ephemerals(CFO)[-1]
        message = dict(reply, ts=reply["message_ts"])
        calls = len(aprova.slack.calls)
        body = payloads.block_actions(
            message, action_id="contaazul-connect-link", user_id=CFO, trigger_id=aprova.slack.new_trigger_id()
        )
        response = await aprova.send_form(body)
        await aprova.settle()
        assert response.status_code == 200  # Bolt answers 404 (and Slack warns) for a click nobody listens to
        assert [c.method for c in aprova.slack.calls[calls:]] in ([], ["users.info"])  # nothing said or changed


# --------------------------------------------------------------------------- 8. the demo asks before a real Conta Azul


async def test_the_demo_says_what_it_would_create_and_waits_for_a_yes(folder: Path):
    with ExternalSandbox(auto_consent=True) as sandbox:
        suppliers = len(sandbox.state.people)
        ran = await run("-m", "bot", "demo", cwd=folder, env=environment_for(sandbox), answer="n\n")
        assert ran.code == 1 and "Traceback" not in ran.err
        assert f"The demo writes to the Conta Azul at {sandbox.api_url}" in ran.out
        assert "  - a payable of R$ 1.234,56 due in 10 days" in ran.out
        assert "Go ahead? [y/N] Nothing was written to Conta Azul. (--yes skips this question.)" in ran.out
        assert not sandbox.state.events and len(sandbox.state.people) == suppliers


# --------------------------------------------------------------------------- 9. reproducible installs


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_bounded_and_pinned_in_the_lock_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert isinstance(project["license"], str)  # an SPDX expression: a table makes setuptools warn
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert [r for r in requirements if "<" not in r] == []
    lock = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    pinned = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\$", lock, re.MULTILINE)}
    assert {_requirement_name(r) for r in requirements} <= pinned
    assert "--hash=sha256:" in lock
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the README's checklist, followed

# The people of the stand-in workspace, and who takes the place of each example id of approval-policy.example.toml.
STAND_INS = {
    "U0000000GES": MANAGER,
    "S00000DIRET": "S0DIRETORIA",
    "U0000000MKT": DIRECTOR_EN,
    "U0000000FIN": MANAGER,
    "U000000FIN2": DIRECTOR_PT,
    "U0000000CFO": CFO,
}


def edit_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Set ``NAME=value`` lines as a person edits ``.env``: in place where the line is, appended otherwise."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for name, value in values.items():
        at = next((i for i, line in enumerate(lines) if re.match(rf"#? ?{name}=", line)), None)
        if at is None:
            lines.append(f"{name}={value}")
        else:
            lines[at] = f"{name}={value}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def eventually(found: Callable[[], T | None], timeout: float = 30) -> T:
    """What ``found`` returns once it is something (another process is doing the work)."""
    async with asyncio.timeout(timeout):
        while (value := found()) is None:
            await asyncio.sleep(0.05)
    return value


def interactive(body: str) -> dict[str, object]:
    """A signed-request body's payload, as Socket Mode carries it."""
    return json.loads(dict(parse_qsl(body))["payload"])


async def test_the_setup_checklist_followed_literally_ends_with_a_posted_payable(folder: Path):
    """README, "Set up for your workspace", step by step; LocalSlack and the sandbox stand for Slack and Conta Azul."""
    async with (
        LocalSlack(team_id=payloads.TEAM_ID) as slack,
        Sandbox(client_id="aprova-local", client_secret="local-secret", auto_consent=True) as sandbox,
    ):
        for user in (REQUESTER, MANAGER, DIRECTOR_EN, DIRECTOR_PT):
            slack.add_user(user)
        slack.add_user(CFO, is_admin=True)
        slack.add_usergroup("S0DIRETORIA", [DIRECTOR_EN, DIRECTOR_PT])
        # 1-2. The app's tokens in .env (Socket Mode: no signing secret, no public address).
        shutil.copy(folder / ".env.example", folder / ".env")
        edit_env_file(
            folder / ".env",
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_SIGNING_SECRET": "",
                "APROVA_PUBLIC_URL": "",
                "APROVA_FINANCE_ADMINS": CFO,
                "APROVA_REQUESTS_CHANNEL": REQUESTS_CHANNEL,
                "SLACK_API_URL": slack.api_url,  # the stand-in instead of Slack
                "PORT": "0",
                "HOST": "127.0.0.1",
                "LOG_FORMAT": "text",
            },
        )
        # 3. The policy, the example's ids replaced by the workspace's.
        policy = (folder / "approval-policy.example.toml").read_text(encoding="utf-8")
        for example, person in STAND_INS.items():
            policy = policy.replace(f'"{example}"', f'"{person}"')
        (folder / "approval-policy.toml").write_text(policy, encoding="utf-8")
        # 4. Conta Azul: the bundled sandbox, and a key.
        edit_env_file(
            folder / ".env",
            {
                "CONTAAZUL_CLIENT_ID": "aprova-local",
                "CONTAAZUL_CLIENT_SECRET": "local-secret",
                "CONTAAZUL_AUTH_URL": sandbox.auth_url,
                "CONTAAZUL_API_URL": sandbox.api_url,
                "APROVA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            },
        )
        # 5. make migrate, make check.
        assert (await run("-m", "bot", "migrate", cwd=folder)).code == 0
        checked = await run("-m", "bot", "check", cwd=folder)
        assert checked.code == 0, checked.err
        assert checked.out.splitlines()[-1] == "Aprova's set-up is valid."
        # 6. make run; /contaazul connect; check --contaazul; /pagamento.
        process = await start("-m", "bot", cwd=folder)
        assert process.stderr is not None
        seen: list[str] = []
        try:
            port = (await read_until(process.stderr, r"health checks on port (\d+)", seen)).group(1)
            await read_until(process.stderr, "connected to Slack in Socket Mode", seen)
            trigger = slack.new_trigger_id()
            connect = payloads.slash_command("/contaazul", user_id=CFO, trigger_id=trigger, text="connect")
            await slack.socket_mode.deliver("slash_commands", dict(parse_qsl(connect)))
            await slack.wait_for("chat.postEphemeral", timeout=15)
            blocks = slack.ephemerals(CFO)[-1]["blocks"]
            [link] = [e["url"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
            async with httpx.AsyncClient(timeout=15) as browser:
                # The link is Aprova's one-time start page (on this run's port): it binds the browser, then sends
                # it to Conta Azul, whose sandbox consents at once and sends it back.
                start_link = urlsplit(link)
                started = await browser.get(f"http://127.0.0.1:{port}{start_link.path}?{start_link.query}")
                consent = await browser.get(started.headers["location"])
                back = urlsplit(consent.headers["location"])
                page = await browser.get(f"http://127.0.0.1:{port}{back.path}?{back.query}")
            assert page.status_code == 200, page.text

            probed = await run("-m", "bot", "check", "--contaazul", cwd=folder)
            assert probed.code == 0 and probed.out.count("  ✓ ") == 6, probed.out

            command = payloads.slash_command("/pagamento", user_id=REQUESTER, trigger_id=slack.new_trigger_id())
            await slack.socket_mode.deliver("slash_commands", dict(parse_qsl(command)))
            await slack.wait_for("views.open", timeout=15)
            [view] = [v for v in slack.views.values() if v.get("callback_id") == "payment-request"]
            today = datetime.now(ZoneInfo("America/Sao_Paulo")).date()
            answers = VALID_ANSWERS | {
                "payment_method": "transfer",
                "payment_code": "",
                "competence_date": today.isoformat(),
                "due_date": (today + timedelta(days=10)).isoformat(),
            }
            submitted = payloads.view_submission(view, user_id=REQUESTER, answers=answers)
            ack = await slack.socket_mode.deliver("interactive", interactive(submitted))
            assert not ack.get("payload"), ack  # no field errors
            approval = await eventually(lambda: next(iter(slack.messages(slack.dm_channel(MANAGER))), None))
            click = payloads.block_actions(
                approval, action_id="payment-approve", user_id=MANAGER, trigger_id=slack.new_trigger_id()
            )
            await slack.socket_mode.deliver("interactive", interactive(click))
            tracking = slack.messages(REQUESTS_CHANNEL)[0]

            def posted_reply() -> dict[str, Any] | None:
                replies = slack.thread(REQUESTS_CHANNEL, tracking["ts"])
                return next((m for m in replies if "Lançado no Conta Azul" in m["text"]), None)

            posted = await eventually(posted_reply)
        finally:
            ran = await stop(process, seen)
        [event] = sandbox.state.events.values()
        assert event.referencia_externa == f"PAG-{today.year}-000001"
        assert "📗 Lançado no Conta Azul: Moinho Anaconda Ltda · R$ 1.234,56 · vencimento" in posted["text"]
        assert ran.code == 0 and "Traceback" not in ran.err, ran.err
