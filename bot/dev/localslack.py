"""A loopback stand-in for the Slack Web API, for the tests and the no-credentials demo."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import mimetypes
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

JSONDict = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MODAL_TITLE = 24
# Form-encoded callers (and slack_sdk's files.completeUploadExternal) send these as JSON strings.
_JSON_FIELDS = ("blocks", "view", "attachments", "files", "metadata")


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as received, token removed."""

    method: str
    args: dict[str, Any]


@dataclass
class SlackUpload:
    """A file sent through files.getUploadURLExternal / files.completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False
    uploaded_by: str | None = None  # a person's file (from a file input); else the bot's


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


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    retry_after: int


class _SlackError(Exception):
    def __init__(self, error: str, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error": self.error}
        if self.detail:
            body["response_metadata"] = {"messages": [self.detail]}
        return body


def _flag(value: Any) -> bool:
    return str(value).lower() in {"1", "true"}


def _csv(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


class LocalSlack:
    """An in-process HTTP server that answers like the Slack Web API and records every call."""

    def __init__(self, team_id: str = "T0001", bot_user_id: str = "UBOT", bot_token: str = "xoxb-local") -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_token = bot_token
        self.bot_id = "B0001"
        self.app_id = "A0001"
        self.calls: list[SlackCall] = []
        self._changed = asyncio.Condition()
        # Slack ids are unique across runs (a view id keys a submission): start each instance somewhere new.
        self._ids = itertools.count(secrets.randbelow(0x7000_0000) + 1)
        self._last_ts_us = 0
        self._messages: dict[tuple[str, str], JSONDict] = {}
        self._ephemerals: list[JSONDict] = []
        self._dms: dict[str, str] = {}
        self._users: dict[str, _User] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._views: dict[str, JSONDict] = {}
        self._home_view_ids: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._uploads: dict[str, SlackUpload] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._handlers: dict[str, Callable[[JSONDict], JSONDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "reactions.add": self._reactions_add,
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
        if runner is not None:
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
        """Make the next call of method fail once; status defaults to 429 for ratelimited, else 200."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        self._failures.setdefault(method, deque()).append(_Failure(error, status, retry_after))

    def new_trigger_id(self) -> str:
        """A fresh, unused trigger id."""
        return f"{time.time_ns() // 1000}.{next(self._ids)}.{secrets.token_hex(16)}"

    def dm_channel(self, user_id: str) -> str:
        """The stable DM channel id for a user, as conversations.open returns it."""
        if user_id not in self._dms:
            self._dms[user_id] = self._new_id("D")
        return self._dms[user_id]

    # -- inspection --------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        """Recorded calls of one method, in arrival order."""
        return [call for call in self.calls if call.method == method]

    def reset_calls(self) -> None:
        """Forget recorded calls; stored messages and views stay."""
        self.calls.clear()

    def messages(self, channel: str | None = None) -> list[JSONDict]:
        """Posted messages (thread replies included) as they are now, oldest first."""
        return [dict(m) for m in self._messages.values() if channel is None or m["channel"] == channel]

    def thread(self, channel: str, ts: str) -> list[JSONDict]:
        """Replies to the message channel/ts, without the parent."""
        return [m for m in self.messages(channel) if m["thread_ts"] == ts and m["ts"] != ts]

    def ephemerals(self, user: str | None = None) -> list[JSONDict]:
        """Ephemeral messages, optionally only those shown to one user."""
        return [dict(m) for m in self._ephemerals if user is None or m["user"] == user]

    @property
    def views(self) -> dict[str, JSONDict]:
        """Current views by view id (modals and home tabs)."""
        return dict(self._views)

    @property
    def home_views(self) -> dict[str, JSONDict]:
        """Latest published home view by user id."""
        return {user: self._views[view_id] for user, view_id in self._home_view_ids.items()}

    @property
    def uploads(self) -> dict[str, SlackUpload]:
        """Uploaded files by file id."""
        return dict(self._uploads)

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
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except _SlackError as exc:
            return web.json_response(exc.body())
        token = args.pop("token", None) or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        response = self._answer(method, token, args)
        async with self._changed:
            self.calls.append(SlackCall(method, args))
            self._changed.notify_all()
        return response

    def _answer(self, method: str, token: str, args: JSONDict) -> web.Response:
        handler = self._handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != self.bot_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        queued = self._failures.get(method)
        if queued:
            failure = queued.popleft()
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else None
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
        try:
            return web.json_response(handler(args))
        except _SlackError as exc:
            return web.json_response(exc.body())

    @staticmethod
    async def _read_args(request: web.Request) -> JSONDict:
        args: JSONDict = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except json.JSONDecodeError:
                    raise _SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise _SlackError("invalid_json")
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
        upload = self._uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="file not found")
        upload.content = await request.read()
        return web.Response(text=f"OK - {len(upload.content)}")

    async def _handle_download(self, request: web.Request) -> web.Response:
        """url_private_download: the file's bytes, for a request with the bot token (as files.slack.com does)."""
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=403, text="forbidden")
        upload = self._uploads.get(request.match_info["file_id"])
        if upload is None or upload.content is None:
            return web.Response(status=404, text="file not found")
        return web.Response(
            body=upload.content, content_type=mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        )

    def add_user_file(self, user_id: str, filename: str, content: bytes) -> JSONDict:
        """A file a person uploaded in a modal's file input: the object Slack puts in ``state.values``."""
        file_id = self._new_id("F")
        upload = SlackUpload(file_id=file_id, filename=filename, length=len(content), content=content, completed=True)
        upload.uploaded_by = user_id
        self._uploads[file_id] = upload
        return self._file_object(upload)

    # -- helpers -----------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def _next_ts(self) -> str:
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _channel(self, args: JSONDict) -> str:
        channel = args.get("channel")
        if not channel:
            raise _SlackError("channel_not_found")
        channel = str(channel)
        # Slack delivers a message addressed to a user id to the bot's DM with that user.
        return self.dm_channel(channel) if channel[:1] in ("U", "W") else channel

    @staticmethod
    def _message_blocks(args: JSONDict) -> list[Any] | None:
        blocks = args.get("blocks")
        if blocks is None:
            return None
        if not isinstance(blocks, list):
            raise _SlackError("invalid_blocks_format")
        if len(blocks) > MAX_MESSAGE_BLOCKS:
            raise _SlackError(
                "invalid_blocks", f"[ERROR] no more than {MAX_MESSAGE_BLOCKS} items allowed [json-pointer:/blocks]"
            )
        return blocks

    def _message_payload(self, message: JSONDict) -> JSONDict:
        payload: JSONDict = {
            "type": "message",
            "text": message["text"],
            "user": message["user"],
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": message["ts"],
        }
        if message.get("subtype"):
            payload["subtype"] = message["subtype"]
        if message["blocks"] is not None:
            payload["blocks"] = message["blocks"]
        if message["thread_ts"] is not None:
            payload["thread_ts"] = message["thread_ts"]
        return payload

    @staticmethod
    def _check_view(view: Any, allowed_types: tuple[str, ...]) -> JSONDict:
        if not isinstance(view, dict) or view.get("type") not in allowed_types:
            raise _SlackError(
                "invalid_arguments", f"[ERROR] view type must be one of {allowed_types} [json-pointer:/view]"
            )
        blocks = view.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            detail = f"[ERROR] must be a list of no more than {MAX_VIEW_BLOCKS} items [json-pointer:/view/blocks]"
            raise _SlackError("invalid_arguments", detail)
        title = view.get("title") or {}
        if view["type"] == "modal" and len(str(title.get("text", ""))) > MAX_MODAL_TITLE:
            detail = f"[ERROR] must be less than {MAX_MODAL_TITLE + 1} characters [json-pointer:/view/title/text]"
            raise _SlackError("invalid_arguments", detail)
        return view

    def _store_view(self, view: JSONDict, previous: JSONDict | None = None) -> JSONDict:
        view_id = previous["id"] if previous else self._new_id("V")
        stored: JSONDict = {
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": self.team_id,
            "state": previous["state"] if previous else {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if previous and not stored["external_id"]:
            stored["external_id"] = previous["external_id"]
        self._views[view_id] = stored
        return stored

    def _use_trigger(self, args: JSONDict) -> None:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise _SlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        if trigger_id in self._used_triggers:
            raise _SlackError("exchanged_trigger_id")
        self._used_triggers.add(str(trigger_id))

    def _check_hash(self, args: JSONDict, current: JSONDict | None) -> None:
        expected = args.get("hash")
        if expected and current is not None and expected != current["hash"]:
            raise _SlackError("hash_conflict")

    # -- methods -----------------------------------------------------------

    def _auth_test(self, args: JSONDict) -> JSONDict:
        return {
            "ok": True,
            "url": "https://local-slack.slack.com/",
            "team": "Local Slack",
            "user": self._users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        blocks = self._message_blocks(args)
        text = str(args.get("text") or "")
        if not text and not blocks:
            raise _SlackError("no_text")
        thread_ts = args.get("thread_ts") or None
        ts = self._next_ts()
        message: JSONDict = {
            "channel": channel,
            "ts": ts,
            "text": text,
            "blocks": blocks,
            "thread_ts": thread_ts,
            "user": self.bot_user_id,
        }
        if thread_ts and _flag(args.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": self._message_payload(message)}

    def _chat_update(self, args: JSONDict) -> JSONDict:
        channel = args.get("channel")
        if not channel:
            raise _SlackError("channel_not_found")
        message = self._messages.get((str(channel), str(args.get("ts"))))
        if message is None:
            raise _SlackError("message_not_found")
        blocks = self._message_blocks(args)
        if "text" not in args and blocks is None:
            raise _SlackError("no_text")
        if "text" in args:
            message["text"] = str(args["text"] or "")
        if blocks is not None:
            # Like Slack: omitted blocks are kept, an empty list removes them.
            message["blocks"] = blocks or None
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._message_payload(message),
        }

    def _chat_post_ephemeral(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        user = args.get("user")
        if not user:
            raise _SlackError("user_not_in_channel")
        blocks = self._message_blocks(args)
        text = str(args.get("text") or "")
        if not text and not blocks:
            raise _SlackError("no_text")
        message_ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel,
                "user": str(user),
                "text": text,
                "blocks": blocks,
                "thread_ts": args.get("thread_ts") or None,
                "message_ts": message_ts,
            }
        )
        return {"ok": True, "message_ts": message_ts}

    def _conversations_open(self, args: JSONDict) -> JSONDict:
        if args.get("channel"):
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": str(args["channel"])}}
        users = _csv(args.get("users"))
        if not users:
            raise _SlackError("users_list_not_supplied")
        key = users[0] if len(users) == 1 else ",".join(sorted(users))
        already_open = key in self._dms
        if len(users) == 1:
            channel_id = self.dm_channel(key)
        else:
            channel_id = self._dms.setdefault(key, self._new_id("G"))
        return {"ok": True, "no_op": already_open, "already_open": already_open, "channel": {"id": channel_id}}

    def _users_info(self, args: JSONDict) -> JSONDict:
        user = self._users.get(str(args.get("user")))
        if user is None:
            raise _SlackError("user_not_found")
        offset = datetime.now(ZoneInfo(user.tz)).utcoffset()
        profile: JSONDict = {
            "real_name": user.real_name,
            "display_name": user.name,
            "real_name_normalized": user.real_name,
            "display_name_normalized": user.name,
            "team": self.team_id,
        }
        if user.email:
            profile["email"] = user.email
        if user.is_bot:
            profile["bot_id"] = self.bot_id
        info: JSONDict = {
            "id": user.id,
            "team_id": self.team_id,
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
        if _flag(args.get("include_locale")):
            info["locale"] = user.locale
        return {"ok": True, "user": info}

    def _usergroups_users_list(self, args: JSONDict) -> JSONDict:
        members = self._usergroups.get(str(args.get("usergroup")))
        if members is None:
            raise _SlackError("no_such_subteam")
        return {"ok": True, "users": list(members)}

    def _views_open(self, args: JSONDict) -> JSONDict:
        view = self._check_view(args.get("view"), ("modal",))
        self._use_trigger(args)
        return {"ok": True, "view": self._store_view(view)}

    def _views_push(self, args: JSONDict) -> JSONDict:
        return self._views_open(args)

    def _views_update(self, args: JSONDict) -> JSONDict:
        view = self._check_view(args.get("view"), ("modal", "home"))
        if args.get("view_id"):
            current = self._views.get(str(args["view_id"]))
        elif args.get("external_id"):
            matches = (v for v in self._views.values() if v["external_id"] == args["external_id"])
            current = next(matches, None)
        else:
            raise _SlackError("invalid_arguments", "[ERROR] either view_id or external_id is required")
        if current is None:
            raise _SlackError("not_found")
        self._check_hash(args, current)
        return {"ok": True, "view": self._store_view(view, previous=current)}

    def _views_publish(self, args: JSONDict) -> JSONDict:
        user_id = args.get("user_id")
        if not user_id:
            raise _SlackError("invalid_arguments", "[ERROR] missing required field: user_id")
        view = self._check_view(args.get("view"), ("home",))
        current_id = self._home_view_ids.get(str(user_id))
        current = self._views[current_id] if current_id else None
        self._check_hash(args, current)
        stored = self._store_view(view, previous=current)
        self._home_view_ids[str(user_id)] = stored["id"]
        return {"ok": True, "view": stored}

    def _files_get_upload_url(self, args: JSONDict) -> JSONDict:
        filename = args.get("filename")
        try:
            length = int(args["length"])
        except (KeyError, TypeError, ValueError):
            length = -1
        if not filename or length < 0:
            raise _SlackError("invalid_arguments", "[ERROR] filename and length are required")
        file_id = self._new_id("F")
        self._uploads[file_id] = SlackUpload(file_id=file_id, filename=str(filename), length=length)
        return {"ok": True, "upload_url": f"{self._require_base_url()}upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: JSONDict) -> JSONDict:
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            raise _SlackError("invalid_arguments", "[ERROR] files must be a non-empty list")
        uploads: list[tuple[SlackUpload, JSONDict]] = []
        for entry in entries:
            upload = self._uploads.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if upload is None or upload.content is None:
                raise _SlackError("file_not_found")
            uploads.append((upload, entry))
        channels = _csv(args.get("channel_id")) + _csv(args.get("channels"))
        files: list[JSONDict] = []
        for upload, entry in uploads:
            upload.title = str(entry.get("title") or upload.filename)
            upload.channels = channels
            upload.initial_comment = args.get("initial_comment") or None
            upload.thread_ts = args.get("thread_ts") or None
            upload.completed = True
            files.append(self._file_object(upload))
        return {"ok": True, "files": files}

    def _file_object(self, upload: SlackUpload) -> JSONDict:
        now = int(time.time())
        extension = upload.filename.rpartition(".")[2] if "." in upload.filename else ""
        private_url = f"https://files.slack.com/files-pri/{self.team_id}-{upload.file_id}/{upload.filename}"
        download_url = f"{self._require_base_url()}files/{upload.file_id}/{upload.filename}"
        return {
            "id": upload.file_id,
            "created": now,
            "timestamp": now,
            "name": upload.filename,
            "title": upload.title,
            "mimetype": mimetypes.guess_type(upload.filename)[0] or "application/octet-stream",
            "filetype": extension.lower() or "binary",
            "user": upload.uploaded_by or self.bot_user_id,
            "user_team": self.team_id,
            "size": len(upload.content or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": any(c.startswith("C") for c in upload.channels),
            "url_private": private_url,
            "url_private_download": download_url,  # served here, with the bot token, like files.slack.com
            "permalink": f"https://local-slack.slack.com/files/{self.bot_user_id}/{upload.file_id}/{upload.filename}",
        }

    def _reactions_add(self, args: JSONDict) -> JSONDict:
        if not args.get("name"):
            raise _SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise _SlackError("no_item_specified")
        return {"ok": True}
