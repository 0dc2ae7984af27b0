"""``python -m bot rotate-key``: every stored token re-encrypted with the first key, run as an operator would, and
tokens no configured key opens stranded safely (their connection marked to reconnect, its admins told once)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

import bot.__main__
from bot.scheduler import refresh_expiring_tokens
from ledger import db
from ledger.clock import FixedClock
from ledger.contaazul.crypto import TokenCipher
from ledger.models import ContaAzulConnection
from tests.harness import CFO, running_aprova

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
READABLE, STRANDED = "T0001", "T0LOSTKEY"
OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))


async def rotate_key(database_url: str, keys: str | None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CONTAAZUL_", "APROVA_"))}
    env |= {"DATABASE_URL": database_url} | ({"APROVA_ENCRYPTION_KEY": keys} if keys is not None else {})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "rotate-key",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def connection(team_id: str, cipher: TokenCipher, clock: FixedClock) -> ContaAzulConnection:
    now = clock.now()
    return ContaAzulConnection(
        team_id=team_id,
        company_id=f"company-of-{team_id}",
        company_name="Padaria Pão Quente Ltda",
        connected_by=CFO,
        connected_at=now,
        status="active",
        access_token_enc=cipher.encrypt(f"access-of-{team_id}"),
        refresh_token_enc=cipher.encrypt(f"refresh-of-{team_id}"),
        access_expires_at=now + timedelta(hours=1),
        token_version=1,
        updated_at=now,
    )


async def test_rotate_key_reencrypts_with_the_first_key_and_strands_what_no_key_opens(database_url, clock):
    await asyncio.to_thread(db.upgrade, database_url)
    engine = db.create_engine(database_url)
    sessions = db.create_session_factory(engine)
    try:
        async with sessions.begin() as session:
            session.add(connection(READABLE, TokenCipher(OLD), clock))
            session.add(connection(STRANDED, TokenCipher(LOST), clock))  # a key nobody configured any more

        code, out, err = await rotate_key(database_url, f"{NEW},{OLD}")
        assert code == 1, err
        assert "Re-encrypted the Conta Azul tokens of 1 workspace(s) with the first key." in out
        assert f"tokens no configured key decrypts: {STRANDED}" in err and "/contaazul connect" in err
        assert not any(key in out + err for key in (OLD, NEW, LOST))

        async with sessions() as session:
            rows = {r.team_id: r for r in await session.scalars(select(ContaAzulConnection))}
        newest_only = TokenCipher(NEW)  # the old key can now be removed
        assert newest_only.decrypt(rows[READABLE].access_token_enc) == f"access-of-{READABLE}"
        assert newest_only.decrypt(rows[READABLE].refresh_token_enc) == f"refresh-of-{READABLE}"
        assert rows[READABLE].status == "active" and rows[READABLE].token_version == 1
        assert rows[STRANDED].status == "needs_reconnect" and rows[STRANDED].needs_reconnect_alerted_at is None

        # The running app (with the new key alone) tells the finance admins, once, that one workspace must reconnect.
        async with running_aprova(sessions, clock, contaazul=True, encryption_key=NEW) as aprova:
            assert aprova.poster is not None
            for _ in range(2):
                await refresh_expiring_tokens(aprova.deps, aprova.poster.client)
            alerts = [
                m for m in aprova.slack.messages(aprova.slack.dm_channel(CFO)) if "/contaazul connect" in m["text"]
            ]
            assert len(alerts) == 1
            assert await aprova.books.tokens.access_token(READABLE) == f"access-of-{READABLE}"
    finally:
        await engine.dispose()


def test_rotate_key_needs_a_usable_key(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bot.__main__, "configure_logging", lambda *args: None)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'aprova.db'}")
    monkeypatch.delenv("APROVA_ENCRYPTION_KEY", raising=False)
    assert bot.__main__.main(["rotate-key"]) == 2
    assert "APROVA_ENCRYPTION_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("APROVA_ENCRYPTION_KEY", f"{NEW},not-a-key")
    assert bot.__main__.main(["rotate-key"]) == 2
    err = capsys.readouterr().err
    assert "encryption key #2 of 2 is not a valid Fernet key" in err and NEW not in err
    assert not (tmp_path / "aprova.db").exists()  # refused before touching the database
