"""``python -m bot`` refuses to start, with a clear message, when the Conta Azul tokens could not be protected.

Every case must stop before the server starts: the configured port is held by the test, so reaching the point of
serving fails at once instead of blocking the suite.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot.__main__
from ledger import db
from ledger.models import ContaAzulConnection
from tests.bot.test_settings import POLICY, VARIABLES

GOOD_KEY = "0vYSP5ng0Mr7-Ep9jBkYtX8QmSiG0fb3xBqEjL8jK3E="
GENERATE_HINT = "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port someone is already listening on: a server that tried to start there would fail at once."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "aprova.db"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, held_port: int, database: Path) -> pytest.MonkeyPatch:
    """Slack configured (HTTP mode, an unreachable Slack), a valid policy, a fresh SQLite file, nothing else."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("APROVA_POLICY_FILE", str(policy))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-startup-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "startup-secret")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(held_port))
    monkeypatch.setattr(bot.__main__, "configure_logging", lambda *args: None)
    return monkeypatch


def with_contaazul_app(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CONTAAZUL_CLIENT_ID", "client-id")
    environment.setenv("CONTAAZUL_CLIENT_SECRET", "client-secret")


def test_contaazul_without_a_key_stops_before_anything_else(environment, capsys, database):
    with_contaazul_app(environment)
    assert bot.__main__.main(["serve"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("✗ APROVA_ENCRYPTION_KEY: not set, but Conta Azul is configured")
    assert GENERATE_HINT in err and "APROVA_ENCRYPTION_KEY=new,old" in err
    assert not database.exists()  # stopped before migrating


def test_check_reports_the_missing_key_too(environment, capsys):
    with_contaazul_app(environment)
    assert bot.__main__.main(["check"]) == 1
    assert "✗ APROVA_ENCRYPTION_KEY: not set, but Conta Azul is configured" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("keys", "position"),
    [
        ("not-a-fernet-key", "#1 of 1"),
        ("0vYSP5ng0Mr7-Ep9jBkYtX8QmSiG0fb3xBqEjL8jK3", "#1 of 1"),  # a truncated key
        (f"{GOOD_KEY},old-key-pasted-wrong", "#2 of 2"),  # rotation: the old key is checked too
    ],
)
def test_a_malformed_key_is_named_not_echoed(environment, capsys, database, keys, position):
    with_contaazul_app(environment)
    environment.setenv("APROVA_ENCRYPTION_KEY", keys)
    assert bot.__main__.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("✗ APROVA_ENCRYPTION_KEY: ")
    assert f"encryption key {position} is not a valid Fernet key" in err
    assert GENERATE_HINT in err
    assert keys.split(",")[-1] not in err  # a key is a secret, even a broken one
    assert not database.exists()


def test_a_malformed_key_fails_even_without_contaazul(environment, capsys):
    environment.setenv("APROVA_ENCRYPTION_KEY", "not-a-fernet-key")
    assert bot.__main__.main(["check"]) == 1
    assert "✗ APROVA_ENCRYPTION_KEY: encryption key #1 of 1 is not a valid Fernet key" in capsys.readouterr().err


async def _store_connection(url: str) -> None:
    engine = db.create_engine(url)
    try:
        now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
        async with db.create_session_factory(engine)() as session, session.begin():
            session.add(
                ContaAzulConnection(
                    team_id="T0001",
                    company_id="empresa-1",
                    company_name="Padaria Pão Quente Ltda",
                    connected_by="U0CFO",
                    connected_at=now,
                    status="active",
                    access_token_enc="gAAAAA-encrypted-access",
                    refresh_token_enc="gAAAAA-encrypted-refresh",
                    access_expires_at=now,
                    updated_at=now,
                )
            )
    finally:
        await engine.dispose()


def test_stored_tokens_need_the_key_even_when_contaazul_is_not_configured(environment, capsys, database):
    url = f"sqlite:///{database}"
    db.upgrade(url)
    asyncio.run(_store_connection(url))
    assert bot.__main__.main(["serve"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "✗ APROVA_ENCRYPTION_KEY: not set, but the database holds Conta Azul tokens" in err
