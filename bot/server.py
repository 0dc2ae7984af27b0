"""Aprova's process: the HTTP server (Slack events, the Conta Azul OAuth callback, health checks), the posting
worker and the scheduler, started and stopped together by :func:`run_aprova`."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import webhooks
from bot.app import build_bolt_app
from bot.blocks.contaazul import build_callback_page, company_line
from bot.blocks.i18n import Locale
from bot.deps import Deps
from bot.people import People
from bot.posting import PostingLoop
from bot.scheduler import Scheduler, build_scheduler
from bot.settings import Settings
from ledger import db, flows
from ledger.clock import SystemClock
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.limits import Sleep
from ledger.contaazul.models import Route
from ledger.contaazul.oauth import STATUS_ACTIVE, OAuthConfig, connection_statuses, consume_state
from ledger.errors import GatewayError, OAuthGrantError, OAuthStateError
from ledger.outbox import enqueue_posting
from ledger.policy import Policy
from ledger.ports import Clock
from ledger.receivables import ReceivableRules

log = logging.getLogger(__name__)

DEPS_KEY = web.AppKey("deps", Deps)
BOLT_KEY = web.AppKey("bolt", AsyncApp)
OAUTH_CALLBACK_PATH = "/contaazul/oauth/callback"
SLACK_TIMEOUT = aiohttp.ClientTimeout(total=30)


def create_web_app(deps: Deps, bolt_app: AsyncApp, *, slack_events: bool = True) -> web.Application:
    """``slack_events=False`` in Socket Mode, where Slack reaches us over the socket instead."""
    web_app = web.Application()
    web_app[DEPS_KEY] = deps
    web_app[BOLT_KEY] = bolt_app

    async def handle_slack_events(request: web.Request) -> web.StreamResponse:
        try:
            bolt_request = await to_bolt_request(request)
            bolt_response = await bolt_app.async_dispatch(bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A body Bolt cannot read (not JSON, not a Slack payload): nothing was run or stored.
            log.warning("unreadable request to /slack/events refused: %s", type(exc).__name__)
            return web.json_response({"error": "invalid request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    if slack_events:
        web_app.router.add_post("/slack/events", handle_slack_events)
    web_app.router.add_get(OAUTH_CALLBACK_PATH, handle_oauth_callback)
    webhooks.register(web_app, deps, bolt_app)
    web_app.router.add_get("/healthz", handle_healthz)
    web_app.router.add_get("/readyz", handle_readyz)
    return web_app


def _browser_locale(request: web.Request) -> Locale:
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "pt_BR"


async def handle_oauth_callback(request: web.Request) -> web.Response:
    """Where Conta Azul sends the admin's browser back: finish the connection and say how it went."""
    deps, bolt_app = request.app[DEPS_KEY], request.app[BOLT_KEY]
    locale = _browser_locale(request)

    def page(key: str, status: int, **params: str) -> web.Response:
        body = build_callback_page(key, locale=locale, success=status == 200, **params)
        return web.Response(text=body, status=status, content_type="text/html")

    if deps.contaazul is None:
        return page("ca.not_configured", 404)
    state, code, error = (request.query.get(k, "") for k in ("state", "code", "error"))
    if error:
        if state:
            try:  # a denied consent still uses up its state
                await consume_state(deps.session_factory, clock=deps.clock, state=state)
            except OAuthStateError:
                pass
        log.info("conta azul consent not given: %s", error)
        return page("page.denied", 400)
    if not state or not code:
        return page("page.bad_request", 400)
    try:
        info = await deps.contaazul.complete(state=state, code=code)
    except OAuthStateError as exc:
        log.warning("oauth callback with a bad state: %s", exc.code)
        return page(f"page.{exc.code}", 400)
    except OAuthGrantError as exc:
        log.warning("conta azul refused the authorization code: %s", exc.code)
        return page("page.code_invalid", 400)
    except GatewayError as exc:
        log.error("conta azul unavailable during the oauth callback: %s", exc)
        return page("page.unavailable", 502)
    await flows.audit(
        deps.session_factory,
        clock=deps.clock,
        team_id=info.team_id,
        actor_id=info.connected_by,
        action="contaazul_connected",
        company=info.company_name,
    )
    admin_locale = await deps.people.get(bolt_app.client, info.connected_by)
    try:
        await bolt_app.client.chat_postMessage(channel=info.connected_by, text=company_line(info, locale=admin_locale))
    except SlackApiError as exc:
        log.error("could not confirm the conta azul connection in slack: %s", exc.response.get("error"))
    return page("page.connected", 200, company=info.company_name)


