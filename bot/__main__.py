"""``python -m bot``: run Aprova (HTTP or Socket Mode). ``python -m bot migrate``: upgrade the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from aiohttp import web

from bot.app import build_bolt_app
from bot.deps import Deps
from bot.logs import configure_logging
from bot.people import People
from bot.posting import PostingLoop
from bot.server import create_web_app
from bot.settings import Settings, SettingsError
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.connector import ContaAzul, has_connections
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.oauth import OAuthConfig
from ledger.errors import PolicyError
from ledger.outbox import enqueue_posting
from ledger.policy import Policy, load_policy

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
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "check"])
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)

    if args.command == "migrate":
        db.upgrade(settings.database_url)
        log.info("database is at the latest schema")
        return 0
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as exc:
        print(f"Approval policy error: {exc}", file=sys.stderr)
        return 2
    missing = settings.missing_for_slack()
    if missing:
        print(SLACK_HELP.format(missing="\n  ".join(missing)), file=sys.stderr)
        return 2
    if args.command == "check":
        print("Configuration and approval policy are valid.")
        return 0
    if settings.contaazul_configured and not settings.encryption_key:
        print(ENCRYPTION_HELP, file=sys.stderr)
        return 2
    db.upgrade(settings.database_url)
    try:
        asyncio.run(serve(settings, policy))
    except StartupError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


class StartupError(RuntimeError):
    """Aprova cannot start as configured; the message says what to change."""


def build_contaazul(settings: Settings, deps_clock: SystemClock, session_factory: Any) -> ContaAzul | None:
    if not settings.contaazul_configured:
        return None
    try:
        cipher = TokenCipher(settings.encryption_key or "")
    except ValueError as exc:
        raise StartupError(f"APROVA_ENCRYPTION_KEY: {exc}") from None
    config = OAuthConfig(
        client_id=settings.contaazul_client_id or "",
        client_secret=settings.contaazul_client_secret or "",
        auth_url=settings.contaazul_auth_url,
        api_url=settings.contaazul_api_url,
        redirect_uri=settings.oauth_redirect_uri,
    )
    return ContaAzul(config=config, session_factory=session_factory, clock=deps_clock, cipher=cipher)


async def serve(settings: Settings, policy: Policy) -> None:
    engine = db.create_engine(settings.database_url)
    clock = SystemClock(settings.timezone)
    session_factory = db.create_session_factory(engine)
    if not settings.encryption_key and await has_connections(session_factory):
        await engine.dispose()
        raise StartupError(ENCRYPTION_HELP)
    contaazul = build_contaazul(settings, clock, session_factory)
    deps = Deps(
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        policy=policy,
        people=People(clock, "en" if settings.default_locale == "en" else "pt_BR"),
        contaazul=contaazul,
        on_final_approval=enqueue_posting if contaazul is not None else None,
    )
    bolt_app = build_bolt_app(deps)
    poster = PostingLoop(deps, bolt_app.client)
    deps.wake_poster = poster.wake
    socket_mode = settings.slack_app_token is not None
    runner = web.AppRunner(create_web_app(deps, bolt_app, slack_events=not socket_mode))
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    handler = None
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
            from slack_sdk.web.async_client import AsyncWebClient

            handler = AsyncSocketModeHandler(
                bolt_app, settings.slack_app_token, web_client=AsyncWebClient(base_url=settings.slack_api_url)
            )
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode; health checks on port %s", settings.port)
        else:
            log.info("listening for Slack on http://%s:%s/slack/events", settings.host, settings.port)
        if contaazul is not None:
            poster.start()  # also picks up whatever a previous run left behind
        await stop.wait()
    finally:
        log.info("shutting down")
        await poster.stop()
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
        if contaazul is not None:
            await contaazul.aclose()
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
