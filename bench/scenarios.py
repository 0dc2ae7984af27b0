"""The measurements of Aprova serving Slack, each beside its floor measured in the same run: button clicks, modal
submissions at rising rates (one process on SQLite; two on PostgreSQL), submissions while Slack rate-limits, and the
Home tab over a large backlog.

Every end-to-end figure is read at the Slack stand-in: from the moment a request left the load generator to the
arrival of the Slack call that shows its outcome (the approver's DM, its update, the Home tab)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench import interactions as people
from bench.home import seed_pending
from bench.load import Sent, SlackRequest, distribution, open_loop, ratio, send
from bench.postgres import fresh_database
from bench.processes import Child
from bench.rig import Rig, slack_events
from bench.standin import RecordedCall, markers_in

ACK_P99_TARGET_MS = 250
CLICK_TO_DM_P99_TARGET_MS = 1000
CPU_PER_SUBMISSION_TARGET_MS = 12
DM_WITH_429_P99_TARGET_MS = 2000
HOME_P99_TARGET_MS = 150
SWEEP_RATES = (10, 20, 40, 60)
POSTGRES_RATES = (50, 100)
CLICK_RATE = 100
FAULTY_RATE = 20
PREPARATION_RATE = 20  # the requests later clicked on are filed at a pace one process takes easily

Report = dict[str, Any]
Done = Callable[[list[RecordedCall]], bool]


STARTED = time.monotonic()


def note(message: str) -> None:
    """Progress on stderr (the report alone goes to stdout), with the seconds since the start."""
    print(f"bench [{time.monotonic() - STARTED:6.1f} s]: {message}", file=sys.stderr, flush=True)


@dataclass
class Phase:
    """One burst of load against some processes: what came back, what Slack was asked, the CPU they spent."""

    sent: list[Sent]
    calls: list[RecordedCall]
    cpu_seconds: float

    def ack(self) -> dict[str, float] | None:
        return distribution([s.latency_ms for s in self.sent])

    @property
    def unacknowledged(self) -> int:
        return sum(1 for s in self.sent if not s.acknowledged)

    @property
    def cpu_ms_per_request(self) -> float:
        return round(self.cpu_seconds * 1000 / len(self.sent), 2)


async def measure(
    rig: Rig,
    targets: Sequence[Child],
    requests: Sequence[SlackRequest],
    *,
    rate: float,
    done: Done | None = None,
    give_up: float | None = None,
) -> Phase:
    """Send ``requests`` open-loop at ``rate`` to ``targets`` in turn; wait until the Slack calls they cause are in
    (``done``) and the stand-in has been quiet a moment, so the CPU figure holds the work after the acks too."""
    since = await rig.standin.mark()
    cpu_before = sum(t.cpu_seconds() for t in targets)
    sent = await open_loop(rig.load, [slack_events(t) for t in targets], requests, rate=rate)
    calls = await rig.standin.wait(
        since, done or (lambda calls: True), settle=rig.options.settle, give_up=give_up or rig.options.give_up
    )
    return Phase(sent, calls, sum(t.cpu_seconds() for t in targets) - cpu_before)


def ack_figures(aprova: Phase, bare: Phase) -> Report:
    aprova_ack, bare_ack = aprova.ack(), bare.ack()
    return {
        "requests": len(aprova.sent),
        "ack": {
            "aprova": aprova_ack,
            "bare_bolt": bare_ack,
            "p50_ratio_to_bare": ratio(_p(aprova_ack, "p50_ms"), _p(bare_ack, "p50_ms")),
            "p99_ratio_to_bare": ratio(_p(aprova_ack, "p99_ms"), _p(bare_ack, "p99_ms")),
        },
        "unacknowledged": {"aprova": aprova.unacknowledged, "bare_bolt": bare.unacknowledged},
        "cpu_ms_per_request": {"aprova": aprova.cpu_ms_per_request, "bare_bolt": bare.cpu_ms_per_request},
    }


def _p(figures: dict[str, float] | None, key: str) -> float | None:
    return None if figures is None else figures[key]


# --------------------------------------------------------------------------- what the stand-in saw


class Delivered:
    """Successful ``chat.postMessage`` calls by the marker they carry: to the approver's DM, and tracking messages."""

    def __init__(self, calls: list[RecordedCall], approver_channels: set[str]) -> None:
        self.to_approver: dict[str, list[RecordedCall]] = defaultdict(list)
        self.tracking: dict[str, list[RecordedCall]] = defaultdict(list)
        for call in calls:
            if call.method != "chat.postMessage" or not call.ok or call.args.get("thread_ts"):
                continue
            channel = call.args.get("channel")
            kept = self.to_approver if channel in approver_channels else self.tracking
            if kept is self.tracking and channel != people.REQUESTS_CHANNEL:
                continue
            for found in call.markers:
                kept[found].append(call)

    def dms_in(self, markers: Sequence[str]) -> bool:
        return all(m in self.to_approver for m in markers)

    def all_in(self, markers: Sequence[str]) -> bool:
        """Every request's approver DM and tracking message."""
        return self.dms_in(markers) and all(m in self.tracking for m in markers)


