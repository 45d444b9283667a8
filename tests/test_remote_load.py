"""Remote load (issue #17): load generators on other hosts, scraped by the same Prometheus as the API, read by
the console as one aggregated client-side view beside the server's. Real parts only: the bundled API, two
``streamflow-load --segment i/2 --metrics-port`` processes, Prometheus 2.x scraping all three at 1 s."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from conftest import free_port
from prometheus_server import query, running_prometheus
from waiting import wait_until, wait_until_async

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.embedded import stop_process
from streamflow_tui.core.prometheus import LOAD_PREFIX, PrometheusSource
from streamflow_tui.core.timeline import point_of

RATE = 40.0  # req/s for the whole run: --rate is the run's total, each of the two segments sends half
SEGMENTS = 2
DURATION_S = 40
WINDOW_S = 10.0
# The achieved rate is Prometheus's rate() over the 10 s window of two counters scraped every second: a window
# holds 10 or 11 samples of each, so the extrapolation to the window's edges moves it by up to one scrape in
# ten (±10 %); the two processes' sends and the API's answers on a busy test machine add a few percent.
RATE_TOLERANCE = 0.15
# Client and server latency come from histograms with the same bounds (loadgen/metrics.py copies the API's), and
# the client's adds the network and its own event loop to each request: at least the server's, but both are
# interpolated inside their buckets, and the two windows are not the same requests to the millisecond.
P95_TOLERANCE_S = 0.002


def config(api: str, load_ports: list[int]) -> str:
    loads = ", ".join(f'"127.0.0.1:{p}"' for p in load_ports)
    return f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: streamflow-api
    static_configs:
      - targets: ["{api.removeprefix("http://")}"]
  - job_name: streamflow-load
    static_configs:
      - targets: [{loads}]
"""


@contextmanager
def load_segments(api: str, ports: list[int]) -> Iterator[list[subprocess.Popen]]:
    """The two segments of one run: the same schedule start and run id, each serving its client metrics."""
    start_at = int(time.time()) + 2
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loadgen.cli",
                "--url",
                api + "/predict",
                "--rate",
                f"{RATE:g}",
                "--duration",
                str(DURATION_S),
                "--segment",
                f"{i}/{len(ports)}",
                "--start-at",
                str(start_at),
                "--run-id",
                "remote-load-test",
                "--metrics-port",
                str(port),
                "--no-progress",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, port in enumerate(ports)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            stop_process(proc)


def full_windows(prometheus: str, at: float) -> bool:
    """Both segments' answers and the API's have been scraped for the whole window (its rate covers it)."""
    rows = query(prometheus, f'count_over_time({LOAD_PREFIX}requests_total{{status="success"}}[{WINDOW_S:g}s])', at)
    return len(rows) == SEGMENTS and all(float(r["value"][1]) >= WINDOW_S for r in rows)


def counting(source: PrometheusSource) -> list[str]:
    """The query of every request the source sends from now on (an httpx event hook on its real client)."""
    sent: list[str] = []
    source.client._client.event_hooks["request"].append(
        lambda request: sent.append(request.url.path + " " + request.url.params.get("query", ""))
    )
    return sent


