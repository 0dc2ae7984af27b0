"""Runs the posting worker inside the app and tells Slack what each attempt did."""

from __future__ import annotations

import logging
import socket
import uuid

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import BackgroundLoop
from bot.blocks.posting_messages import (
    build_failed_reply,
    build_finance_failure,
    build_finance_mismatch,
    build_posted_reply,
)
from bot.deps import Deps
from bot.notifier import Notifier, alert_needs_reconnect
from ledger.outbox import COUNTERPARTY_MISMATCH, PostingResult, claim_announcements, mark_announced
from ledger.posting import PostingWorker

log = logging.getLogger(__name__)


class PostingLoop(BackgroundLoop):
    """Drains the outbox at start-up, whenever woken (a final approval, a Retry), and every second."""

    name = "posting-loop"

    def __init__(self, deps: Deps, client: AsyncWebClient, *, owner: str | None = None) -> None:
        super().__init__()
        self.deps, self.client = deps, client
        self.worker = PostingWorker(
            deps.session_factory,
            clock=deps.clock,
            books=deps.contaazul,
            owner=owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}",
            lease=deps.settings.posting_lease,
        )

    async def run_pass(self) -> list[PostingResult]:
        return await self.drain_and_notify()

    async def drain_and_notify(self) -> list[PostingResult]:
        """Post everything due, batch by batch, telling Slack each batch's outcomes as soon as they are committed."""
        results: list[PostingResult] = []
        while True:
            batch = await self.worker.run_once()
            results.extend(batch)
            await self.announce()  # also what a process that died before telling left unannounced
            if not batch or self._stopping:
                return results

    async def announce(self) -> None:
        deps = self.deps
        for result in await claim_announcements(deps.session_factory, clock=deps.clock):
            await self.notify(result)
            await mark_announced(deps.session_factory, clock=deps.clock, posting_id=result.posting.id)

    async def notify(self, result: PostingResult) -> None:
        request, posting = result.request, result.posting
        notifier = Notifier(self.client, self.deps)
        locale = await notifier.tracking_locale(request)
        await notifier.refresh_tracking(request)
        if result.outcome == "posted":
            await notifier.reply_in_thread(request, build_posted_reply(request, posting, locale=locale))
            if posting.error_code == COUNTERPARTY_MISMATCH:
                await self._tell_finance(result)
            return
        await notifier.reply_in_thread(request, build_failed_reply(request, posting, locale=locale))
        if posting.error_code == "needs_reconnect":
            await alert_needs_reconnect(self.client, self.deps, request.team_id)
        await self._tell_finance(result)

    async def _tell_finance(self, result: PostingResult) -> None:
        settings = self.deps.settings
        targets = [settings.finance_channel] if settings.finance_channel else list(settings.finance_admins)
        for target in targets:
            is_channel = target == settings.finance_channel
            locale = self.deps.default_locale if is_channel else await self.deps.people.get(self.client, target)
            build = build_finance_mismatch if result.outcome == "posted" else build_finance_failure
            text, blocks = build(result.request, result.posting, locale=locale)
            try:
                await self.client.chat_postMessage(channel=target, text=text, blocks=blocks)
            except SlackApiError as exc:
                log.error("could not tell %s about a posting: %s", target, exc.response.get("error"))