def once(by_marker: dict[str, list[RecordedCall]], markers: Sequence[str]) -> Report:
    counts = [len(by_marker.get(m, [])) for m in markers]
    return {
        "delivered_once": sum(1 for n in counts if n == 1),
        "missing": sum(1 for n in counts if n == 0),
        "duplicated": sum(1 for n in counts if n > 1),
    }


def to_approver_dm(sent: list[Sent], markers: Sequence[str], delivered: Delivered) -> dict[str, float] | None:
    """From each submission leaving to the first arrival of its DM to the approver (ms)."""
    latencies = []
    for submission, found in zip(sent, markers, strict=True):
        arrivals = [c.at for c in delivered.to_approver.get(found, []) if c.at >= submission.at]
        if arrivals:
            latencies.append((min(arrivals) - submission.at) * 1000)
    return distribution(latencies)


def refused(sent: list[Sent]) -> int:
    """Submissions Aprova answered with errors in the modal: the benchmark's requests must all be valid."""
    return sum(1 for s in sent if s.status == 200 and s.answer.strip())


async def approver_channels(rig: Rig) -> set[str]:
    """Where a DM to the approver may be addressed: their user id, or the DM channel itself."""
    return {people.APPROVER, await rig.standin.dm_channel(people.APPROVER)}


# --------------------------------------------------------------------------- submissions


async def submission_point(
    rig: Rig, aprova: Sequence[Child], submissions: people.Submissions, rate: float, *, with_floor_dm: bool = False
) -> Report:
    """Submissions at ``rate``: acks against the bare floor, CPU, the approver's DM and the tracking message."""
    count, channels = rig.options.count, await approver_channels(rig)
    bare = await measure(rig, [rig.bare], [r for _, r in submissions.make(count)], rate=rate)
    batch = submissions.make(count)
    markers = [m for m, _ in batch]
    phase = await measure(
        rig, aprova, [r for _, r in batch], rate=rate, done=lambda calls: Delivered(calls, channels).all_in(markers)
    )
    delivered = Delivered(phase.calls, channels)
    point = ack_figures(phase, bare) | {
        "refused": refused(phase.sent),
        "to_approver_dm": {"aprova": to_approver_dm(phase.sent, markers, delivered)}
        | once(delivered.to_approver, markers),
        "tracking_message": once(delivered.tracking, markers),
    }
    if with_floor_dm:
        floor_batch = submissions.make(count)
        floor_markers = [m for m, _ in floor_batch]
        floor = await measure(
            rig,
            [rig.bare_calling],
            [r for _, r in floor_batch],
            rate=rate,
            done=lambda calls: Delivered(calls, channels).dms_in(floor_markers),
        )
        floor_dm = to_approver_dm(floor.sent, floor_markers, Delivered(floor.calls, channels))
        point["to_approver_dm"]["bare_bolt_one_call"] = floor_dm
    return point


