"""A loopback stand-in for the Slack Web API, for the tests, the no-credentials demo and the benchmark.

`LocalSlack` is the HTTP server, the call log, the failure injection and the people in the workspace; the messages,
views and files Aprova creates are kept by `localslack_chat`, `localslack_views` and `localslack_files`.
``python -m bot.dev.localslack`` runs it as a process of its own, driven over the routes of `localslack_control`.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from .localslack_chat import Chat
from .localslack_control import add_control_routes
from .localslack_files import Files, SlackUpload
from .localslack_socket import SocketMode
from .localslack_views import Views
from .localslack_workspace import JSONDict, SlackError, Workspace, csv_values, flag

# Form-encoded callers (and slack_sdk's files.completeUploadExternal) send these as JSON strings.
_JSON_FIELDS = ("blocks", "view", "attachments", "files", "metadata")


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as received, token removed: when it arrived (``time.time()``) and the error it was answered
    with (None when it succeeded)."""

    method: str
    args: dict[str, Any]
    at: float = field(default=0.0, compare=False)
    error: str | None = None


@dataclass
class _User:
    id: str
    name: str
    real_name: str
    email: str | None
    tz: str
    locale: str
    is_admin: bool
    is_owner: bool
    is_bot: bool = False


class _DropConnection(Exception):
    pass


class _HoldAnswer(Exception):
    def __init__(self, answer: _Answer) -> None:
        self.answer = answer


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    retry_after: int


@dataclass(frozen=True)
class _RandomRateLimit:
    fraction: float
    retry_after: int
    methods: frozenset[str] | None  # None: every method
    draw: random.Random


_Answer = tuple[JSONDict, int, dict[str, str] | None]


