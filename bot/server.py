"""Aprova's HTTP server: Slack events, health checks (and, later, OAuth callbacks and webhooks)."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text

from bot.deps import Deps

DEPS_KEY = web.AppKey("deps", Deps)


def create_web_app(deps: Deps, bolt_app: AsyncApp, *, slack_events: bool = True) -> web.Application:
    """``slack_events=False`` in Socket Mode, where Slack reaches us over the socket instead."""
    web_app = web.Application()
    web_app[DEPS_KEY] = deps

    async def handle_slack_events(request: web.Request) -> web.StreamResponse:
        bolt_request = await to_bolt_request(request)
        return await to_aiohttp_response(await bolt_app.async_dispatch(bolt_request))

    if slack_events:
        web_app.router.add_post("/slack/events", handle_slack_events)
    web_app.router.add_get("/healthz", handle_healthz)
    web_app.router.add_get("/readyz", handle_readyz)
    return web_app


async def handle_healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def handle_readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    try:
        async with deps.session_factory() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the operator
        return web.json_response({"status": "unavailable", "database": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