def sustains(point: Report) -> bool:
    return point["unacknowledged"]["aprova"] == 0 and (_p(point["ack"]["aprova"], "p99_ms") or 0) <= ACK_P99_TARGET_MS


async def submission_sweep(rig: Rig, aprova: Child, submissions: people.Submissions) -> Report:
    by_rate = {}
    for rate in SWEEP_RATES:
        note(f"modal submissions at {rate}/s, one process on SQLite")
        by_rate[f"{rate}_per_s"] = await submission_point(
            rig, [aprova], submissions, rate, with_floor_dm=rate == FAULTY_RATE
        )
    sustained = [rate for rate in SWEEP_RATES if sustains(by_rate[f"{rate}_per_s"])]
    slowest = by_rate[f"{SWEEP_RATES[0]}_per_s"]["cpu_ms_per_request"]["aprova"]
    top = by_rate[f"{SWEEP_RATES[-1]}_per_s"]
    return {
        "target": f"CPU per submission ≤ {CPU_PER_SUBMISSION_TARGET_MS} ms; one process sustains {SWEEP_RATES[-1]}/s "
        f"with 0 unacknowledged and ack p99 ≤ {ACK_P99_TARGET_MS} ms",
        "database": "sqlite",
        "processes": 1,
        "by_rate": by_rate,
        "highest_rate_sustained_per_s": max(sustained, default=None),
        f"cpu_ms_per_submission_at_{SWEEP_RATES[0]}_per_s": slowest,
        "target_met": slowest <= CPU_PER_SUBMISSION_TARGET_MS and sustains(top),
    }


async def submissions_with_429(rig: Rig, aprova: Child, submissions: people.Submissions, baseline: Report) -> Report:
    """Submissions at 20/s while the stand-in answers 10% of all calls ``429`` with ``Retry-After: 1``."""
    note(f"modal submissions at {FAULTY_RATE}/s with 10% of Slack calls answered 429")
    channels = await approver_channels(rig)
    batch = submissions.make(rig.options.count)
    markers = [m for m, _ in batch]
    await rig.standin.rate_limit_randomly(0.1, retry_after=1, seed=12)
    try:
        phase = await measure(
            rig,
            [aprova],
            [r for _, r in batch],
            rate=FAULTY_RATE,
            done=lambda calls: Delivered(calls, channels).all_in(markers),
        )
    finally:
        await rig.standin.rate_limit_randomly(0)
    delivered = Delivered(phase.calls, channels)
    dm = once(delivered.to_approver, markers)
    tracking = once(delivered.tracking, markers)
    latency = to_approver_dm(phase.sent, markers, delivered)
    return {
        "target": f"submission to the approver's DM p99 ≤ {DM_WITH_429_P99_TARGET_MS} ms at {FAULTY_RATE}/s with 10% "
        "of Slack calls answered 429 (Retry-After: 1); every message delivered exactly once",
        "rate_per_s": FAULTY_RATE,
        "requests": len(phase.sent),
        "slack_calls": len(phase.calls),
        "slack_calls_answered_429": sum(1 for c in phase.calls if c.error == "ratelimited"),
        "ack": {"aprova": phase.ack(), "without_429": baseline["ack"]["aprova"]},
        "unacknowledged": phase.unacknowledged,
        "refused": refused(phase.sent),
        "cpu_ms_per_request": {
            "aprova": phase.cpu_ms_per_request,
            "without_429": baseline["cpu_ms_per_request"]["aprova"],
        },
        "to_approver_dm": {"aprova": latency, "without_429": baseline["to_approver_dm"]["aprova"]} | dm,
        "tracking_message": tracking,
        "target_met": (_p(latency, "p99_ms") or float("inf")) <= DM_WITH_429_P99_TARGET_MS
        and dm["delivered_once"] == tracking["delivered_once"] == len(markers),
    }


