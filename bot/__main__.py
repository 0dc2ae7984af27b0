"""``python -m bot``: run Aprova (HTTP or Socket Mode). ``python -m bot migrate``: upgrade the database.
``python -m bot rotate-key``: re-encrypt the stored Conta Azul tokens with the first APROVA_ENCRYPTION_KEY."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError
from bot.wiring import StartupError, run_aprova
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.connector import has_connections
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.tokens import KeyRotation, rotate_stored_tokens
from ledger.errors import PolicyError
from ledger.policy import Policy, load_policy
from ledger.receivables import ReceivableRules, load_receivable_rules

log = logging.getLogger("bot")

ENCRYPTION_HELP = """\
APROVA_ENCRYPTION_KEY is not set, but Conta Azul is configured or connected: Aprova keeps the Conta Azul
tokens encrypted and cannot run without the key. Generate one with
  python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
and keep it safe: losing it means connecting Conta Azul again. To rotate, put the new key first:
APROVA_ENCRYPTION_KEY=new,old.
"""

SLACK_HELP = """\
Aprova needs Slack credentials to run. Set:
  {missing}
Create the Slack app from manifest.yml (see README.md, "Create the Slack app"), install it to your
workspace, then copy the Bot User OAuth Token (xoxb-...) and either the Signing Secret (HTTP mode)
or an App-Level Token with connections:write (xapp-..., Socket Mode). A .env.example lists every setting.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Aprova: payment approvals in Slack.")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "check", "demo", "rotate-key"]
    )
    parser.add_argument("--keep", action="store_true", help="demo: keep running afterwards, for a look around")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from bot.dev.demo import run_demo

        return run_demo(keep_running=args.keep)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)

    if args.command == "migrate":
        db.upgrade(settings.database_url)
        log.info("database is at the latest schema")
        return 0
    if args.command == "rotate-key":
        return rotate_key(settings)
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as exc:
        print(f"Approval policy error: {exc}", file=sys.stderr)
        return 2
    try:
        receivables = load_receivable_rules(settings.receivables_file)
    except PolicyError as exc:
        print(f"Receivables error: {exc}", file=sys.stderr)
        return 2
    missing = settings.missing_for_slack()
    if missing:
        print(SLACK_HELP.format(missing="\n  ".join(missing)), file=sys.stderr)
        return 2
    key_problem = encryption_key_problem(settings)
    if key_problem:
        print(key_problem, file=sys.stderr)
        return 2
    if args.command == "check":
        rules = f"{settings.receivables_file} is valid" if receivables else "no receivables file (deal webhooks off)"
        print(f"Configuration and approval policy are valid; {rules}.")
        return 0
    db.upgrade(settings.database_url)
    if not settings.encryption_key and asyncio.run(stores_tokens(settings.database_url)):
        print(ENCRYPTION_HELP, file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings, policy, receivables))
    except StartupError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def encryption_key_problem(settings: Settings) -> str | None:
    """What is wrong with APROVA_ENCRYPTION_KEY for these settings, found without touching the database."""
    if not settings.encryption_key:
        return ENCRYPTION_HELP if settings.contaazul_configured else None
    try:
        TokenCipher(settings.encryption_key)
    except ValueError as exc:  # the message names the bad key's position, never the key
        return f"APROVA_ENCRYPTION_KEY: {exc}"
    return None


def rotate_key(settings: Settings) -> int:
    """Re-encrypt every stored Conta Azul token with the first key of APROVA_ENCRYPTION_KEY, so the others can be
    removed. Tokens no configured key decrypts mark their connection to reconnect (the app alerts its admins once).

    Returns:
        0 when every connection was re-encrypted; 1 when some must be connected again; 2 without a usable key.
    """
    if not settings.encryption_key:
        print("APROVA_ENCRYPTION_KEY is not set: put the new key first, then the old ones (new,old).", file=sys.stderr)
        return 2
    try:
        cipher = TokenCipher(settings.encryption_key)
    except ValueError as exc:  # names the bad key's position, never the key
        print(f"APROVA_ENCRYPTION_KEY: {exc}", file=sys.stderr)
        return 2
    db.upgrade(settings.database_url)

    async def rotate() -> KeyRotation:
        engine = db.create_engine(settings.database_url)
        try:
            sessions = db.create_session_factory(engine)
            return await rotate_stored_tokens(sessions, cipher=cipher, clock=SystemClock(settings.timezone))
        finally:
            await engine.dispose()

    done = asyncio.run(rotate())
    print(f"Re-encrypted the Conta Azul tokens of {len(done.rotated)} workspace(s) with the first key.")
    if done.stranded:
        print(
            f"{len(done.stranded)} workspace(s) hold tokens no configured key decrypts: {', '.join(done.stranded)}. "
            "They are marked to reconnect; a finance admin there must run /contaazul connect.",
            file=sys.stderr,
        )
        return 1
    return 0


async def stores_tokens(database_url: str) -> bool:
    """Whether the database already holds Conta Azul tokens (then the key is needed to read them)."""
    engine = db.create_engine(database_url)
    try:
        return await has_connections(db.create_session_factory(engine))
    finally:
        await engine.dispose()


async def serve(settings: Settings, policy: Policy, receivables: ReceivableRules | None) -> None:
    """Run until SIGINT or SIGTERM."""
    async with run_aprova(settings, policy, receivables=receivables):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


if __name__ == "__main__":
    sys.exit(main())
