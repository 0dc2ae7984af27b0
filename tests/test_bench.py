"""The benchmark keeps working: ``python -m bench --quick`` runs every part end to end, and its report has every figure.

No figure is judged here (timings belong to the benchmark, not to the suite): only that each is there and a number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
LATENCY = {"p50_ms", "p99_ms", "max_ms"}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def assert_latency(figures: Any) -> None:
    assert isinstance(figures, dict) and set(figures) == LATENCY, figures
    assert all(is_number(v) for v in figures.values()), figures


def assert_once(counts: dict[str, Any], total: int) -> None:
    assert {k: is_number(v) for k, v in counts.items() if k in ("delivered_once", "missing", "duplicated")} == {
        "delivered_once": True,
        "missing": True,
        "duplicated": True,
    }
    assert counts["delivered_once"] + counts["missing"] + counts["duplicated"] == total


def assert_acks(point: dict[str, Any]) -> None:
    assert_latency(point["ack"]["aprova"])
    assert_latency(point["ack"]["bare_bolt"])
    assert is_number(point["ack"]["p99_ratio_to_bare"]) and is_number(point["ack"]["p50_ratio_to_bare"])
    assert is_number(point["unacknowledged"]["aprova"]) and is_number(point["unacknowledged"]["bare_bolt"])
    assert is_number(point["cpu_ms_per_request"]["aprova"]) and is_number(point["cpu_ms_per_request"]["bare_bolt"])


def assert_submissions(point: dict[str, Any]) -> None:
    assert_acks(point)
    assert point["refused"] == 0, "the benchmark's requests must all be valid"
    assert_latency(point["to_approver_dm"]["aprova"])
    assert_once(point["to_approver_dm"], point["requests"])
    assert_once(point["tracking_message"], point["requests"])


def quick_report(*parts: str) -> dict[str, Any]:
    """``python -m bench --quick`` for ``parts``, its JSON report."""
    only = [arg for part in parts for arg in ("--only", part)]
    ran = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--postgres", POSTGRES_URL, *only],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    report: dict[str, Any] = json.loads(ran.stdout)
    assert report["quick"] is True and is_number(report["machine"]["cores"])
    return report


# Three runs rather than one, so the suite's workers share them.


def test_clicks_and_submissions_against_one_process() -> None:
    report = quick_report("clicks", "submissions")

    clicks = report["button_clicks"]
    assert_acks(clicks)
    assert_latency(clicks["to_approver_dm_updated"]["aprova"])
    assert_latency(clicks["to_approver_dm_updated"]["bare_bolt_one_call"])
    assert is_number(clicks["to_approver_dm_updated"]["missing"])
    assert isinstance(clicks["target"], str) and isinstance(clicks["target_met"], bool)

    sweep = report["view_submissions"]
    assert set(sweep["by_rate"]) == {"10_per_s", "20_per_s", "40_per_s", "60_per_s"}
    for point in sweep["by_rate"].values():
        assert_submissions(point)
    assert_latency(sweep["by_rate"]["20_per_s"]["to_approver_dm"]["bare_bolt_one_call"])
    assert is_number(sweep["cpu_ms_per_submission_at_10_per_s"])
    assert isinstance(sweep["target_met"], bool)

    faulty = report["submission_to_dm_with_429"]
    assert is_number(faulty["slack_calls_answered_429"]) and is_number(faulty["slack_calls"])
    assert_latency(faulty["ack"]["aprova"])
    assert faulty["ack"]["without_429"] == sweep["by_rate"]["20_per_s"]["ack"]["aprova"]
    assert_latency(faulty["to_approver_dm"]["without_429"])
    assert_once(faulty["to_approver_dm"], faulty["requests"])
    assert_once(faulty["tracking_message"], faulty["requests"])
    assert isinstance(faulty["target_met"], bool)
    assert is_number(report["aprova_peak_rss_mib"])


def test_two_processes_on_postgresql_and_the_home_tab() -> None:
    report = quick_report("postgres", "home")

    two = report["view_submissions_postgresql_two_processes"]
    if "skipped" not in two:
        assert set(two["by_rate"]) == {"50_per_s", "100_per_s"}
        for point in two["by_rate"].values():
            assert_submissions(point)
        assert len(two["peak_rss_mib"]) == 2

    home = report["home_open"]
    opened = home["open_to_views_publish"]
    viewers = {"nothing_waiting", "requester_of_all", "approver_of_all", "finance_admin"}
    assert set(opened) == viewers | {"bare_bolt_one_call"}
    for viewer in viewers:
        assert_latency(opened[viewer]["aprova"])
        assert is_number(opened[viewer]["not_published"])
        assert is_number(opened[viewer]["cpu_ms_per_open"])
    assert_latency(opened["bare_bolt_one_call"])
    assert is_number(home["worst_p99_ms"]) and isinstance(home["target_met"], bool)


def test_the_posting_drain_and_its_scale_out() -> None:
    report = quick_report("drain", "scale")

    drain = report["posting_drain"]
    assert drain["entries_in_sandbox"] == drain["distinct_references"] == drain["payables"]
    assert is_number(drain["drain_seconds"]) and is_number(drain["ratio_to_rate_limit_floor"])

    scale = report["scale_out_postgresql"]
    if "skipped" not in scale:
        limited = scale["rate_limited"]
        for run in (limited["one_instance"], limited["two_instances"]):
            assert run["entries_in_sandbox"] == run["distinct_references"] == run["payables"]
            assert len(run["worker_peak_rss_mib"]) == run["instances"]
        assert is_number(limited["scale_out_ratio"])
