"""Numbers a careful engineer would compute: no self-traffic in the headline, a poll loop that never
stops silently, an honest pause, fallbacks that say so, flags and settings that are honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from conftest import free_port, running_api
from fake_sources import FakeSource
from waiting import wait_until, wait_until_async

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.scrape import ScrapeSource
from streamflow_tui.widgets.status import Banner, StatusLine


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "the condition") -> None:
    await wait_until_async(condition, timeout, what, interval=0.1, pause=pilot.pause)


# -- no self-traffic ------------------------------------------------------------------------------


def test_an_idle_api_reads_zero_not_its_own_scrapes(api_url):
    source = ScrapeSource(api_url, history_points=10)
    try:
        for _ in range(4):  # the scrapes themselves, and a health check between them
            source.poll()
            httpx.get(api_url + "/health")
            time.sleep(0.2)  # deliberately: scrapes spread over a span, as the console's polls are
        snap = source.snapshot(source.span_seconds())
    finally:
        source.close()
    assert snap.requests.rps == 0.0 and snap.requests.total == 0.0
    assert all(
        x.total == 0 and x.endpoint.startswith("/predict") for x in snap.requests.by_series
    )  # pre-created series
    assert snap.metrics.excluded and "/metrics" in snap.metrics.excluded


def test_rows_add_up_to_the_headline_and_monitoring_is_left_out(api_url):
    source = ScrapeSource(api_url, history_points=10)
    try:
        source.poll()
        with httpx.Client(base_url=api_url) as c:
            for i in range(40):
                c.post("/predict", json={"user_id": "4369-PFYCS" if i % 4 else "0000-NOONE"})
                c.get("/health")
        source.poll()
        snap = source.snapshot(source.span_seconds())
    finally:
        source.close()
    rows = snap.requests.by_series
    assert {x.endpoint for x in rows if x.total} == {"/predict"}
    assert sum(x.rps for x in rows) == pytest.approx(snap.requests.rps)
    assert snap.requests.rps * source.span_seconds() == pytest.approx(40, abs=1e-6)
    assert snap.requests.error_ratio == pytest.approx(0.25)
    # The latency histogram counts the 40 predictions only, not 40 health checks and the scrapes.
    assert sum(b.count for b in snap.latency_histogram) == pytest.approx(40)


def test_once_json_says_what_is_left_out_and_an_empty_glob_keeps_everything(api_url):
    done = cli("--once", "--json", "--window", "0", "--api-url", api_url)
    doc = json.loads(done.stdout)
    assert doc["naming"]["excluded_endpoints"][:3] == ["/metrics", "/health", "/monitoring/*"]
    assert doc["requests"]["total"] == 0  # only the scrape so far
    done = cli("--once", "--json", "--window", "0", "--api-url", api_url, "--exclude-endpoint", "")
    doc = json.loads(done.stdout)
    assert doc["naming"]["excluded_endpoints"] == [] and doc["requests"]["total"] >= 1


# -- the poll loop ------------------------------------------------------------------------------


class Exploding(FakeSource):
    """Raises from the poll once, at the third poll: a bug in a source must not stop the loop."""

    def poll(self):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise RuntimeError("boom in the source")
        return super().poll()


async def test_a_poll_that_raises_is_shown_and_polling_goes_on(tmp_path):
    source = Exploding()
    app = create_app(
        ConsoleConfig(api_url="http://127.0.0.1:9", interval=0.1, reports_dir=str(tmp_path), export_dir=str(tmp_path)),
        source=source,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.poll_errors == 1)
        assert "boom in the source" in str(app.query_one(Banner).render())
        polls = app.state.polls
        await wait_for(pilot, lambda: app.state.polls >= polls + 3)  # re-armed after the failure
        await app.action_quit()


async def test_pause_says_so_and_the_age_keeps_counting(tmp_path):
    clock = [1000.0]
    source = FakeSource()
    app = create_app(
        ConsoleConfig(api_url="http://127.0.0.1:9", interval=0.1, reports_dir=str(tmp_path), export_dir=str(tmp_path)),
        source=source,
        clock=lambda: clock[0],
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.state.polls >= 2)
        await pilot.press("p")
        polls = app.state.polls
        clock[0] += 42

        def status() -> str:
            return str(app.query_one(StatusLine).render())

        # The paused loop's next tick redraws the status line: the age of the last good poll has grown.
        await wait_for(pilot, lambda: "UP 42." in status(), what="the status line shows the age while paused")
        assert "PAUSED" in status(), status()
        assert app.state.polls == polls  # that tick polled nothing
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.polls > polls)
        await app.action_quit()


def test_after_a_pause_the_first_window_is_no_rate_drop(api_url):
    """Paused longer than the window, the first rate after resuming is measured over the window or
    not at all — never the requests of one interval spread over the whole pause."""
    source = ScrapeSource(api_url, history_points=100)
    try:
        with httpx.Client(base_url=api_url) as c:
            for _ in range(3):
                source.poll()
                for _ in range(20):
                    c.post("/predict", json={"user_id": "4369-PFYCS"})
                time.sleep(0.3)  # deliberately: the console's poll interval
            time.sleep(3)  # deliberately: a pause longer than the 2 s window, no polls
            for _ in range(20):
                c.post("/predict", json={"user_id": "4369-PFYCS"})
            source.poll()
        snap = source.snapshot(2.0)
    finally:
        source.close()
    assert snap.requests.rps is None  # one sample in the window: not measured, not a drop


# -- fallbacks -------------------------------------------------------------------------------------


def test_once_falls_back_to_the_api_when_prometheus_is_down(api_url):
    dead = f"http://127.0.0.1:{free_port()}"
    done = cli("--once", "--json", "--window", "0.5", "--prometheus-url", dead, "--api-url", api_url)
    doc = json.loads(done.stdout)
    assert done.returncode == 0
    assert (
        doc["source"] == "scrape"
        and doc["prometheus"]["up"] is False
        and "connection refused" in doc["prometheus"]["error"]
    )
    assert doc["api"]["up"] is True
    text = cli("--once", "--window", "0.5", "--prometheus-url", dead, "--api-url", api_url).stdout
    assert "fallback: Prometheus unavailable" in text


async def test_prometheus_mode_does_not_scrape_the_api(live, tmp_path):
    from fake_targets import Reply, fake_target

    with fake_target() as api:
        api.reply = Reply(body=b"")
        app = create_app(
            ConsoleConfig(
                api_url=api.url,
                prometheus_url=live.prometheus,
                interval=0.2,
                reports_dir=str(tmp_path),
                export_dir=str(tmp_path),
            )
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.state.polls >= 5)
            assert app.state.snapshot.source == "prometheus" and app.state.snapshot.ok
            await app.action_quit()
        assert api.requests == []  # polled five times, through Prometheus only


# -- flags and settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["--drift", "month_000", "month_001"], "only applies with --once"),
        (["--json"], "only applies with --once"),
        (["--once", "--interval", "2"], "only applies to the console"),
        (["--once", "--drift", "month_000", "month_001", "--column-threshold", "monthly_fee=abc"], "is not a number"),
        (["--once", "--drift", "month_000", "month_001", "--column-threshold", "no_such_column=0.1"], "unknown column"),
        (
            ["--once", "--drift", "month_000", "month_001", "--column-threshold", "monthly_fee=-1"],
            "must be a number > 0",
        ),
        (["--once", "--fail-on-drift"], "needs --drift"),
        (["--history", "3", "--window", "5"], "shorter than --window"),
        (["--once", "--threshold", "-1"], "expected a finite number >= 0"),
    ],
)
def test_flags_that_cannot_apply_are_usage_errors(args, words):
    done = cli(*args, "--api-url", "http://127.0.0.1:9", timeout=60)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr


def test_the_api_honours_its_environment_and_flags_win():
    with running_api(env={"STREAMFLOW_API_MONTH": "month_002"}) as url:
        assert httpx.get(url + "/health").json()["served_month"] == "month_002"
    with running_api("--month", "month_003", env={"STREAMFLOW_API_MONTH": "month_002"}) as url:
        assert httpx.get(url + "/health").json()["served_month"] == "month_003"


def test_bad_api_settings_are_clear_errors():
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STREAMFLOW_API_MONTH": "month_099", "STREAMFLOW_API_LIVE_BUFFER_ROWS": "many"},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "STREAMFLOW_API_MONTH" in done.stderr and "month_099" in done.stderr
    assert "STREAMFLOW_API_LIVE_BUFFER_ROWS" in done.stderr


def test_prometheus_that_cannot_scrape_the_api_is_a_banner(live):
    """The API's health per instance as Prometheus sees it, apart from Prometheus's own."""
    from prometheus_server import running_prometheus, scrape_config

    from streamflow_tui.core.prometheus import PrometheusSource

    dead = f"127.0.0.1:{free_port()}"
    with running_prometheus(scrape_config([live.api.removeprefix("http://"), dead])) as prom:
        source = PrometheusSource(prom, job="streamflow-api")

        def both_targets_tried():
            snap = source.snapshot(5)
            return snap if len(snap.targets) == 2 else None

        try:
            snap = wait_until(both_targets_tried, 30, "Prometheus has tried both targets", interval=0.5)
        finally:
            source.close()
    assert snap.prometheus.up and snap.prometheus.error is None  # Prometheus itself is fine
    assert dict(snap.targets) == {live.api.removeprefix("http://"): True, dead: False}
    assert snap.api.up and f"Prometheus cannot scrape {dead} (1 of 2 down)" == snap.api.error


async def test_the_console_honours_timeout(tmp_path):
    from fake_targets import Reply, fake_target

    with fake_target() as t:
        t.reply = Reply(body=b"# TYPE x_requests_total counter\n", delay=3)
        app = create_app(
            ConsoleConfig(api_url=t.url, interval=0.2, timeout=0.5, reports_dir=str(tmp_path), export_dir=str(tmp_path))
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.state.snapshot is not None)
            assert "within 0.5 s" in app.state.snapshot.api.error
            assert "within 0.5 s" in str(app.query_one(Banner).render())
            await app.action_quit()


def test_old_reports_are_pruned(tmp_path):
    from streamflow_tui.core.drift_worker import prune_reports

    for i in range(5):
        for suffix in (".json", ".html"):
            path = tmp_path / f"drift_a_vs_b_{i}{suffix}"
            path.write_text("{}")
            os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    prune_reports(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "drift_a_vs_b_3.html",
        "drift_a_vs_b_3.json",
        "drift_a_vs_b_4.html",
        "drift_a_vs_b_4.json",
    ]
