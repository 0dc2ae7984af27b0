"""``python -m bench``: Aprova as production runs it, each figure beside a baseline measured in the same run.

Aprova runs as ``python -m bot`` (HTTP mode, SQLite unless said), the Slack stand-in (``python -m bot.dev.localslack``)
and a bare Bolt app whose listeners only ack (``python -m bench.bare_bolt``, the floor) in processes of their own; the
load generator here sends signed Slack requests open-loop. Measured:

- button clicks at 100/s: ack latency against the floor, CPU per click, and the approver's DM updated;
- modal submissions at 10, 20, 40 and 60/s: ack, unacknowledged (no answer within Slack's 3 s), CPU per submission,
  and the time to the approver's DM; then at 20/s with the stand-in answering 10% of calls 429 (Retry-After: 1);
- two Aprova processes on PostgreSQL at 50 and 100/s;
- the Home tab opened over a backlog of pending requests written through the ledger beforehand;
- the posting drain against the Conta Azul sandbox's rate limit, and its scale-out to two worker processes.

Prints a JSON report on stdout (progress on stderr). ``--quick`` runs a small version of everything in well under a
minute, to keep the benchmark working; its figures mean little.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import rig as rigging
from bench import scenarios
from bench.posting import run_drain, run_scale_out

PARTS = ("clicks", "submissions", "postgres", "home", "drain", "scale")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


async def serving_slack(options: rigging.Options, parts: set[str], postgres: str, workdir: Path) -> dict[str, Any]:
    """The parts where Aprova serves Slack: one rig (the stand-in and the floors) for all of them."""
    report: dict[str, Any] = {}
    scenarios.note("starting the Slack stand-in and the bare Bolt apps")
    async with rigging.started(options, workdir) as rig:
        if parts & {"clicks", "submissions"}:
            scenarios.note("starting Aprova on SQLite")
            aprova = await rig.start_aprova("aprova", f"sqlite:///{workdir / 'aprova.db'}")
            submissions = await rig.submissions(aprova)
            if "clicks" in parts:
                report["button_clicks"] = await scenarios.button_clicks(rig, aprova, submissions)
            if "submissions" in parts:
                sweep = await scenarios.submission_sweep(rig, aprova, submissions)
                report["view_submissions"] = sweep
                baseline = sweep["by_rate"][f"{scenarios.FAULTY_RATE}_per_s"]
                report["submission_to_dm_with_429"] = await scenarios.submissions_with_429(
                    rig, aprova, submissions, baseline
                )
            report["aprova_peak_rss_mib"] = aprova.peak_rss_mib()
            await rig.children.stop(aprova)
        if "postgres" in parts:
            report["view_submissions_postgresql_two_processes"] = await scenarios.postgres_two_processes(rig, postgres)
        if "home" in parts:
            report["home_open"] = await scenarios.home_tab(rig)
    return report


async def machine_speed() -> dict[str, float]:
    """Two yardsticks, to compare runs on a machine whose speed varies (shared hosts do): pure Python, and a
    hand-off to another thread and back (what a SQLite statement sent to the driver's thread pays on top)."""
    started = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    python_loop_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for _ in range(2000):
        await asyncio.to_thread(int)
    hop_us = (time.perf_counter() - started) / 2000 * 1e6
    return {"python_loop_2m_ms": round(python_loop_ms, 1), "thread_round_trip_us": round(hop_us, 1)}


async def run(
    options: rigging.Options, parts: set[str], postgres: str, payables: int, keep: Path | None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.system(),
            **await machine_speed(),
        },
        "quick": options.quick,
    }
    with contextlib.ExitStack() as stack:
        if keep is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aprova-bench-")))
        else:
            workdir = keep
            workdir.mkdir(parents=True, exist_ok=True)
        if parts & {"clicks", "submissions", "postgres", "home"}:
            report |= await serving_slack(options, parts, postgres, workdir)
        if "drain" in parts:
            scenarios.note(f"posting drain of {payables} approvals")
            report["posting_drain"] = await run_drain(payables, workdir)
        if "scale" in parts:
            scenarios.note(f"posting scale-out on PostgreSQL, {payables} approvals a run")
            report["scale_out_postgresql"] = await run_scale_out(payables, postgres, workdir, quick=options.quick)
    scenarios.note("done")
    return report


async def main_task(
    options: rigging.Options, parts: set[str], postgres: str, payables: int, keep: Path | None
) -> dict[str, Any]:
    # SIGTERM ends the run like Ctrl-C: the clean-up stops every process this run started.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(options, parts, postgres, payables, keep)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small version of everything (seconds per part)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run this part only (repeatable)")
    parser.add_argument("--count", type=int, help="interactions per rate (default 300; quick 20)")
    parser.add_argument("--home-pending", type=int, help="pending requests behind the Home tab (default 10 000)")
    parser.add_argument("--payables", type=int, help="approved requests to drain (default 200; quick 10)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("APROVA_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL database to create the PostgreSQL measurements' databases from (skipped if unreachable)",
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep each process's log and the SQLite databases in DIR"
    )
    args = parser.parse_args()
    options = rigging.Options.make(quick=args.quick, count=args.count, home_pending=args.home_pending)
    payables = args.payables or (10 if args.quick else 200)
    try:
        report = asyncio.run(main_task(options, set(args.only or PARTS), args.postgres, payables, args.keep))
    except (KeyboardInterrupt, asyncio.CancelledError):
        scenarios.note("interrupted; every process it started is stopped")
        sys.exit(130)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