async def postgres_two_processes(rig: Rig, admin_url: str) -> Report:
    """Two ``python -m bot`` on one PostgreSQL database, the load sent to each in turn."""
    async with fresh_database(admin_url) as url:
        if url is None:
            return {"skipped": "PostgreSQL is not reachable"}
        note("two Aprova processes on PostgreSQL")
        await rig.migrate(url)
        first, second = await asyncio.gather(
            rig.start_aprova("aprova-postgres-1", url), rig.start_aprova("aprova-postgres-2", url)
        )
        submissions = await rig.submissions(first)
        try:
            by_rate = {}
            for rate in POSTGRES_RATES:
                note(f"modal submissions at {rate}/s, two processes on PostgreSQL")
                by_rate[f"{rate}_per_s"] = await submission_point(rig, [first, second], submissions, rate)
            memory = [first.peak_rss_mib(), second.peak_rss_mib()]
        finally:
            await rig.children.stop(first)
            await rig.children.stop(second)
    return {
        "target": f"two processes on PostgreSQL sustain {POSTGRES_RATES[-1]}/s with 0 unacknowledged and ack p99 ≤ "
        f"{ACK_P99_TARGET_MS} ms",
        "database": "postgresql",
        "processes": 2,
        "by_rate": by_rate,
        "peak_rss_mib": memory,
        "target_met": sustains(by_rate[f"{POSTGRES_RATES[-1]}_per_s"]),
    }


# --------------------------------------------------------------------------- clicks


async def pending_approvals(rig: Rig, aprova: Child, submissions: people.Submissions, count: int) -> list[Any]:
    """``count`` requests filed through Aprova, and the approver's DM of each as the stand-in keeps it."""
    channels = await approver_channels(rig)
    batch = submissions.make(count)
    markers = [m for m, _ in batch]
    phase = await measure(
        rig,
        [aprova],
        [r for _, r in batch],
        rate=PREPARATION_RATE,
        done=lambda calls: Delivered(calls, channels).all_in(markers),
        give_up=60,  # nothing is failed on purpose here: whatever is slow is still coming
    )
    if not Delivered(phase.calls, channels).dms_in(markers):
        raise RuntimeError("Aprova did not send every approver's DM the clicks need")
    dm = await rig.standin.dm_channel(people.APPROVER)
    by_marker: dict[str, dict[str, Any]] = {}
    for message in await rig.standin.messages(dm):
        if not message.get("thread_ts"):
            by_marker.update((found, message) for found in markers_in(message))
    return [by_marker[m] for m in markers]


async def button_clicks(rig: Rig, aprova: Child, submissions: people.Submissions) -> Report:
    """Approve clicks at 100/s, each on its own pending request: ack, CPU, and the approver's DM updated."""
    count = rig.options.clicks
    note(f"filing {count} requests to click on")
    messages = await pending_approvals(rig, aprova, submissions, count)
    targets = [(m["channel"], m["ts"]) for m in messages]
    clicks = [people.approve_click(m) for m in messages]
    note(f"approve clicks at {CLICK_RATE}/s")

    def all_updated(calls: list[RecordedCall]) -> bool:
        return set(targets) <= updates(calls).keys()

    bare = await measure(rig, [rig.bare], clicks, rate=CLICK_RATE)
    floor = await measure(rig, [rig.bare_calling], clicks, rate=CLICK_RATE, done=all_updated)
    phase = await measure(rig, [aprova], clicks, rate=CLICK_RATE, done=all_updated)
    aprova_update = dm_updated(phase, targets)
    figures = ack_figures(phase, bare)
    return (
        {
            "target": f"ack p99 ≤ 2× the bare Bolt floor; approver's DM updated p99 ≤ {CLICK_TO_DM_P99_TARGET_MS} ms",
            "rate_per_s": CLICK_RATE,
        }
        | figures
        | {
            "to_approver_dm_updated": {
                "aprova": aprova_update,
                "bare_bolt_one_call": dm_updated(floor, targets),
                "missing": len(set(targets) - updates(phase.calls).keys()),
            },
            "target_met": (figures["ack"]["p99_ratio_to_bare"] or float("inf")) <= 2
            and (_p(aprova_update, "p99_ms") or float("inf")) <= CLICK_TO_DM_P99_TARGET_MS,
        }
    )


