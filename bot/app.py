"""Builds the Bolt app: deps in the context, Slack retries deduplicated, every handler registered."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import Listeners, handle_bolt_error
from bot.handlers import register_handlers
from bot.middleware import provide_actor
from ledger import flows

log = logging.getLogger(__name__)


def build_bolt_app(deps: Deps, *, http: aiohttp.ClientSession | None = None) -> tuple[AsyncApp, Listeners]:
    """The Bolt app, and its listeners (to wait for them). ``http``: one connection pool for every Slack Web API
    call (without it, each call opens one)."""
    settings = deps.settings
    # Listeners call Slack before they answer (users.info, usergroups.users.list, views.open): one retry on a dropped
    # connection, and one after Slack's Retry-After, rather than a failed click.
    retries = [AsyncConnectionErrorRetryHandler(max_retry_count=1), AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    client = AsyncWebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, session=http, retry_handlers=retries
    )
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode has no HTTP signature to check; HTTP mode always verifies it.
        request_verification_enabled=settings.slack_signing_secret is not None,
        process_before_response=False,
    )

    @app.middleware
    async def provide_deps(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["deps"] = deps
        await next()

    @app.middleware
    async def skip_repeated_events(
        body: dict[str, Any], request: AsyncBoltRequest, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Events API deliveries are at-least-once: handle each event id once, whatever the retry count."""
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not await flows.claim_delivery(
            deps.session_factory, key=f"event:{event_id}", clock=deps.clock
        ):
            retry = request.headers.get("x-slack-retry-num", [None])[0]
            log.info("skipping repeated delivery of %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        await next()
        return None

    app.middleware(provide_actor)
    listeners = Listeners(app)
    register_handlers(listeners, settings)
    app.error(handle_bolt_error)
    return app, listeners