async def handle_healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def handle_readyz(request: web.Request) -> web.Response:
    """503 when the database is unreachable (this instance cannot work); otherwise 200, with each workspace's
    Conta Azul connection state for the operator (a connection to renew is an alert, not a reason to stop traffic)."""
    deps = request.app[DEPS_KEY]
    try:
        async with deps.session_factory() as session:
            await session.execute(text("SELECT 1"))
            statuses = await connection_statuses(session)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the operator
        return web.json_response({"status": "unavailable", "database": type(exc).__name__}, status=503)
    if deps.contaazul is None:
        books: str | dict[str, str] = "not_configured"
    else:
        books = {
            team: "connected" if status == STATUS_ACTIVE else status for team, status in statuses.items()
        } or "not_connected"
    return web.json_response({"status": "ok", "database": "ok", "contaazul": books})


class StartupError(RuntimeError):
    """Aprova cannot start as configured; the message says what to change."""


@dataclass
class RunningAprova:
    """Everything one Aprova process runs, for whoever started it (the CLI, the demo, tests)."""

    deps: Deps
    bolt_app: AsyncApp
    poster: PostingLoop
    scheduler: Scheduler
    url: str  # where the HTTP server listens, e.g. http://127.0.0.1:3000


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
        clock = SystemClock(settings.timezone)
        session_factory = db.create_session_factory(engine)
        contaazul = build_contaazul(settings, clock, session_factory)
        if contaazul is not None:
            stack.push_async_callback(contaazul.aclose)
        deps = Deps(
            settings=settings,
            session_factory=session_factory,
            clock=clock,
            policy=policy,
            people=People(clock, "en" if settings.default_locale == "en" else "pt_BR"),
            contaazul=contaazul,
            on_final_approval=enqueue_posting if contaazul is not None else None,
            receivables=receivables,
        )
        slack_http = aiohttp.ClientSession(timeout=SLACK_TIMEOUT)
        stack.push_async_callback(slack_http.close)
        bolt_app = build_bolt_app(deps, http=slack_http)
        poster = PostingLoop(deps, bolt_app.client)
        deps.wake_poster = poster.wake
        socket_mode = settings.slack_app_token is not None
        runner = web.AppRunner(create_web_app(deps, bolt_app, slack_events=not socket_mode), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.SockSite(runner, listener) if listener else web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
        port = runner.addresses[0][1]
        url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::', '') else settings.host}:{port}"
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
            from slack_sdk.web.async_client import AsyncWebClient

            handler = AsyncSocketModeHandler(
                bolt_app, settings.slack_app_token, web_client=AsyncWebClient(base_url=settings.slack_api_url)
            )
            await handler.connect_async()  # type: ignore[no-untyped-call]
            stack.push_async_callback(handler.close_async)
            log.info("connected to Slack in Socket Mode; health checks on port %s", port)
        else:
            log.info("listening for Slack on %s/slack/events", url)
        if contaazul is not None:
            poster.start()  # also picks up whatever a previous run left behind
            stack.push_async_callback(poster.stop)
        scheduler = build_scheduler(deps, bolt_app.client)
        scheduler.start()
        stack.push_async_callback(scheduler.shutdown)
        yield RunningAprova(deps=deps, bolt_app=bolt_app, poster=poster, scheduler=scheduler, url=url)
        log.info("shutting down")
