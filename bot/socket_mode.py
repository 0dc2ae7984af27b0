"""Aprova's Socket Mode connection to Slack (when ``SLACK_APP_TOKEN`` is set).

slack_sdk retries a failed connection every few seconds, forever, logging a traceback each time — whether Slack is
down or refuses the token. Here the first step (``apps.connections.open``) is ours: a refused app token stops Aprova
with a message naming ``SLACK_APP_TOKEN``; an unreachable Slack is retried, and said once a minute. Once connected,
slack_sdk keeps the connection (and reconnects); its complaints while Slack is away are condensed the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.wiring import StartupError

log = logging.getLogger(__name__)

# Slack's answers that mean "later", not "this token is refused"; and the errors of a Slack out of reach.
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)
APP_TOKEN_HELP = (
    "generate an App-Level Token with connections:write (Slack app settings → Basic Information → App-Level "
    "Tokens), make sure Socket Mode is on, and set it in SLACK_APP_TOKEN"
)


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code, or the HTTP status when what answered was not Slack's JSON."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"


class OncePer(logging.Filter):
    """Lets one warning or error through per ``interval`` seconds, without its traceback; quieter records pass."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval, self._clock = interval, clock
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class SocketModeLink:
    """Connects Aprova to Slack in Socket Mode, and keeps it connected.

    Args:
        bolt_app: The app whose listeners answer what arrives.
        app_token: ``SLACK_APP_TOKEN``.
        api_url: ``SLACK_API_URL``.
        retry_every: Seconds between attempts while Slack does not answer.
        warn_every: Seconds between two warnings about it.
        clock: Monotonic seconds (a test's fake clock).
        sleep: How to wait (a test's fake sleep).
    """

    def __init__(
        self,
        bolt_app: AsyncApp,
        *,
        app_token: str,
        api_url: str,
        retry_every: float = 5.0,
        warn_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._app_token, self._api_url = app_token, api_url
        self._retry_every, self._warn_every = retry_every, warn_every
        self._clock, self._sleep = clock, sleep
        self._web = AsyncWebClient(base_url=api_url, timeout=10, retry_handlers=[])  # retried here, said once
        sdk_log = logging.getLogger("bot.socket_mode.slack_sdk")
        if not any(isinstance(f, OncePer) for f in sdk_log.filters):
            sdk_log.addFilter(OncePer(warn_every, clock))
        self._handler = AsyncSocketModeHandler(
            bolt_app, app_token, logger=sdk_log, web_client=AsyncWebClient(base_url=api_url)
        )

    async def connect(self) -> None:
        """Return once connected.

        Raises:
            StartupError: Slack refuses the app token (the message names SLACK_APP_TOKEN and the fix).
        """
        warned_at: float | None = None
        while True:
            try:
                opened = await self._web.apps_connections_open(app_token=self._app_token)
            except SlackApiError as exc:
                error = slack_error(exc)
                if exc.response.status_code >= 500 or error in TRANSIENT:
                    problem = f"Slack answered {error}"
                elif not isinstance(exc.response.data, dict):
                    raise StartupError(
                        f"SLACK_API_URL: {self._api_url} answered {error}, not like Slack's Web API → leave "
                        "SLACK_API_URL unset (https://slack.com/api/) or correct it"
                    ) from None
                else:
                    raise StartupError(f"SLACK_APP_TOKEN: Slack refuses it ({error}) → {APP_TOKEN_HELP}") from None
            except UNREACHABLE as exc:
                problem = f"Slack did not answer ({str(exc) or type(exc).__name__})"
            else:
                self._handler.client.wss_uri = opened["url"]
                await self._handler.connect_async()  # type: ignore[no-untyped-call]
                log.info("connected to Slack in Socket Mode")
                return
            now = self._clock()
            if warned_at is None or now - warned_at >= self._warn_every:
                log.warning(
                    "cannot connect to Slack in Socket Mode at %s: %s; retrying every %g s (said every %g s)",
                    self._api_url,
                    problem,
                    self._retry_every,
                    self._warn_every,
                )
                warned_at = now
            await self._sleep(self._retry_every)

    async def close(self) -> None:
        await self._handler.close_async()  # type: ignore[no-untyped-call]