def updates(calls: list[RecordedCall]) -> dict[tuple[str, str], list[float]]:
    """When each message (channel, ts) was successfully changed by ``chat.update``."""
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for call in calls:
        if call.method == "chat.update" and call.ok:
            found[(str(call.args.get("channel")), str(call.args.get("ts")))].append(call.at)
    return found


def dm_updated(phase: Phase, targets: list[tuple[str, str]]) -> dict[str, float] | None:
    """From each click leaving to the first ``chat.update`` of the message it was on (ms)."""
    changed = updates(phase.calls)
    latencies = []
    for click, target in zip(phase.sent, targets, strict=True):
        after = [at for at in changed.get(target, []) if at >= click.at]
        if after:
            latencies.append((min(after) - click.at) * 1000)
    return distribution(latencies)


# --------------------------------------------------------------------------- Home tab


HOME_VIEWERS = {
    "nothing_waiting": people.BYSTANDER,
    "requester_of_all": people.REQUESTER,
    "approver_of_all": people.APPROVER,
    "finance_admin": people.FINANCE_ADMIN,
}


async def open_home(rig: Rig, target: Child, user_id: str) -> float | None:
    """One Home tab open, alone: from the event leaving to the stand-in receiving its ``views.publish`` (ms)."""
    since = await rig.standin.mark()

    def published(calls: list[RecordedCall]) -> list[RecordedCall]:
        return [c for c in calls if c.method == "views.publish" and c.ok and c.args.get("user_id") == user_id]

    sent = await send(rig.load, slack_events(target), people.home_opened(user_id))
    calls = await rig.standin.wait(
        since, lambda calls: bool(published(calls)), settle=0, give_up=60, timeout=60, poll=0.02
    )
    found = published(calls)
    return (found[0].at - sent.at) * 1000 if found else None


async def home_tab(rig: Rig) -> Report:
    """The Home tab opened one at a time by people with nothing, everything or the admin panel to see."""
    pending, opens = rig.options.home_pending, rig.options.home_opens
    url = f"sqlite:///{rig.workdir / 'home.db'}"
    await rig.migrate(url)
    note(f"seeding {pending} pending requests through the ledger")
    await seed_pending(url, pending)
    aprova = await rig.start_aprova("aprova-home", url)
    try:
        note(f"opening the Home tab {opens} times for each of {len(HOME_VIEWERS)} people")
        by_viewer: Report = {}
        for label, user_id in HOME_VIEWERS.items():
            await open_home(rig, aprova, user_id)  # the person's profile, fetched once per process
            cpu_before = aprova.cpu_seconds()
            latencies = [await open_home(rig, aprova, user_id) for _ in range(opens)]
            cpu = aprova.cpu_seconds() - cpu_before
            by_viewer[label] = {
                "aprova": distribution([v for v in latencies if v is not None]),
                "not_published": sum(1 for v in latencies if v is None),
                "cpu_ms_per_open": round(cpu * 1000 / opens, 2),
            }
        await open_home(rig, rig.bare_calling, people.BYSTANDER)
        floor = [await open_home(rig, rig.bare_calling, people.BYSTANDER) for _ in range(opens)]
        memory = aprova.peak_rss_mib()
    finally:
        await rig.children.stop(aprova)
    worst = max((_p(v["aprova"], "p99_ms") or float("inf")) for v in by_viewer.values())
    return {
        "target": f"App Home open with {pending} pending requests: p99 ≤ {HOME_P99_TARGET_MS} ms",
        "pending_requests": pending,
        "opens_per_person": opens,
        "open_to_views_publish": by_viewer | {"bare_bolt_one_call": distribution([v for v in floor if v is not None])},
        "worst_p99_ms": worst,
        "aprova_peak_rss_mib": memory,
        "target_met": worst <= HOME_P99_TARGET_MS,
    }
