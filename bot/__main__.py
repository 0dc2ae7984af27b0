"""``python -m bot``: run Aprova (HTTP or Socket Mode). ``check [--contaazul]``: verify the set-up without starting.
``migrate``: bring the database to the latest schema. ``demo [--keep] [--yes]``: the whole flow on this machine.
``rotate-key``: re-encrypt the stored Conta Azul tokens with the first APROVA_ENCRYPTION_KEY.

Every command reads ``.env`` first (a variable already set in the environment wins). A problem of configuration or
environment is told in one line naming what to change and how, never as a traceback: tracebacks are for bugs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import configure_mappers

from bot.blocks import i18n
from bot.checks import (
    MIGRATE,
    Configuration,
    Finding,
    SlackFacts,
    contaazul_company_findings,
    database_problems,
    read_configuration,
    schema_finding,
    slack_people_findings,
    slack_token_findings,
    sqlite_file_missing,
    sqlite_folder_finding,
    stored_token_findings,
)
from bot.contaazul_check import probe_contaazul
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_env_file
from bot.wiring import StartupError, run_aprova
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.tokens import KeyRotation, rotate_stored_tokens

REFUSED = 2  # serve and migrate: Aprova cannot run as configured
PROBLEMS_FOUND = 1  # check: the set-up has problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Aprova: payment approvals in Slack.")
    commands = ["serve", "migrate", "check", "demo", "rotate-key"]
    parser.add_argument("command", nargs="?", default="serve", choices=commands)
    parser.add_argument("--keep", action="store_true", help="demo: keep running afterwards, for a look around")
    parser.add_argument(
        "--yes", action="store_true", help="demo: do not ask before writing to a Conta Azul that is not the sandbox"
    )
    parser.add_argument(
        "--contaazul",
        action="store_true",
        help="check: make the read-only calls Aprova relies on against each connected Conta Azul company",
    )
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C while starting, migrating or checking: nothing half-done to report
        print("stopped", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    try:
        load_env_file()
    except SettingsError as exc:
        return report(exc.problems, REFUSED)
    if args.command == "demo":
        from bot.dev.demo import run_demo

        return run_demo(keep_running=args.keep, assume_yes=args.yes)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return report(exc.problems, PROBLEMS_FOUND if args.command == "check" else REFUSED)
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "migrate":
        return migrate(settings)
    if args.command == "check":
        return asyncio.run(check(settings, contaazul=args.contaazul))
    if args.command == "rotate-key":
        return rotate_key(settings)
    return start(settings)


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
    problem = upgrade_database(settings)
    if problem is not None:
        return report([problem], REFUSED)

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


def report(problems: Iterable[Finding | str], exit_code: int) -> int:
    """Each problem on its own line (stderr), then what to do next."""
    lines = [str(p) for p in problems]
    for line in lines:
        print(f"✗ {line}", file=sys.stderr)
    print(f"{len(lines)} problem(s): fix them, then run `make check` (python -m bot check).", file=sys.stderr)
    return exit_code


def migrate(settings: Settings) -> int:
    problem = upgrade_database(settings)
    if problem is not None:
        return report([problem], REFUSED)
    print("The database is at the latest schema.")
    return 0


def upgrade_database(settings: Settings) -> Finding | None:
    """Migrate; what stopped it, when that is the environment's doing (anything else is a bug, and raises)."""
    unwritable = sqlite_folder_finding(settings)
    if unwritable is not None:
        return unwritable
    problems: list[Finding] = []
    with database_problems(settings, problems):
        db.upgrade(settings.database_url)
    return problems[0] if problems else None


