"""``python -m bot``: run Aprova (HTTP or Socket Mode). ``python -m bot migrate``: upgrade the database."""

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
from ledger.contaazul.connector import has_connections
from ledger.contaazul.crypto import TokenCipher
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
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "check", "demo"])
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
