"""LocalSlack for another process: ``python -m bot.dev.localslack`` runs the stand-in on its own, and its ``/_local/``
routes let whoever drives it (the benchmark) add people and faults and read what was called, and when.

- ``GET /_local/calls?after=N&method=a,b``: the recorded calls from the N-th on (``index``, ``method``, ``at`` as
  ``time.time()`` on arrival, ``error`` or null, ``args``) and ``next``, the N to ask for next time;
- ``POST /_local/users`` ``{"user_id": "U1", "real_name": …, "locale": …, "is_admin": …}`` (``add_user``);
- ``POST /_local/usergroups`` ``{"group_id": "S1", "members": ["U1"]}``;
- ``POST /_local/fail_next`` ``{"method": "chat.postMessage", "error": …, "status": …, "retry_after": …}``;
- ``POST /_local/rate_limit`` ``{"fraction": 0.1, "retry_after": 1, "methods": […] or null, "seed": …}``;
- ``GET /_local/messages?channel=C1``, ``GET /_local/views?callback_id=…``, ``GET /_local/dm/{user_id}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from bot.dev.localslack import LocalSlack

USER_FIELDS = {"name", "real_name", "email", "tz", "locale", "is_admin", "is_owner"}


def add_control_routes(app: web.Application, slack: LocalSlack) -> None:
    """Serve the ``/_local/`` routes for ``slack`` on ``app``."""

    async def calls(request: web.Request) -> web.Response:
        after = _whole_number(request.query.get("after", "0"))
        methods = {m for m in request.query.get("method", "").split(",") if m}
        recorded = slack.calls[after:]
        found = [
            {"index": after + offset, "method": c.method, "at": c.at, "error": c.error, "args": c.args}
            for offset, c in enumerate(recorded)
            if not methods or c.method in methods
        ]
        return web.json_response({"calls": found, "next": after + len(recorded)})

    async def add_user(request: web.Request) -> web.Response:
        body = await _json_object(request)
        user_id = body.pop("user_id", None)
        if not isinstance(user_id, str) or not user_id or not set(body) <= USER_FIELDS:
            raise web.HTTPBadRequest(text=f"expected user_id and any of {sorted(USER_FIELDS)}")
        slack.add_user(user_id, **body)
        return web.json_response({"ok": True})

    async def add_usergroup(request: web.Request) -> web.Response:
        body = await _json_object(request)
        group_id, members = body.get("group_id"), body.get("members")
        if not isinstance(group_id, str) or not isinstance(members, list):
            raise web.HTTPBadRequest(text="expected group_id and a list of members")
        slack.add_usergroup(group_id, [str(m) for m in members])
        return web.json_response({"ok": True})

    async def fail_next(request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            status = body.get("status")
            slack.fail_next(
                str(body["method"]),
                str(body.get("error", "ratelimited")),
                status=None if status is None else int(status),
                retry_after=int(body.get("retry_after", 1)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"expected a method, and an error, status or retry_after: {exc}") from None
        return web.json_response({"ok": True})

    async def rate_limit(request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            slack.rate_limit_randomly(
                float(body["fraction"]),
                retry_after=int(body.get("retry_after", 1)),
                methods=body.get("methods"),
                seed=body.get("seed"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"expected a fraction between 0 and 1: {exc}") from None
        return web.json_response({"ok": True})

    async def messages(request: web.Request) -> web.Response:
        return web.json_response({"messages": slack.messages(request.query.get("channel"))})

    async def views(request: web.Request) -> web.Response:
        wanted = request.query.get("callback_id")
        found = [v for v in slack.views.values() if wanted is None or v.get("callback_id") == wanted]
        return web.json_response({"views": found})

    async def dm(request: web.Request) -> web.Response:
        return web.json_response({"channel": slack.dm_channel(request.match_info["user_id"])})

    app.router.add_get("/_local/calls", calls)
    app.router.add_post("/_local/users", add_user)
    app.router.add_post("/_local/usergroups", add_usergroup)
    app.router.add_post("/_local/fail_next", fail_next)
    app.router.add_post("/_local/rate_limit", rate_limit)
    app.router.add_get("/_local/messages", messages)
    app.router.add_get("/_local/views", views)
    app.router.add_get("/_local/dm/{user_id}", dm)


def _whole_number(text: str) -> int:
    if not text.isdigit():
        raise web.HTTPBadRequest(text=f"expected a whole number, got {text!r}")
    return int(text)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="expected a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _serve(host: str, port: int, team_id: str, bot_token: str) -> None:
    from bot.dev.localslack import LocalSlack

    async with LocalSlack(team_id=team_id, bot_token=bot_token) as slack:
        # One line for people and for the process that started us: where to point SLACK_API_URL.
        print(f"LocalSlack: SLACK_API_URL={slack.api_url} SLACK_BOT_TOKEN={slack.bot_token}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.dev.localslack",
        description="A loopback stand-in for the Slack Web API (development only), until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default): any free port, printed at start")
    parser.add_argument("--team-id", default="T0001")
    parser.add_argument("--bot-token", default="xoxb-local")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port, args.team_id, args.bot_token))
    return 0
