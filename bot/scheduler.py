"""The app's periodic jobs on APScheduler 3 (``AsyncIOScheduler`` in UTC), started and stopped with the app.

The scheduler only decides *when*. Each job is a plain ``async def (deps, client)`` that tests call directly,
moving the injected clock instead of sleeping. Every instance runs the same schedule in its own memory job
store (APScheduler 3 stores must never be shared), so every job is safe to run twice at once: a reminder and
an escalation are compare-and-set on their step, the digest claims its day in ``job_runs``, a token
refresh is single-flight on the connection row, and the purge deletes by age.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta
from functools import partial
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.digest import build_digest
from bot.deps import Deps
from bot.notifier import alert_needs_reconnect
from bot.people import SlackDirectory
from ledger import jobs
from ledger.errors import ConnectionNeedsReconnect, GatewayError, NotConnected

log = logging.getLogger(__name__)

JobFunction = Callable[[Deps, AsyncWebClient], Awaitable[object]]

TOKEN_REFRESH_JOB = "contaazul-token-refresh"
REMINDERS_JOB = "approval-reminders"
ESCALATION_JOB = "approval-escalation"
DIGEST_JOB = "daily-digest"
PURGE_JOB = "bookkeeping-purge"

TOKEN_REFRESH_EVERY = timedelta(minutes=10)
TOKEN_REFRESH_WITHIN = timedelta(minutes=15)  # > the interval, so no token expires between two runs
NUDGE_EVERY = timedelta(minutes=5)
PURGE_EVERY = timedelta(hours=1)


async def refresh_expiring_tokens(deps: Deps, client: AsyncWebClient) -> list[str]:
    """Refresh each Conta Azul connection expiring within 15 minutes, so no request waits on a refresh.

    A refresh token Conta Azul refuses, or tokens no configured key decrypts, mark the connection
    ``needs_reconnect`` and alert the finance admins once; it is not tried again. A connection marked so without
    its admins being told (by ``rotate-key``) is announced here.

    Returns:
        The teams whose token is now valid for at least 15 minutes.
    """
    if deps.contaazul is None:
        return []
    for team_id in await jobs.reconnects_untold(deps.session_factory):
        await alert_needs_reconnect(client, deps, team_id)
    refreshed: list[str] = []
    for team_id in await jobs.connections_expiring(deps.session_factory, clock=deps.clock, within=TOKEN_REFRESH_WITHIN):
        try:
            await deps.contaazul.tokens.access_token(team_id, min_validity=TOKEN_REFRESH_WITHIN)
        except ConnectionNeedsReconnect:
            await alert_needs_reconnect(client, deps, team_id)
        except NotConnected:
            continue  # disconnected since the query
        except GatewayError as exc:
            log.warning("conta azul token refresh for team %s failed; next run retries: %s", team_id, exc)
        else:
            refreshed.append(team_id)
    return refreshed


async def send_reminders(deps: Deps, client: AsyncWebClient) -> int:
    """Remind the approvers of each step open for longer than APROVA_REMIND_AFTER_HOURS, once per step.

    Returns:
        How many steps this call reminded (another instance may have taken the others).
    """
    to_remind: list[jobs.DueStep] = []
    for team_id in await jobs.digest_teams(deps.session_factory):
        rules = await deps.ledger.rules(team_id)  # the times may have been changed in Slack
        found, _ = await jobs.due_reminders(
            deps.session_factory,
            clock=deps.clock,
            remind_after=timedelta(hours=rules.remind_after_hours),
            escalate_after=timedelta(hours=rules.escalate_after_hours),
            team_id=team_id,
        )
        to_remind += found
    reminded = 0
    for due in to_remind:
        hours = _hours(due.waiting)
        if not await jobs.mark_reminded(deps.session_factory, clock=deps.clock, step_id=due.step.id, hours=hours):
            continue
        deps.wake_deliveries()
        reminded += 1
    return reminded


async def escalate_waiting_steps(deps: Deps, client: AsyncWebClient) -> int:
    """Add the policy's fallback approvers to each step open for longer than APROVA_ESCALATE_AFTER_HOURS, once.

    Returns:
        How many steps this call escalated to somebody.
    """
    escalated = 0
    for team_id in await jobs.digest_teams(deps.session_factory):
        rules = await deps.ledger.rules(team_id)
        _, to_escalate = await jobs.due_reminders(
            deps.session_factory,
            clock=deps.clock,
            remind_after=timedelta(hours=rules.remind_after_hours),
            escalate_after=timedelta(hours=rules.escalate_after_hours),
            team_id=team_id,
        )
        if to_escalate:
            fallback = tuple(await rules.policy.fallback_approvers(SlackDirectory(client)))
            escalated += await _escalate(deps, client, to_escalate, fallback)
    return escalated


async def _escalate(
    deps: Deps, client: AsyncWebClient, to_escalate: list[jobs.DueStep], fallback: tuple[str, ...]
) -> int:
    escalated = 0
    for due in to_escalate:
        added = await jobs.escalate(
            deps.session_factory, clock=deps.clock, step_id=due.step.id, fallback=fallback, hours=_hours(due.waiting)
        )
        if added is None:
            continue
        log.info("request %s escalated to %s", due.request.reference, ", ".join(added))
        deps.wake_deliveries()
        escalated += 1
    return escalated


async def post_daily_digest(deps: Deps, client: AsyncWebClient, *, owner: str) -> bool:
    """Post yesterday's digest to APROVA_FINANCE_CHANNEL, once per day whatever the number of instances.

    Returns:
        Whether this call posted it (False without a finance channel, or when another instance did).
    """
    settings = deps.settings
    if not settings.finance_channel:
        return False
    day = deps.clock.now().astimezone(settings.timezone).date() - timedelta(days=1)
    if not await jobs.claim_run(
        deps.session_factory, clock=deps.clock, name="daily_digest", run_key=day.isoformat(), owner=owner
    ):
        return False
    for team_id in await jobs.digest_teams(deps.session_factory):
        digest = await jobs.daily_digest(
            deps.session_factory, clock=deps.clock, team_id=team_id, day=day, tz=settings.timezone
        )
        text, blocks = build_digest(digest, locale=deps.default_locale, tz=settings.timezone)
        try:
            await client.chat_postMessage(channel=settings.finance_channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            log.error("could not post the digest of %s for team %s: %s", day, team_id, exc.response.get("error"))
    return True


async def purge_bookkeeping(deps: Deps, client: AsyncWebClient) -> dict[str, int]:
    """Drop the replay keys, OAuth states and job runs past their use (``ledger.jobs.purge_bookkeeping``).

    Returns:
        How many rows went, by table.
    """
    purged = await jobs.purge_bookkeeping(deps.session_factory, clock=deps.clock)
    if any(purged.values()):
        log.info("purged old bookkeeping rows: %s", ", ".join(f"{t} {n}" for t, n in purged.items() if n))
    return purged


class Scheduler:
    """Aprova's jobs on an ``AsyncIOScheduler``; ``start()`` and ``shutdown()`` run inside the app's loop."""

    def __init__(self, deps: Deps, client: AsyncWebClient, *, owner: str | None = None) -> None:
        self.deps, self.client = deps, client
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        self._running: set[asyncio.Task[Any]] = set()
        settings = deps.settings
        if deps.contaazul is not None:
            self._add(TOKEN_REFRESH_JOB, refresh_expiring_tokens, _every(TOKEN_REFRESH_EVERY), 300)
        self._add(REMINDERS_JOB, send_reminders, _every(NUDGE_EVERY), 120)
        self._add(ESCALATION_JOB, escalate_waiting_steps, _every(NUDGE_EVERY), 120)
        self._add(PURGE_JOB, purge_bookkeeping, _every(PURGE_EVERY), 3600)
        if settings.finance_channel:
            digest = partial(post_daily_digest, owner=self.owner)
            trigger = CronTrigger(hour=settings.digest_hour, minute=0, timezone=settings.timezone)
            self._add(DIGEST_JOB, digest, trigger, 3600)

    def get_jobs(self) -> list[Any]:
        return list(self.scheduler.get_jobs())

    def start(self) -> None:
        self.scheduler.start()
        log.info("scheduler started: %s", ", ".join(job.id for job in self.get_jobs()))

    async def shutdown(self) -> None:
        """Stop scheduling, then cancel and await any job still running, so nothing outlives the app."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler stops on the loop's next turn
        running = [task for task in self._running if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _add(self, job_id: str, function: JobFunction, trigger: Any, misfire_grace_seconds: int) -> None:
        self.scheduler.add_job(
            self._run,
            trigger,
            args=[function],
            id=job_id,
            name=job_id,
            replace_existing=True,
            misfire_grace_time=misfire_grace_seconds,
        )

    async def _run(self, function: JobFunction) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await function(self.deps, self.client)
        finally:
            if task is not None:
                self._running.discard(task)


def _every(interval: timedelta) -> IntervalTrigger:
    return IntervalTrigger(seconds=int(interval.total_seconds()), timezone=UTC)


def _hours(waiting: timedelta) -> int:
    return int(waiting.total_seconds() // 3600)