async def test_remote_load_from_prometheus(api_url, tmp_path):
    ports = [free_port() for _ in range(SEGMENTS)]
    with running_prometheus(config(api_url, ports)) as prometheus, load_segments(api_url, ports) as procs:
        wait_until(
            lambda: full_windows(prometheus, time.time() - 0.5),
            30,
            "Prometheus holds a full window of both segments",
            interval=0.25,
            seen=lambda: [p.poll() for p in procs],
        )
        source = PrometheusSource(prometheus, api_url=api_url)
        try:
            source.snapshot(WINDOW_S)  # the metric choice and scrape interval, cached from here on
            sent = counting(source)
            t0 = time.perf_counter()
            snap = source.snapshot(WINDOW_S)
            elapsed = time.perf_counter() - t0
        finally:
            source.close()
        remote = snap.remote_load
        assert snap.ok and remote is not None, snap
        assert (remote.segments, remote.segments_up, remote.down) == (2, 2, ())
        assert remote.run_ids == ("remote-load-test",) and remote.complete
        assert remote.target_rps == pytest.approx(RATE)
        assert remote.achieved_rps == pytest.approx(RATE, rel=RATE_TOLERANCE)
        assert remote.error_ratio == 0.0 and remote.late_rps is not None
        assert remote.p95 is not None and snap.latency.p95 is not None
        assert remote.p95 >= snap.latency.p95 - P95_TOLERANCE_S, (remote.p95, snap.latency.p95)
        assert remote.p50 is not None and remote.p50 <= remote.p95 <= (remote.p99 or 0)
        # The load targets are not the API's replicas, and its requests are not the load's.
        assert [i for i, _ in snap.targets] == [api_url.removeprefix("http://")] and snap.api.error is None
        assert all(x.endpoint for x in snap.requests.by_series)
        # A poll with load series: two queries more (segments, aggregates) and the API's `up` narrowed.
        load_queries = [q for q in sent if LOAD_PREFIX in q]
        assert len(load_queries) == 3, load_queries
        print(f"\nsnapshot with remote load: {len(sent)} requests, {elapsed * 1000:.1f} ms")
        # The Load view's charts take the remote figures when the console drives no load of its own.
        point = point_of(snap)
        assert (point.load_target, point.load_rps, point.client_p95) == (
            remote.target_rps,
            remote.achieved_rps,
            remote.p95,
        )

        app = create_app(
            ConsoleConfig(
                api_url=api_url,
                prometheus_url=prometheus,
                interval=0.5,
                window=WINDOW_S,
                reports_dir=str(tmp_path / "reports"),
                export_dir=str(tmp_path / "exports"),
            )
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")

            def line() -> str:
                return str(app.query_one("#load-stats").render())

            await wait_until_async(
                lambda: "remote load: 2 segments (" in line(), 20, "the remote load line", pause=pilot.pause, seen=line
            )
            text = line()
            assert "target 40 req/s" in text and "client p95" in text and "vs server p95" in text, text
            assert "errors 0.0 %" in text and "segments up" not in text, text
            status = str(app.query_one("#status-line").render())
            assert "load ⇄ remote 2/2 40/s" in status, status  # the status line says whose load it is
            await wait_until_async(
                lambda: any(p.load_target == RATE for p in app.state.timeline.points),
                10,
                "a chart point with the remote target",
                pause=pilot.pause,
            )
            await pilot.press("q")


def test_a_segment_down_is_said_and_its_sums_not_passed_off(api_url):
    """One segment of two announced is never scraped: 1/2 up, named, and no chart point from half a run."""
    ports = [free_port(), free_port()]  # the second is scraped, but its segment never starts
    with running_prometheus(config(api_url, ports)) as prometheus:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loadgen.cli",
                "--url",
                api_url + "/predict",
                "--rate",
                "10",
                "--duration",
                "20",
                "--segment",
                "0/2",
                "--run-id",
                "half-run",
                "--metrics-port",
                str(ports[0]),
                "--no-progress",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # A source learns that load series exist with the metric names, cached 30 s: start it after them.
            wait_until(
                lambda: query(prometheus, f"{LOAD_PREFIX}requests_total", time.time()),
                20,
                "segment 0/2 scraped with answers",
                interval=0.25,
            )
            source = PrometheusSource(prometheus, api_url=api_url)

            def half() -> object:
                r = source.snapshot(4).remote_load
                return r if r is not None and r.achieved_rps else None

            remote = wait_until(half, 10, "a rate of segment 0/2's answers", interval=0.25)
            source.close()
        finally:
            stop_process(proc)
    assert (remote.segments, remote.segments_up, remote.complete) == (2, 1, False)
    assert remote.down == ("1/2",) and remote.target_rps == pytest.approx(5.0)


def test_a_prometheus_without_load_series_costs_nothing(live):
    """No streamflow_load_* series: remote_load is None, and no poll asks about load (the check rides on the
    metric names the metric choice fetches anyway, every 30 s)."""
    source = PrometheusSource(live.prometheus)
    try:
        sent = counting(source)
        assert source.snapshot(WINDOW_S).remote_load is None
        n = len(sent)
        t0 = time.perf_counter()
        snap = source.snapshot(WINDOW_S)
        elapsed = time.perf_counter() - t0
    finally:
        source.close()
    first, again = sent[:n], sent[n:]
    assert snap.ok and snap.remote_load is None
    assert not any(LOAD_PREFIX in q or "segment_info" in q for q in first + again)
    assert any("/label/__name__/values" in q for q in first)
    assert not any("/label/__name__/values" in q for q in again), "the metric names are cached"
    print(f"\nsnapshot without load series: {len(again)} requests, {elapsed * 1000:.1f} ms")
    assert httpx.get(live.prometheus + "/-/ready").status_code == 200


def test_unmeasured_figures_read_as_dashes_and_a_snapshot_records_its_remote_load():
    """NaN from Prometheus is None here (no answered request yet): "–", never 0; and a recording keeps it."""
    from datetime import UTC, datetime

    from rich.text import Text

    from streamflow_tui.core.recording import decode, encode
    from streamflow_tui.core.results import EMPTY_LATENCY, EMPTY_REQUESTS, RemoteLoad, Snapshot, TargetStatus
    from streamflow_tui.widgets.load_panel import remote_text

    remote = RemoteLoad(segments=4, segments_up=3, hosts=("a", "b", "c"), down=("3/4@d",), target_rps=30.0)
    text = Text()
    remote_text(text, remote, None)
    line = text.plain
    assert line.startswith("remote load: 3/4 segments up (a, b, c)") and "not scraped: 3/4@d" in line, line
    assert "achieved – req/s (segments up only)" in line and "errors –" in line, line
    assert "client p95 – vs server p95 –" in line, line
    up = TargetStatus("http://prometheus", True)
    snap = Snapshot(datetime.now(UTC), "prometheus", up, up, 10.0, EMPTY_REQUESTS, EMPTY_LATENCY, (), None, None)
    snap = Snapshot(**{**snap.__dict__, "remote_load": remote})
    assert decode(encode(snap), Snapshot) == snap
    point = point_of(snap)  # 3 of 4 segments: no chart point from a part of the run
    assert (point.load_target, point.load_rps, point.client_p95) == (None, None, None)
