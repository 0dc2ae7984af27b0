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
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.background import BackgroundLoop
from bot.deps import Deps
from bot.notifier import Notifier, RetryLater
from ledger import RequestView, flows, notifications
from ledger.notifications import Lease, NotificationStatus, NotificationView, Outcome

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
BACKOFF_CAP_SECONDS = 300.0
GIVE_UP_AFTER = timedelta(hours=24)
# Under load, a batch waits up to this long for the requests being answered to be acked first (an answer needs a few
# ms of the loop), then goes with half a batch. Short: at 100 clicks a second something is often being answered, and
# a longer wait capped the queue at a batch per wait (at 0.25 s the approvers' DMs were updated p99 1.9 s after the
# click; at 0.01 s with half batches, 0.1 s, with the acks faster too).
ANSWERS_FIRST_SECONDS = 0.01
# While handed events keep coming, the outbox is still looked at this often: what is due there (a retry after a 429,
# an event of another kind) must not wait for a pause in submissions.
OUTBOX_LOOK_EVERY_SECONDS = 0.25


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
    """One claimed event: what the notifier needs to send it exactly once (``bot.notifier.Delivery``).

    What it sends is kept here and written once, when the event settles: a worker that stops before that leaves the
    event ``resumed`` for the next one, which looks each unconfirmed message up instead of posting it again.
    """

    worker: DeliveryWorker
    notification: NotificationView  # its progress gathers what this attempt sent (the notifier reads it there)
    tracking: tuple[int, str, str] | None = None
    approval_messages: list[tuple[int, str, str, str]] = field(default_factory=list)

    def remember(self, key: str, value: dict[str, Any]) -> None:
        self.notification.progress[key] = value

    def remember_tracking(self, request_id: int, channel: str, ts: str) -> None:
        self.tracking = (request_id, channel, ts)

    def remember_approval_message(self, step_id: int, approver_id: str, channel: str, ts: str) -> None:
        self.approval_messages.append((step_id, approver_id, channel, ts))

    def pace(self, channel: str) -> None:
        if channel and (wait := self.worker.pacer.take(channel, self.worker.deps.clock.now().timestamp())) > 0:
            raise RetryLater(wait, f"pacing {channel}")

    def outcome(
        self, status: NotificationStatus, *, due_at: datetime | None = None, error: str | None = None
    ) -> Outcome:
        return Outcome(
            self.notification.id,
            status,
            self.notification.progress,
            due_at=due_at,
            error=error,
            tracking=self.tracking,
            approval_messages=self.approval_messages,
        )


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
        self.busy_concurrency = max(1, concurrency // 2)
        self._handed: deque[tuple[NotificationView, RequestView]] = deque()
        self.outbox_look_every = OUTBOX_LOOK_EVERY_SECONDS
        self._looked_at = float("-inf")  # when the outbox was last claimed from (monotonic)

    def lease(self) -> Lease:
        """A lease for an event stored by a listener of this process, as a claim would take it."""
        return Lease(self.owner, self.deps.clock.now() + LEASE)

    def hand_over(self, event: NotificationView, request: RequestView) -> None:
        """An event stored leased to this worker (``lease``), with the request as it was stored: sent in the next
        batch, before anything is claimed."""
        self._handed.append((event, request))
        self.wake()

    async def stop(self) -> None:
        await super().stop()
        await self._release_handed()

    async def run_pass(self) -> int:
        """Batch after batch while there may be more: a short batch whose requests have nothing more waiting ends
        the pass without one more look (what is added meanwhile wakes the loop)."""
        handled = 0
        while not self._stopping:
            batch, more = await self._batch()
            handled += batch
            if not more:
                break
        return handled

    async def drain(self) -> int:
        """Send every event due now, batch after batch; returns how many were handled."""
        handled = 0
        while not self._stopping and (batch := (await self._batch())[0]):
            handled += batch
        return handled

    async def _batch(self) -> tuple[int, bool]:
        """One batch sent; how many events, and whether more may be waiting (a full batch, or a later event of their
        requests)."""
        deps = self.deps
        # While answers keep coming, a smaller batch: it holds the event loop for less time at once.
        limit = self.concurrency if await deps.answering.quiet(ANSWERS_FIRST_SECONDS) else self.busy_concurrency
        handed = self._take_handed(limit)
        claimed = [event for event, _ in handed]
        requests = {request.id: request for _, request in handed}
        if not handed or time.monotonic() - self._looked_at >= self.outbox_look_every:
            self._looked_at = time.monotonic()
            due = await notifications.claim(
                deps.session_factory, clock=deps.clock, owner=self.owner, lease=LEASE, limit=max(1, limit - len(handed))
            )
            if due:
                claimed += due
                requests |= await deps.ledger.requests([n.request_id for n in due if n.request_id is not None])
        if not claimed:
            return 0, False
        outcomes = await asyncio.gather(*(self._send(n, requests.get(n.request_id or 0)) for n in claimed))
        settled = await notifications.settle(
            deps.session_factory, clock=deps.clock, owner=self.owner, outcomes=outcomes
        )
        lost = settled.lost
        for notification_id in lost:
            log.warning("notification %s was taken over by another worker before it settled here", notification_id)
        for notification, outcome in zip(claimed, outcomes, strict=True):
            if outcome.status is NotificationStatus.DEAD and notification.id not in lost:
                await flows.audit(
                    deps.session_factory,
                    clock=deps.clock,
                    team_id=notification.team_id,
                    actor_id=None,
                    action="notification_given_up",
                    request_id=notification.request_id,
                    event=notification.event.value,
                    error=outcome.error,
                )
        return len(claimed), len(claimed) >= limit or settled.followed or bool(self._handed)

    def _take_handed(self, limit: int) -> list[tuple[NotificationView, RequestView]]:
        """Up to ``limit`` handed events whose lease has at least half its time left. One that waited longer (an
        overloaded process) is left to be taken over when its lease runs out, as an event claimed and not settled:
        sending it this late could meet another worker sending it too."""
        taken: list[tuple[NotificationView, RequestView]] = []
        fresh_until = self.deps.clock.now() + LEASE / 2
        while self._handed and len(taken) < limit:
            event, request = self._handed.popleft()
            if event.leased_until is not None and event.leased_until >= fresh_until:
                taken.append((event, request))
            else:
                log.warning("notification %s waited too long to be sent here; left to its lease running out", event.id)
        return taken

    async def _release_handed(self) -> None:
        """On stop, the events handed over but not sent are given back, due now, for the next worker to take at
        once (nothing of them was sent)."""
        unsent = [event for event, _ in self._handed]
        self._handed.clear()
        if unsent:
            await notifications.settle(
                self.deps.session_factory,
                clock=self.deps.clock,
                owner=self.owner,
                outcomes=[Outcome(e.id, NotificationStatus.PENDING, e.progress) for e in unsent],
            )

    async def _send(self, notification: NotificationView, request: RequestView | None) -> Outcome:
        delivery = _EventDelivery(self, notification)
        try:
            if request is not None:  # None: deleted since, nobody left to tell
                await Notifier(self.client, self.deps, delivery).tell(notification.event, request, notification.payload)
        except RetryLater as later:
            return self._retry(delivery, later.after, later.reason)
        except Exception as exc:  # a bug or an outage of ours: logged with its trace, tried again with a backoff
            log.exception("could not send notification %s (%s)", notification.id, notification.event)
            return self._retry(delivery, 0, type(exc).__name__)
        return delivery.outcome(NotificationStatus.DONE)

    def _retry(self, delivery: _EventDelivery, after: float, reason: str) -> Outcome:
        notification = delivery.notification
        now = self.deps.clock.now()
        if now - notification.created_at > GIVE_UP_AFTER:
            log.error(
                "gave up notification %s (%s) of request %s: %s",
                notification.id,
                notification.event,
                notification.request_id,
                reason,
            )
            return delivery.outcome(NotificationStatus.DEAD, error=reason)
        if after <= 0:  # no word from Slack on when: back off, with jitter so instances do not retry in step
            jitter = random.Random(f"{notification.id}:{notification.attempts}").uniform(0.5, 1.0)  # repeatable
            after = min(BACKOFF_CAP_SECONDS, 2.0 ** min(notification.attempts, 8)) * jitter
        log.info("notification %s (%s) again in %.0f s: %s", notification.id, notification.event, after, reason)
        return delivery.outcome(NotificationStatus.PENDING, due_at=_later(now, after), error=reason)


def _later(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