class LocalSlack:
    """An in-process HTTP server that answers like the Slack Web API and records every call."""

    def __init__(
        self,
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_token: str = "xoxb-local",
        app_token: str = "xapp-local",
    ) -> None:
        self.workspace = Workspace(team_id, bot_user_id)
        self.bot_token = bot_token
        self.app_token = app_token
        self.calls: list[SlackCall] = []
        self._changed = asyncio.Condition()
        self._dms: dict[str, str] = {}
        self._users: dict[str, _User] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._download_redirects: dict[str, str] = {}
        self._random_rate_limit: _RandomRateLimit | None = None
        self._answers_released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._chat = Chat(self.workspace, self.dm_channel)
        self._views = Views(self.workspace)
        self._files = Files(self.workspace, self._require_base_url)
        self.socket_mode = SocketMode(self.workspace, self._require_base_url)
        self._handlers: dict[str, Callable[[JSONDict], JSONDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat.post_message,
            "chat.update": self._chat.update,
            "chat.postEphemeral": self._chat.post_ephemeral,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views.open,
            "views.push": self._views.open,
            "views.update": self._views.update,
            "views.publish": self._views.publish,
            "files.getUploadURLExternal": self._files.get_upload_url,
            "files.completeUploadExternal": self._files.complete_upload,
            "reactions.add": self._chat.add_reaction,
            "conversations.history": self._chat.history,
            "conversations.replies": self._chat.replies,
            "apps.connections.open": self.socket_mode.open,
        }
        self.add_user(bot_user_id, name="aprova", real_name="Aprova")
        self._users[bot_user_id].is_bot = True

    # -- lifecycle ---------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and serve; port 0 picks a free port."""
        if self._runner is not None:
            raise RuntimeError("LocalSlack is already running")
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle_api)
        # users.info and usergroups.users.list are sent as GET by slack_sdk.
        app.router.add_get("/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/files/{file_id}/{name}", self._handle_download)
        app.router.add_get("/socket-mode/{connection_id}", self.socket_mode.handle)
        add_control_routes(app, self)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        netloc = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{netloc}:{bound_port}/"

    async def stop(self) -> None:
        """Shut the server down; safe to call twice."""
        runner, self._runner, self._base_url = self._runner, None, None
        self._answers_released.set()  # nothing waits forever on a server going away
        if runner is not None:
            await self.socket_mode.close()
            await runner.cleanup()

    async def __aenter__(self) -> LocalSlack:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """Base URL for AsyncWebClient(base_url=...), with trailing slash."""
        return f"{self._require_base_url()}api/"

    def _require_base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("LocalSlack is not running; call start() first")
        return self._base_url

    # -- configuration -----------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "America/Sao_Paulo",
        locale: str = "pt-BR",
        is_admin: bool = False,
        is_owner: bool = False,
    ) -> None:
        """Make users.info know a user."""
        name = name or user_id.lower()
        self._users[user_id] = _User(user_id, name, real_name or name, email, tz, locale, is_admin, is_owner)

    def add_usergroup(self, group_id: str, members: list[str]) -> None:
        """Make usergroups.users.list know a user group."""
        self._usergroups[group_id] = list(members)

    def fail_next(
        self, method: str, error: str = "ratelimited", status: int | None = None, retry_after: int = 1
    ) -> None:
        """Make the next call of method fail once; status defaults to 429 for ratelimited, else 200.

        ``error="connection_dropped"`` drops the connection without doing anything; ``"answer_lost"`` does the
        call, then drops the connection before answering (the caller cannot know it worked); ``"answer_held"`` does
        the call and holds its answer until :meth:`release_answers` (the caller waits, as a process that dies
        there would)."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        self._failures.setdefault(method, deque()).append(_Failure(error, status, retry_after))

    def release_answers(self) -> None:
        """Answer the calls held by ``fail_next(..., error="answer_held")``."""
        self._answers_released.set()

    def clear_failures(self) -> None:
        """Forget the failures queued by fail_next that have not happened yet."""
        self._failures.clear()

    def rate_limit_randomly(
        self,
        fraction: float,
        *,
        retry_after: int = 1,
        methods: Collection[str] | None = None,
        seed: int | None = None,
    ) -> None:
        """Answer ``429 ratelimited`` with ``Retry-After`` to about ``fraction`` of the calls (of ``methods``, else of
        every method) from now on, drawn at random (``seed`` makes the draw repeatable); 0 stops it."""
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
        if fraction == 0:
            self._random_rate_limit = None
            return
        chosen = frozenset(methods) if methods is not None else None
        self._random_rate_limit = _RandomRateLimit(fraction, retry_after, chosen, random.Random(seed))

    def new_trigger_id(self) -> str:
        """A fresh, unused trigger id."""
        return self.workspace.new_trigger_id()

    def dm_channel(self, user_id: str) -> str:
        """The stable DM channel id for a user, as conversations.open returns it."""
        if user_id not in self._dms:
            self._dms[user_id] = self.workspace.new_id("D")
        return self._dms[user_id]

    def add_user_file(self, user_id: str, filename: str, content: bytes) -> JSONDict:
        """A file a person uploaded in a modal's file input: the object Slack puts in ``state.values``."""
        return self._files.add_user_file(user_id, filename, content)

    def redirect_download(self, file_id: str, location: str) -> None:
        """Make the file's url_private_download answer 302 to ``location`` (files.slack.com sends a session it does
        not accept to a sign-in page)."""
        self._download_redirects[file_id] = location

    # -- inspection --------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        """Recorded calls of one method, in arrival order."""
        return [call for call in self.calls if call.method == method]

    def reset_calls(self) -> None:
        """Forget recorded calls; stored messages and views stay."""
        self.calls.clear()

    def messages(self, channel: str | None = None) -> list[JSONDict]:
        """Posted messages (thread replies included) as they are now, oldest first."""
        return self._chat.messages(channel)

    def thread(self, channel: str, ts: str) -> list[JSONDict]:
        """Replies to the message channel/ts, without the parent."""
        return self._chat.thread(channel, ts)

    def ephemerals(self, user: str | None = None) -> list[JSONDict]:
        """Ephemeral messages, optionally only those shown to one user."""
        return self._chat.ephemerals(user)

    @property
    def views(self) -> dict[str, JSONDict]:
        """Current views by view id (modals and home tabs)."""
        return self._views.by_id()

    @property
    def home_views(self) -> dict[str, JSONDict]:
        """Latest published home view by user id."""
        return self._views.home_by_user()

    @property
    def uploads(self) -> dict[str, SlackUpload]:
        """Uploaded files by file id."""
        return self._files.uploads()

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        """Wait until at least count calls of method were recorded; return all of them."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)
        except TimeoutError:
            seen = Counter(call.method for call in self.calls)
            summary = ", ".join(f"{name} x{n}" for name, n in seen.items()) or "nothing"
            got = len(self.calls_to(method))
            raise TimeoutError(
                f"waited {timeout}s for {count} {method} call(s) but got {got}; recorded: {summary}"
            ) from None
        return self.calls_to(method)

    # -- HTTP plumbing -----------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.time()
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except SlackError as exc:
            return web.json_response(exc.body())
        token = args.pop("token", None) or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        held = False
        try:
            body, status, headers = self._answer(method, token, args)
        except _DropConnection:
            body, status, headers = {"ok": False, "error": "connection_dropped"}, 0, None
        except _HoldAnswer as hold:
            (body, status, headers), held = hold.answer, True
        error = None if body.get("ok") else str(body.get("error"))
        async with self._changed:
            self.calls.append(SlackCall(method, args, at=arrived, error=error))
            self._changed.notify_all()
        if held:
            await self._answers_released.wait()
        if status == 0:  # the caller never learns whether it worked
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, method: str, token: str, args: JSONDict) -> _Answer:
        handler = self._handlers.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}, 200, None
        if not token:
            return {"ok": False, "error": "not_authed"}, 200, None
        # Socket Mode is opened with the app-level token; everything else with the bot token.
        if token != (self.app_token if method == "apps.connections.open" else self.bot_token):
            return {"ok": False, "error": "invalid_auth"}, 200, None
        queued = self._failures.get(method)
        if queued:
            failure = queued.popleft()
            if failure.error in ("connection_dropped", "answer_lost"):
                if failure.error == "answer_lost":  # done, then the connection drops before the answer
                    try:
                        handler(args)
                    except SlackError:
                        pass
                raise _DropConnection
            if failure.error == "answer_held":
                try:
                    raise _HoldAnswer((handler(args), 200, None))
                except SlackError as exc:
                    raise _HoldAnswer((exc.body(), 200, None)) from None
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else None
            return {"ok": False, "error": failure.error}, failure.status, headers
        limit = self._random_rate_limit
        if limit and (limit.methods is None or method in limit.methods) and limit.draw.random() < limit.fraction:
            return {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(limit.retry_after)}
        try:
            return handler(args), 200, None
        except SlackError as exc:
            return exc.body(), 200, None

    @staticmethod
    async def _read_args(request: web.Request) -> JSONDict:
        args: JSONDict = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except json.JSONDecodeError:
                    raise SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                args.update(body)
            else:
                form = await request.post()
                args.update({key: value for key, value in form.items() if isinstance(value, str)})
        for key in _JSON_FIELDS:
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except json.JSONDecodeError:
                    pass  # left as a string so validation reports it like Slack would
        return args

    async def _handle_upload(self, request: web.Request) -> web.Response:
        upload = self._files.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="file not found")
        upload.content = await request.read()
        return web.Response(text=f"OK - {len(upload.content)}")

    async def _handle_download(self, request: web.Request) -> web.Response:
        """url_private_download: the file's bytes, for a request with the bot token (as files.slack.com does)."""
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=403, text="forbidden")
        if location := self._download_redirects.get(request.match_info["file_id"]):
            raise web.HTTPFound(location)
        upload = self._files.get(request.match_info["file_id"])
        if upload is None or upload.content is None:
            return web.Response(status=404, text="file not found")
        return web.Response(
            body=upload.content, content_type=mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        )

    # -- methods about the workspace and its people ------------------------

    def _auth_test(self, args: JSONDict) -> JSONDict:
        return {
            "ok": True,
            "url": "https://local-slack.slack.com/",
            "team": "Local Slack",
            "user": self._users[self.workspace.bot_user_id].name,
            "team_id": self.workspace.team_id,
            "user_id": self.workspace.bot_user_id,
            "bot_id": self.workspace.bot_id,
            "is_enterprise_install": False,
        }

    def _conversations_open(self, args: JSONDict) -> JSONDict:
        if args.get("channel"):
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": str(args["channel"])}}
        users = csv_values(args.get("users"))
        if not users:
            raise SlackError("users_list_not_supplied")
        key = users[0] if len(users) == 1 else ",".join(sorted(users))
        already_open = key in self._dms
        if len(users) == 1:
            channel_id = self.dm_channel(key)
        else:
            channel_id = self._dms.setdefault(key, self.workspace.new_id("G"))
        return {"ok": True, "no_op": already_open, "already_open": already_open, "channel": {"id": channel_id}}

    def _users_info(self, args: JSONDict) -> JSONDict:
        user = self._users.get(str(args.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        offset = datetime.now(ZoneInfo(user.tz)).utcoffset()
        profile: JSONDict = {
            "real_name": user.real_name,
            "display_name": user.name,
            "real_name_normalized": user.real_name,
            "display_name_normalized": user.name,
            "team": self.workspace.team_id,
        }
        if user.email:
            profile["email"] = user.email
        if user.is_bot:
            profile["bot_id"] = self.workspace.bot_id
        info: JSONDict = {
            "id": user.id,
            "team_id": self.workspace.team_id,
            "name": user.name,
            "deleted": False,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": user.is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }
        if flag(args.get("include_locale")):
            info["locale"] = user.locale
        return {"ok": True, "user": info}

    def _usergroups_users_list(self, args: JSONDict) -> JSONDict:
        members = self._usergroups.get(str(args.get("usergroup")))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(members)}


if __name__ == "__main__":  # python -m bot.dev.localslack: the stand-in on its own, for another process to use
    from bot.dev.localslack_control import main

    sys.exit(main())
