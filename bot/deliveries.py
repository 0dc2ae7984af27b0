"""The delivery worker: sends the notification outbox (``ledger.notifications``) to Slack, in every instance.

Woken when a listener or a job commits an event, and every second for what is due again. Each claimed event is
sent by the notifier under a lease; one request's events go out in order, other requests' in parallel. Slack's
``429`` pauses the event for the ``Retry-After`` it gives; Slack unavailable or a dropped
connection backs off with jitter; an event still failing after a day is given up, audited and logged. Per-channel
pacing keeps each channel within Slack's ~1 message a second (short bursts allowed) without holding other channels.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.background import BackgroundLoop
from bot.deps import Deps
from bot.notifier import Notifier, RetryLater
from ledger import RequestNotFound, flows, notifications
from ledger.notifications import NotificationView

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
BACKOFF_CAP_SECONDS = 300.0
GIVE_UP_AFTER = timedelta(hours=24)


@dataclass
class ChannelPacer:
    """A token bucket per channel: ``burst`` messages at once, then ``per_second``."""

    per_second: float = 1.0
    burst: int = 4
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict)  # channel → (tokens, at)

    def take(self, channel: str, now: float) -> float:
        """0 when a message may go now (and counts it), else the seconds until it may."""
        tokens, at = self._tokens.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens >= 1:
            self._tokens[channel] = (tokens - 1, now)
            return 0.0
        self._tokens[channel] = (tokens, now)
        return (1 - tokens) / self.per_second


@dataclass
class _EventDelivery:
    """One claimed event: what the notifier needs to send it exactly once (``bot.notifier.Delivery``)."""

    worker: DeliveryWorker
    notification: NotificationView

    async def remember(self, key: str, value: dict[str, Any]) -> None:
        deps = self.worker.deps
        kept = await notifications.record_progress(
            deps.session_factory,
            clock=deps.clock,
            notification_id=self.notification.id,
            owner=self.worker.owner,
            key=key,
            value=value,
        )
        if not kept:
            raise RetryLater(0, "lease lost")  # another worker took the event over: it goes on from here
        self.notification.progress[key] = value

    def pace(self, channel: str) -> None:
        if channel and (wait := self.worker.pacer.take(channel, self.worker.deps.clock.now().timestamp())) > 0:
            raise RetryLater(wait, f"pacing {channel}")


class DeliveryWorker(BackgroundLoop):
    name = "delivery-loop"
    stop_grace_seconds = 10.0

    def __init__(
        self,
        deps: Deps,
        client: AsyncWebClient,
        *,
        owner: str | None = None,
        pacer: ChannelPacer | None = None,
        concurrency: int = 8,
    ) -> None:
        super().__init__()
        self.deps, self.client = deps, client
        self.owner = owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.pacer = pacer or ChannelPacer(burst=deps.settings.slack_channel_burst)
        self.concurrency = concurrency

    async def run_pass(self) -> int:
        return await self.drain()

    async def drain(self) -> int:
        """Send every event due now, batch after batch; returns how many were handled."""
        handled = 0
        while not self._stopping and (batch := await self.run_once()):
            handled += batch
        return handled

    async def run_once(self) -> int:
        deps = self.deps
        claimed = await notifications.claim(
            deps.session_factory, clock=deps.clock, owner=self.owner, lease=LEASE, limit=self.concurrency
        )
        if claimed:
            await asyncio.gather(*(self._send(n) for n in claimed))
        return len(claimed)

    async def _send(self, notification: NotificationView) -> None:
        deps = self.deps
        try:
            if notification.request_id is not None:
                request = await deps.ledger.request(notification.request_id)
                delivery = _EventDelivery(self, notification)
                await Notifier(self.client, deps, delivery).tell(notification.event, request, notification.payload)
        except RequestNotFound:
            pass  # deleted since: nobody left to tell
        except RetryLater as later:
            await self._retry(notification, later.after, later.reason)
            return
        except Exception as exc:  # a bug or an outage of ours: logged with its trace, tried again with a backoff
            log.exception("could not send notification %s (%s)", notification.id, notification.event)
            await self._retry(notification, 0, type(exc).__name__)
            return
        await notifications.finish(
            deps.session_factory, clock=deps.clock, notification_id=notification.id, owner=self.owner
        )

    async def _retry(self, notification: NotificationView, after: float, reason: str) -> None:
        deps = self.deps
        now = deps.clock.now()
        if now - notification.created_at > GIVE_UP_AFTER:
            log.error(
                "gave up notification %s (%s) of request %s: %s",
                notification.id,
                notification.event,
                notification.request_id,
                reason,
            )
            await notifications.give_up(
                deps.session_factory, clock=deps.clock, notification_id=notification.id, owner=self.owner, error=reason
            )
            await flows.audit(
                deps.session_factory,
                clock=deps.clock,
                team_id=notification.team_id,
                actor_id=None,
                action="notification_given_up",
                request_id=notification.request_id,
                event=notification.event.value,
                error=reason,
            )
            return
        if after <= 0:  # no word from Slack on when: back off, with jitter so instances do not retry in step
            jitter = random.Random(f"{notification.id}:{notification.attempts}").uniform(0.5, 1.0)  # repeatable
            after = min(BACKOFF_CAP_SECONDS, 2.0 ** min(notification.attempts, 8)) * jitter
        log.info("notification %s (%s) again in %.0f s: %s", notification.id, notification.event, after, reason)
        await notifications.retry_later(
            deps.session_factory,
            clock=deps.clock,
            notification_id=notification.id,
            owner=self.owner,
            at=_later(now, after),
            error=reason,
        )


def _later(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
