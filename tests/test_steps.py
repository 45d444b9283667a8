"""Counters that update in steps (#25): Ray Serve publishes its counters about every 10 s. Scraped every
second at a true 20 req/s, a 5 s window read 37.9, 0, 38.1, 38.2. The scrape source detects the steps (or
knows them from the preset), measures between two updates at least two periods apart, and says so; until it
can, it gives no rate rather than a wrong one, and an idle server still reads 0."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from exposition_server import exposition_server
from waiting import wait_until

from streamflow_tui.core.exposition import ParsedScrape
from streamflow_tui.core.report import to_json
from streamflow_tui.core.scrape import ScrapeSource
from streamflow_tui.core.steps import detect, suspicious

RAY = """# HELP ray_serve_num_http_requests_total The number of HTTP requests processed.
# TYPE ray_serve_num_http_requests_total counter
ray_serve_num_http_requests_total{application="app",method="POST",route="/predict",status_code="200"} %(ok)s
ray_serve_num_http_requests_total{application="app",method="POST",route="/predict",status_code="500"} %(bad)s
ray_serve_num_http_requests_total{application="app",method="GET",route="/-/healthz",status_code="200"} %(probes)s
"""
GENERIC = """# TYPE http_requests_total counter
http_requests_total{handler="/predict",code="200"} %(ok)s
http_requests_total{handler="/predict",code="500"} %(bad)s
"""


def published(t: float, period: float, phase: float, rps: float = 20.0) -> dict[str, float]:
    """The counters a server publishing every ``period`` s shows at ``t``: the requests up to its last update."""
    last = max(0.0, ((t - phase) // period) * period + phase)
    n = rps * last
    return {"ok": 0.9 * n, "bad": 0.1 * n, "probes": 2.0 * last}


def test_steps_are_told_from_live_and_sparse_traffic():
    times = [i * 1000 for i in range(40)]
    stepped = [200.0 * ((i - 3) // 10 + 1) if i >= 3 else 0.0 for i in range(40)]  # jumps at 3, 13, 23, 33 s
    steps = detect(times, stepped)
    assert steps is not None and steps.period_s == pytest.approx(10.0)
    assert steps.span(20) == (13_000, 33_000)  # the newest jump and the one two periods before it
    assert detect(times, [20.0 * i for i in range(40)]) is None  # live traffic moves every scrape
    sparse = [0.0] * 5 + [1.0] * 12 + [2.0] * 4 + [3.0] * 19  # single requests at irregular times
    assert detect(times, sparse) is None and not suspicious(times, sparse)
    assert suspicious(times[:15], stepped[:15])  # one update of 200 after a flat run: watch longer
    assert not suspicious(times, [0.0] * 40)  # idle


@pytest.mark.parametrize("phase", [0.3, 2.7, 5.1, 9.9])
def test_back_to_back_reads_of_a_ray_serve_are_right_or_absent(phase):
    """Scraped every second for a minute; a 5 s snapshot after every scrape: never 0 or double."""
    source = ScrapeSource("http://127.0.0.1:9", history_points=300)
    read = []
    for i in range(60):
        t = 100.0 + i
        source.ingest(ParsedScrape.from_text(round(t * 1000), RAY % published(t, 10.0, phase)))
        snap = source.snapshot(5.0)
        u = snap.counter_updates
        assert u is not None and u.period_s == pytest.approx(10.0, abs=1.0) and u.how == "preset"
        if snap.requests.rps is None:
            assert u.window_s is None and "no rate" in u.note or "watching" in u.note
            assert i < 35, "within three periods there are two updates two periods apart"
        else:
            read.append(snap.requests.rps)
            assert snap.requests.rps == pytest.approx(20.0, rel=0.05), (i, snap.requests, u)
            assert snap.requests.error_ratio == pytest.approx(0.1, rel=1e-6)
            assert u.window_s >= 18.0 and snap.window_seconds == u.window_s
    assert len(read) >= 25
    doc = to_json(snap)["counter_updates"]
    assert doc["how"] == "preset" and doc["window_seconds"] >= 18 and "between two updates" in doc["note"]


def test_an_idle_ray_serve_reads_zero_once_two_periods_passed():
    source = ScrapeSource("http://127.0.0.1:9", history_points=300)
    for i in range(25):
        source.ingest(ParsedScrape.from_text(1000 * i, RAY % {"ok": 180, "bad": 20, "probes": 0}))
    snap = source.snapshot(5.0)
    assert snap.requests.rps == 0.0 and snap.counter_updates is None


def test_unknown_stepwise_counters_are_detected():
    source = ScrapeSource("http://127.0.0.1:9", history_points=300)
    for i in range(40):
        t = 50.0 + i * 0.5
        source.ingest(ParsedScrape.from_text(round(t * 1000), GENERIC % published(t, 3.0, 1.2)))
    snap = source.snapshot(2.0)
    u = snap.counter_updates
    assert u is not None and u.how == "detected" and u.period_s == pytest.approx(3.0, abs=0.5)
    assert snap.requests.rps == pytest.approx(20.0, rel=0.1) and u.window_s >= 5.4


def test_once_waits_for_two_updates_of_a_stepwise_target():
    """A real HTTP target publishing every 2 s: `--once --window 2.5` (longer than one period: an unknown
    target with no update inside the window cannot be told from an idle one) sees one update, watches on
    until it has two updates two periods apart, reads the true rate, and says how."""
    with exposition_server(gzip=False) as server:
        stop = threading.Event()
        start = [0.0]

        def publish():
            import time

            start[0] = time.monotonic()
            while not stop.is_set():
                server.set("steps", GENERIC % published(time.monotonic() - start[0] + 100, 2.0, 0.0))
                stop.wait(0.05)

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        try:
            wait_until(lambda: start[0] > 0, 5, "the publisher started")
            done = subprocess.run(
                [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--window", "2.5"]
                + ["--api-url", server.target("steps")],
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            stop.set()
            thread.join(5)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    u = doc["counter_updates"]
    assert u is not None and u["how"] == "detected" and u["period_seconds"] == pytest.approx(2.0, abs=0.4), u
    assert doc["requests"]["rps"] == pytest.approx(20.0, rel=0.1), (doc["requests"], u)
    assert doc["window_seconds"] == u["window_seconds"] >= 3.6
