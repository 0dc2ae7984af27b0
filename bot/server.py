"""Aprova's HTTP surface: Slack events, the Conta Azul OAuth callback, the CRM webhooks and the health checks.

The process around it (the worker, the scheduler, Socket Mode) is put together in ``bot.wiring``."""

from __future__ import annotations

import hmac
import logging
import secrets

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy import text

from bot import webhooks
from bot.blocks.contaazul import CALLBACK_PAGE_CSP, build_callback_page, company_line
from bot.blocks.i18n import Locale
from bot.deps import Deps
from bot.settings import OAUTH_CALLBACK_PATH, OAUTH_PATH, OAUTH_START_PATH
from bot.slack_requests import to_bolt_request
from ledger import flows
from ledger.contaazul.connector import stored_connections
from ledger.contaazul.oauth import STATE_TTL, STATUS_ACTIVE, connection_statuses
from ledger.errors import GatewayError, OAuthGrantError, OAuthStateError, TokensUnreadable

log = logging.getLogger(__name__)

DEPS_KEY = web.AppKey("deps", Deps)
BOLT_KEY = web.AppKey("bolt", AsyncApp)
SLACK_TIMEOUT = aiohttp.ClientTimeout(total=30)


def create_web_app(deps: Deps, bolt_app: AsyncApp, *, slack_events: bool = True) -> web.Application:
    """``slack_events=False`` in Socket Mode, where Slack reaches us over the socket instead."""
    web_app = web.Application()
    web_app[DEPS_KEY] = deps
    web_app[BOLT_KEY] = bolt_app

    async def handle_slack_events(request: web.Request) -> web.StreamResponse:
        try:
            with deps.answering.one():
                bolt_request = await to_bolt_request(request)
                bolt_response = await bolt_app.async_dispatch(bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A body Bolt cannot read (not JSON, not a Slack payload): nothing was run or stored.
            log.warning("unreadable request to /slack/events refused: %s", type(exc).__name__)
            return web.json_response({"error": "invalid request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    if slack_events:
        web_app.router.add_post("/slack/events", handle_slack_events)
    web_app.router.add_get(OAUTH_START_PATH, handle_oauth_start)
    web_app.router.add_get(OAUTH_CALLBACK_PATH, handle_oauth_callback)
    webhooks.register(web_app, deps, bolt_app)
    web_app.router.add_get("/healthz", handle_healthz)
    web_app.router.add_get("/readyz", handle_readyz)
    return web_app


# The secret that binds an authorization to the admin's browser; only Aprova's OAuth pages ever receive it.
BINDING_COOKIE = "aprova_oauth_browser"
BINDING_COOKIE_MAX_AGE = int(STATE_TTL.total_seconds())
# No OAuth page of Aprova is cached, framed, or leaks its URL (which names the state) in a Referer.
OAUTH_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CALLBACK_PAGE_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _browser_locale(request: web.Request) -> Locale:
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "pt_BR"


def _oauth_page(request: web.Request, key: str, status: int, **params: str) -> web.Response:
    body = build_callback_page(key, locale=_browser_locale(request), success=status == 200, **params)
    return web.Response(text=body, status=status, content_type="text/html", headers=OAUTH_PAGE_HEADERS)


async def handle_oauth_start(request: web.Request) -> web.StreamResponse:
    """The link ``/contaazul connect`` hands out: bind the flow to this browser, then go to Conta Azul's consent."""
    deps = request.app[DEPS_KEY]
    if deps.contaazul is None:
        return _oauth_page(request, "ca.not_configured", 404)
    binding = secrets.token_urlsafe(32)
    try:
        authorize_url = await deps.contaazul.open_in_browser(state=request.query.get("state", ""), binding=binding)
    except OAuthStateError as exc:
        log.warning("oauth start link refused: %s", exc.code)
        return _oauth_page(request, f"page.{exc.code}", 400)
    response = web.Response(status=302, headers=OAUTH_PAGE_HEADERS | {"Location": authorize_url})
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        max_age=BINDING_COOKIE_MAX_AGE,
        path=OAUTH_PATH,
        secure=deps.settings.cookies_secure,
        httponly=True,
        samesite="Lax",  # sent on Conta Azul's top-level redirect back, never on cross-site subrequests
    )
    return response


async def handle_oauth_callback(request: web.Request) -> web.Response:
    """Where Conta Azul sends the admin's browser back: finish the connection and say how it went."""
    deps, bolt_app = request.app[DEPS_KEY], request.app[BOLT_KEY]
    if deps.contaazul is None:
        return _oauth_page(request, "ca.not_configured", 404)
    state, code, error = (request.query.get(k, "") for k in ("state", "code", "error"))
    binding = request.cookies.get(BINDING_COOKIE)
    if error:
        if state:
            await deps.contaazul.consent_denied(state=state, binding=binding)
        log.info("conta azul consent not given: %s", error)
        return _forget_browser(_oauth_page(request, "page.denied", 400))
    if not state or not code:
        return _oauth_page(request, "page.bad_request", 400)
    try:
        info = await deps.contaazul.complete(state=state, code=code, binding=binding)
    except OAuthStateError as exc:
        log.warning("oauth callback refused: %s", exc.code)
        return _oauth_page(request, f"page.{exc.code}", 400)
    except OAuthGrantError as exc:
        log.warning("conta azul refused the authorization code: %s", exc.code)
        return _forget_browser(_oauth_page(request, "page.code_invalid", 400))
    except GatewayError as exc:
        log.error("conta azul unavailable during the oauth callback: %s", exc)
        return _forget_browser(_oauth_page(request, "page.unavailable", 502))
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
    return _forget_browser(_oauth_page(request, "page.connected", 200, company=info.company_name))


def _forget_browser(response: web.Response) -> web.Response:
    """The binding served its one flow: the browser drops it."""
    response.del_cookie(BINDING_COOKIE, path=OAUTH_PATH)
    return response


async def handle_healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def handle_readyz(request: web.Request) -> web.Response:
    """503 when the database is unreachable (this instance cannot work); otherwise 200.

    Anyone may ask (a load balancer); only a caller presenting ``APROVA_READYZ_TOKEN`` (``Authorization: Bearer …``)
    is told why the database failed and each workspace's Conta Azul connection, by team id — an operator's alert
    (a connection to renew is not a reason to stop traffic), not something to tell the internet.
    """
    deps = request.app[DEPS_KEY]
    detailed = _holds_token(request, deps.settings.readyz_token)
    try:
        async with deps.session_factory() as session:
            await session.execute(text("SELECT 1"))
            statuses = await connection_statuses(session)
        unreadable: set[str] = set()
        if deps.contaazul is not None and statuses:
            connections = await stored_connections(deps.session_factory, deps.contaazul.cipher)
            unreadable = {c.team_id for c in connections if not c.readable}
    except Exception as exc:  # any failure means "not ready"; the reason goes to the operator
        reason = {"database": type(exc).__name__} if detailed else {}
        return web.json_response({"status": "unavailable", **reason}, status=503)
    if not detailed:
        return web.json_response({"status": "ok"})
    if deps.contaazul is None:
        books: str | dict[str, str] = "not_configured"
    else:
        # Tokens no configured key decrypts (APROVA_ENCRYPTION_KEY replaced or lost) are not a connection.
        books = {
            team: TokensUnreadable.code if team in unreadable else "connected" if status == STATUS_ACTIVE else status
            for team, status in statuses.items()
        } or "not_connected"
    return web.json_response({"status": "ok", "database": "ok", "contaazul": books})


def _holds_token(request: web.Request, token: str | None) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode())
