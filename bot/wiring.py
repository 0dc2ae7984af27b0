"""Aprova put together once: the Conta Azul connector, the ledger, the deps, the Bolt app, the web app, the posting
worker and the scheduler. The server (:func:`run_aprova`), the demo, the tests and the benchmark all start here, so
what they run is what production runs."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_bolt_app
from bot.deliveries import DeliveryWorker
from bot.deps import Deps
from bot.errors import Listeners
from bot.people import People
from bot.posting import PostingLoop
from bot.scheduler import Scheduler
from bot.server import create_web_app
from bot.settings import Settings
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import Sleep
from ledger.contaazul.models import Route
from ledger.contaazul.oauth import OAuthConfig
from ledger.outbox import enqueue_posting
from ledger.policy import Policy
from ledger.ports import Clock
from ledger.receivables import ReceivableRules
from ledger.use_cases import Ledger

log = logging.getLogger(__name__)

SLACK_TIMEOUT = aiohttp.ClientTimeout(total=30)


class StartupError(RuntimeError):
    """Aprova cannot start as configured; the message says what to change."""


def build_contaazul(
    settings: Settings,
    clock: Clock,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    sleep: Sleep | None = None,
) -> ContaAzul | None:
    """The Conta Azul connector, or None when no client id/secret is configured.

    ``sleep`` replaces real waiting (rate limits, Retry-After) where a test's clock is frozen.
    """
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
    route: Route = "async" if settings.contaazul_create_route == "async" else "sync"
    return ContaAzul(
        config=config,
        session_factory=session_factory,
        clock=clock,
        cipher=cipher,
        route=route,
        rate_limits=(settings.contaazul_rate_per_second, settings.contaazul_rate_per_minute),
        request_timeout=settings.contaazul_timeout,
        sleep=sleep,
    )


@dataclass
class Assembly:
    """Everything one Aprova process runs, built but not started."""

    deps: Deps
    bolt_app: AsyncApp
    listeners: Listeners  # to wait for the work listeners do after their acks
    web_app: web.Application
    poster: PostingLoop
    deliveries: DeliveryWorker
    scheduler: Scheduler


async def assemble(
    stack: AsyncExitStack,
    settings: Settings,
    policy: Policy,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    receivables: ReceivableRules | None = None,
    sleep: Sleep | None = None,
    worker_owner: str | None = None,
) -> Assembly:
    """Build Aprova; ``stack`` closes what it opens (HTTP pools) when the caller is done.

    Args:
        stack: Where to register the clean-ups.
        settings: The process settings.
        policy: The approval policy file's rules (a team's until its first edit in Slack).
        session_factory: The database.
        clock: Time (a frozen clock in tests).
        receivables: How won deals become receivables (None: the deal webhooks answer 404).
        sleep: Replaces real waiting in the Conta Azul client where the clock is frozen.
        worker_owner: The posting worker's lease name (a fixed one makes a test's leases readable).
    """
    books = build_contaazul(settings, clock, session_factory, sleep=sleep)
    if books is not None:
        stack.push_async_callback(books.aclose)
    ledger = Ledger(
        session_factory=session_factory,
        clock=clock,
        policy=policy,
        remind_after_hours=settings.remind_after_hours,
        escalate_after_hours=settings.escalate_after_hours,
        books=books,
        on_final_approval=enqueue_posting if books is not None else None,
    )
    deps = Deps(
        settings=settings,
        ledger=ledger,
        people=People(clock, "en" if settings.default_locale == "en" else "pt_BR"),
        receivables=receivables,
    )
    slack_http = aiohttp.ClientSession(timeout=SLACK_TIMEOUT)
    stack.push_async_callback(slack_http.close)
    bolt_app, listeners = build_bolt_app(deps, http=slack_http)
    poster = PostingLoop(deps, bolt_app.client, owner=worker_owner)
    deps.wake_poster = poster.wake
    # Its own client, retrying nothing itself: a delivery waits for Retry-After by rescheduling, and a post whose
    # answer was lost is looked for before it is sent again (slack_sdk's default would resend it at once).
    slack = AsyncWebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, session=slack_http, retry_handlers=[]
    )
    deliveries = DeliveryWorker(deps, slack, owner=worker_owner)
    deps.wake_deliveries = deliveries.wake
    deps.deliveries = deliveries
    web_app = create_web_app(deps, bolt_app, slack_events=settings.slack_app_token is None)
    return Assembly(deps, bolt_app, listeners, web_app, poster, deliveries, Scheduler(deps, bolt_app.client))


@dataclass
class RunningAprova:
    """A started Aprova, for whoever started it (the CLI, the demo)."""

    assembly: Assembly
    url: str  # where the HTTP server listens, e.g. http://127.0.0.1:3000
    # Socket Mode: done once connected to Slack; raises StartupError when Slack refuses the app token.
    slack_connection: asyncio.Task[None] | None = None

    @property
    def deps(self) -> Deps:
        return self.assembly.deps

    @property
    def bolt_app(self) -> AsyncApp:
        return self.assembly.bolt_app


@asynccontextmanager
async def run_aprova(
    settings: Settings,
    policy: Policy,
    *,
    receivables: ReceivableRules | None = None,
    listener: socket.socket | None = None,
) -> AsyncIterator[RunningAprova]:
    """Start the whole app (database migrated beforehand); stop everything in reverse order on exit.

    Args:
        settings: The process settings.
        policy: The approval policy.
        receivables: How won deals become receivables (None: the deal webhooks answer 404).
        listener: An already bound socket to serve on (the demo binds first so the OAuth redirect URI can name
            its port); otherwise ``HOST``:``PORT``.
    """
    async with AsyncExitStack() as stack:
        engine = db.create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        aprova = await assemble(
            stack,
            settings,
            policy,
            session_factory=db.create_session_factory(engine),
            clock=SystemClock(settings.timezone),
            receivables=receivables,
        )
        runner = web.AppRunner(aprova.web_app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.SockSite(runner, listener) if listener else web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
        port = runner.addresses[0][1]
        url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::', '') else settings.host}:{port}"
        slack_connection = None
        if settings.slack_app_token is not None:
            from bot.socket_mode import SocketModeLink  # it raises this module's StartupError

            link = SocketModeLink(aprova.bolt_app, app_token=settings.slack_app_token, api_url=settings.slack_api_url)
            stack.push_async_callback(link.close)
            # In the background: health checks answer, and the worker posts, while Slack is out of reach.
            slack_connection = asyncio.create_task(link.connect())
            stack.push_async_callback(_cancel, slack_connection)
            log.info("connecting to Slack in Socket Mode; health checks on port %s", port)
        else:
            log.info("listening for Slack on %s/slack/events", url)
        aprova.deliveries.start()  # also sends whatever a previous run left unsent
        stack.push_async_callback(aprova.deliveries.stop)
        if aprova.deps.contaazul is not None:
            aprova.poster.start()  # also picks up whatever a previous run left behind
            stack.push_async_callback(aprova.poster.stop)
        aprova.scheduler.start()
        stack.push_async_callback(aprova.scheduler.shutdown)
        yield RunningAprova(aprova, url, slack_connection)
        log.info("shutting down")


async def _cancel(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
    with suppress(asyncio.CancelledError, StartupError):
        await task