async def check(settings: Settings, *, contaazul: bool) -> int:
    """Everything that can be verified without starting; exit 1 with one line per problem."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # reading the schema's version is not news
    if contaazul:
        return await check_contaazul(settings)
    configuration = read_configuration(settings)
    findings, passed = list(configuration.findings), list(configuration.passed)
    reported = {f.subject for f in findings}
    await check_database(settings, findings, passed)
    findings += await check_slack(settings, configuration, reported, passed)
    for line in passed:
        print(f"✓ {line}")
    if findings:
        return report(findings, PROBLEMS_FOUND)
    print("Aprova's set-up is valid.")
    return 0


async def check_database(settings: Settings, findings: list[Finding], passed: list[str]) -> None:
    """Reachable and migrated; then the tokens it stores, readable and still accepted by Conta Azul."""
    unwritable = sqlite_folder_finding(settings)
    missing_file = sqlite_file_missing(settings)
    if unwritable is not None:
        findings.append(unwritable)
        return
    if missing_file is not None:  # opening it would create it: a check changes nothing
        findings.append(Finding("DATABASE_URL", f"the SQLite file {missing_file} does not exist yet", MIGRATE))
        return
    engine = db.create_engine(settings.database_url)
    try:
        with database_problems(settings, findings):
            schema = await schema_finding(settings, engine)
            if schema is not None:
                findings.append(schema)
                return
            passed.append("the database is at the latest schema")
            key_findings = await stored_token_findings(settings, engine)
            findings += key_findings
            if not key_findings and not any(f.subject == "APROVA_ENCRYPTION_KEY" for f in findings):
                findings += await contaazul_company_findings(settings, engine, passed)
    finally:
        await engine.dispose()


async def check_slack(
    settings: Settings, configuration: Configuration, reported: set[str], passed: list[str]
) -> list[Finding]:
    """The tokens as Slack sees them, then the people and groups named in the settings and the policy."""
    if "SLACK_BOT_TOKEN" in reported or not settings.slack_bot_token:
        return []
    facts = SlackFacts()
    checked = settings if "SLACK_APP_TOKEN" not in reported else _without_app_token(settings)
    findings = await slack_token_findings(checked, facts)
    if any(f.subject in ("SLACK_BOT_TOKEN", "SLACK_API_URL") for f in findings):
        return findings
    passed.append(f"Slack: workspace {facts.team}, bot @{facts.bot}")
    people = await slack_people_findings(settings, configuration.policy)
    if not people:
        passed.append("every finance admin and approver exists in the workspace")
    return findings + people


def _without_app_token(settings: Settings) -> Settings:
    return replace(settings, slack_app_token=None)


async def check_contaazul(settings: Settings) -> int:
    engine = db.create_engine(settings.database_url)
    problems: list[Finding] = []
    lines: list[str] = []
    healthy = False
    try:
        with database_problems(settings, problems):
            lines, healthy = await probe_contaazul(settings, engine)
    finally:
        await engine.dispose()
    if problems:
        return report(problems, PROBLEMS_FOUND)
    for line in lines:
        print(line)
    return 0 if healthy else PROBLEMS_FOUND


def start(settings: Settings) -> int:
    """Check what can be checked, migrate, then serve until SIGINT or SIGTERM."""
    configuration = read_configuration(settings)
    if configuration.blocking:
        return report(configuration.blocking, REFUSED)
    problem = upgrade_database(settings)
    if problem is not None:
        return report([problem], REFUSED)
    try:
        return asyncio.run(serve(settings, configuration))
    except StartupError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return REFUSED


async def serve(settings: Settings, configuration: Configuration) -> int:
    engine = db.create_engine(settings.database_url)
    try:
        findings = await stored_token_findings(settings, engine)
    finally:
        await engine.dispose()
    # The app token is tried by the Socket Mode connection itself, which also says when Slack is out of reach.
    slack = await slack_token_findings(_without_app_token(settings), SlackFacts())
    socket_mode = settings.slack_app_token is not None
    findings += [f for f in slack if not (socket_mode and f.subject == "SLACK_API_URL" and not f.blocking)]
    if not any(f.subject in ("SLACK_BOT_TOKEN", "SLACK_API_URL") for f in slack):
        # Someone the policy names who left the workspace is worth a warning, not a refusal to start: the rules
        # edited in Slack may no longer name them, and the finance admins can fix it from the Home tab.
        people = await slack_people_findings(settings, configuration.policy)
        findings += [replace(f, blocking=False) for f in people]
    if any(f.blocking for f in findings):
        return report([f for f in findings if f.blocking], REFUSED)
    for finding in findings:
        print(f"warning: {finding}", file=sys.stderr)
    assert configuration.policy is not None  # a missing or broken policy is blocking
    async with run_aprova(settings, configuration.policy, receivables=configuration.receivables) as aprova:
        settle_the_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        stopping = asyncio.create_task(stop.wait())
        waiting: set[asyncio.Future[Any]] = {stopping}
        if aprova.slack_connection is not None:
            waiting.add(aprova.slack_connection)
        while not stop.is_set():
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if aprova.slack_connection in done:
                aprova.slack_connection.result()  # a refused app token raises StartupError
    return 0


def settle_the_heap() -> None:
    """Leave what start-up made (modules, the app, locale data, mappers) out of garbage collection: a full collection
    then walks only what requests made since. Measured under load, full collections over everything stalled every
    request for up to ~130 ms; answers have 3 s."""
    configure_mappers()
    for locale in ("pt_BR", "en"):  # Babel loads a locale's data on first use
        i18n.money(Decimal("1234.56"), locale)
        i18n.moment(datetime.now(UTC), locale, ZoneInfo("America/Sao_Paulo"))
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
