"""``python -m bot``: run Aprova (HTTP or Socket Mode). ``python -m bot migrate``: upgrade the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from bot.app import build_bolt_app
from bot.deps import Deps
from bot.logs import configure_logging
from bot.people import LocaleCache
from bot.server import create_web_app
from bot.settings import Settings, SettingsError
from ledger import db
from ledger.clock import SystemClock
from ledger.errors import PolicyError
from ledger.policy import Policy, load_policy

log = logging.getLogger("bot")

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
    db.upgrade(settings.database_url)
    asyncio.run(serve(settings, policy))
    return 0


async def serve(settings: Settings, policy: Policy) -> None:
    engine = db.create_engine(settings.database_url)
    clock = SystemClock(settings.timezone)
    deps = Deps(
        settings=settings,
        session_factory=db.create_session_factory(engine),
        clock=clock,
        policy=policy,
        locales=LocaleCache(clock, "en" if settings.default_locale == "en" else "pt_BR"),
    )
    bolt_app = build_bolt_app(deps)
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
        await stop.wait()
    finally:
        log.info("shutting down")
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
