"""Live drift end to end: the load generator replays a month's rows, the API buffers what it scored,
``streamflow-tui --once --drift month_000 live`` compares them with Evidently."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from conftest import running_api

from loadgen import LoadConfig, LoadRunner


def replay(api: str, month: str, n: int) -> None:
    s = (
        LoadRunner(
            LoadConfig(url=api + "/predict", rate=1000, requests=n, duration=60, month=month, payload="features")
        )
        .start()
        .wait()
    )
    assert s.ok == n, s


def once_drift(api: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "streamflow_tui.cli",
            "--once",
            "--api-url",
            api,
            "--window",
            "0",
            "--drift",
            "month_000",
            "live",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("month, decision", [("month_003", "RETRAINING_TRIGGERED"), ("month_000", "NO_ACTION")])
def test_replayed_month_decides_live_drift(month, decision, tmp_path):
    with running_api("--live-buffer", "3000") as api:
        replay(api, month, 3000)
        buffered = httpx.get(api + "/monitoring/recent").json()
        assert buffered["count"] == 3000 and buffered["capacity"] == 3000
        proc = once_drift(api, "--json", "--reports-dir", str(tmp_path), "--fail-on-drift")
    doc = json.loads(proc.stdout)
    drift = doc["drift"]
    assert drift["decision"] == decision, drift
    assert drift["current"] == "live" and drift["total_columns"] == 14  # live rows carry no label
    assert drift["target_drift"] is None
    assert proc.returncode == (3 if decision == "RETRAINING_TRIGGERED" else 0)
    assert drift["report_html"].startswith(str(tmp_path)) and "_vs_live-" in drift["report_html"]


def test_live_with_an_empty_buffer_says_so():
    with running_api() as api:
        proc = once_drift(api)
    assert proc.returncode == 1
    assert "live buffer is empty" in proc.stderr


def test_monitoring_buffer_is_bounded_and_limited():
    with running_api("--live-buffer", "50") as api:
        replay(api, "month_001", 80)
        full = httpx.get(api + "/monitoring/recent").json()
        assert full["count"] == 50 and len(full["rows"]) == 50 and full["columns"][0] == "months_active"
        assert httpx.get(api + "/monitoring/recent", params={"limit": 7}).json()["count"] == 7
        assert httpx.get(api + "/monitoring/recent", params={"limit": 0}).status_code == 422


def test_live_rows_are_shared_by_every_worker():
    """With --workers 2 every /monitoring/recent answers the same rows, whichever worker serves it."""
    import httpx
    from conftest import running_api
    from waiting import wait_until

    with running_api("--workers", "2") as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            for _ in range(120):
                c.post("/predict", json={"user_id": "4369-PFYCS"})
            # Rows are written in batches every 50 ms.
            wait_until(lambda: c.get("/monitoring/recent").json()["count"] >= 120, 10, "the 120 rows written")
        # A new connection each time, so both workers answer (a kept-alive one sticks to one worker).
        answers = {}

        def both_workers_answered() -> bool:
            with httpx.Client(base_url=url, timeout=10) as fresh:
                pid = fresh.get("/health").json()["pid"]
                answers.setdefault(pid, fresh.get("/monitoring/recent").content)
            return len(answers) == 2

        wait_until(both_workers_answered, 30, "both workers answered", interval=0, seen=lambda: list(answers))
    assert len(set(answers.values())) == 1 and json.loads(next(iter(answers.values())))["count"] == 120
