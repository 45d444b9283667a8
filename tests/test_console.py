"""The console driven by Pilot against real parts: the bundled API, the load generator,
Evidently in its worker process, a real Prometheus."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port, wait_http
from fake_sources import FakeSource
from waiting import wait_until_async

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.widgets.help_screen import HelpScreen


def start_api(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "--port", str(port)], stdout=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
    return proc


@pytest.fixture
def api():
    port = free_port()
    proc = start_api(port)
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "the condition"):
    await wait_until_async(condition, timeout, what, interval=0.1, pause=pilot.pause)


INTERVAL_S = 0.3  # the console's poll interval in these tests
PREDICTIONS_BEFORE_THE_KILL = 30
# The console's rate through Prometheus is over its last four 1 s scrapes (4 s); the achieved rate is averaged
# over MEASURE_S, long against that, so a slow second of the traffic thread moves it little. What is left
# between the two spans on a loaded 2-core runner is RATE_TOLERANCE. Below LEAST_SHARE_OF_NOMINAL of its
# nominal pace the thread has stalled, and a comparison of two small numbers would prove nothing.
MEASURE_S = 8.0
RATE_TOLERANCE = 0.3
LEAST_SHARE_OF_NOMINAL = 0.25


def console(tmp_path: Path, **kw) -> ConsoleConfig:
    return ConsoleConfig(
        interval=INTERVAL_S,
        window=2.0,
        reports_dir=str(tmp_path / "reports"),
        export_dir=str(tmp_path / "exports"),
        **kw,
    )


async def test_load_drift_export_help_pause_and_quit(api, tmp_path, monkeypatch):
    port, _ = api
    app = create_app(console(tmp_path, api_url=f"http://127.0.0.1:{port}"))
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))  # no browser on a test machine
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.requests.rps is not None)
        # Idle: the console's own scrapes of /metrics (one every 0.3 s) are not traffic, so exactly zero.
        assert app.state.snapshot.requests.rps == 0.0 and app.state.snapshot.requests.total == 0.0, (
            app.state.snapshot.requests
        )

        await pilot.press("l")  # default: open model, 200 req/s
        await wait_for(pilot, lambda: (app.state.snapshot.requests.rps or 0) > 120)
        card = str(app.query_one("#ov-traffic-card").render())  # the overview, the first screen, shows the live rate
        assert f"{app.state.snapshot.requests.rps:,.1f} req/s" in card, card
        await pilot.press("plus")
        assert app.loads.runner.snapshot().target_rate == 250
        await pilot.press("minus", "minus")
        assert app.loads.runner.snapshot().target_rate == 160
        await pilot.press("l")  # stops in a worker thread, off the UI loop
        await wait_for(pilot, lambda: not app.loads.runner.running)
        assert "stopped" in str(app.query_one("#load-stats").render())
        report = app.loads.runner.snapshot()
        assert report.sent == report.ok + report.errors + report.cancelled and report.ok > 100

        await pilot.press("d")  # month_000 vs month_003 in the pre-warmed worker
        assert app.query_one("#views").active == "drift"
        await wait_for(pilot, lambda: app.state.drift_result is not None, timeout=90)
        result = app.state.drift_result
        assert result.decision == "RETRAINING_TRIGGERED"
        table = app.query_one("#drift-table")
        assert table.row_count == 15
        first_rows = [str(table.get_row_at(i)[0]) for i in range(result.drifted_columns)]
        assert set(first_rows) == {c.column for c in result.columns if c.drifted}
        await wait_for(pilot, lambda: app.state.drift_result.report_html is not None, timeout=60)
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        await pilot.press("o")  # no display (a server, SSH): nothing is opened, and the toast says where the report is
        assert not opened
        assert any(
            "no graphical display" in n.message and app.state.drift_result.report_html.split("/")[-1] in n.message
            for n in app._notifications
        )
        monkeypatch.setenv("DISPLAY", ":0")
        await pilot.press("o")
        assert opened and opened[0].endswith(".html") and Path(app.state.drift_result.report_html).exists()

        await pilot.press("e")
        await wait_for(
            pilot, lambda: any((tmp_path / "exports").glob("*/screenshot.svg"))
        )  # taken after the toasts went
        exports = list((tmp_path / "exports").iterdir())
        assert len(exports) == 1
        names = sorted(p.name for p in exports[0].iterdir())
        assert names == ["screenshot.svg", "series.csv", "series.json"]
        assert (exports[0] / "series.csv").read_text().startswith("t,rps,error_ratio")
        # Its runs of spaces kept: renderers that honour SVG's whitespace rules would squash the text otherwise.
        assert '<svg xml:space="preserve"' in (exports[0] / "screenshot.svg").read_text()

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("p")
        paused_at = app.state.polls
        await pilot.pause(4 * INTERVAL_S)  # deliberately: four poll intervals pass while paused
        assert app.state.polls <= paused_at + 1 and app.state.paused  # at most the poll in flight at the press
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.polls > paused_at + 2)

        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Drift", "Load", "Export", "Pause", "Help"} <= titles
        await pilot.press("q")
        # q quits: the app exits with 0 once the load, the drift worker and the source are closed. (Leaving
        # run_test shuts the app down too, without a return code: None would mean q did not quit.)
        await wait_until_async(lambda: app.return_code is not None, 30, "q to exit the app")
    assert app.return_code == 0


async def test_target_down_then_up(api, tmp_path):
    port, proc = api
    url = f"http://127.0.0.1:{port}"
    app = create_app(console(tmp_path, api_url=url))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.state.polls >= 1, what="a first sample before the traffic")
        with httpx.Client(base_url=url) as client:  # counters well above zero, so the restart resets them
            for _ in range(PREDICTIONS_BEFORE_THE_KILL):
                client.post("/predict", json={"user_id": "4369-PFYCS"})
        await wait_for(pilot, lambda: any((p.rps or 0) > 0 for p in app.state.timeline.points), what="the traffic seen")
        kept = len(app.state.timeline.points)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        await wait_for(pilot, lambda: app.state.snapshot is not None and not app.state.snapshot.ok)
        banner = app.query_one("#banner")
        assert banner.has_class("visible") and "connection refused" in str(banner.render())
        assert len(app.state.timeline.points) >= kept  # history kept
        restarted = start_api(port)
        up_again = time.time()
        try:

            def after_restart() -> list:
                """Points whose whole rate window lies after the restart: what came before (the requests just
                before the kill) can still be in the window of the first polls, and is real traffic there."""
                return [p for p in app.state.timeline.points if p.t - app.config.window >= up_again]

            await wait_for(
                pilot,
                lambda: app.state.snapshot.ok and len(after_restart()) >= 3,
                what="three polls a whole window after the restart",
            )
            assert not banner.has_class("visible")
            rates = [p.rps for p in app.state.timeline.points if p.rps is not None]
            assert all(r >= 0 for r in rates)  # the counter reset is no negative rate
            # Nothing was sent to the restarted API: every rate measured since is exactly zero (no made-up
            # traffic: neither the old counts nor the console's own scrapes).
            measured = [p.rps for p in after_restart() if p.rps is not None]
            assert measured and set(measured) == {0.0}, measured
        finally:
            restarted.terminate()
            restarted.wait(10)
        await pilot.press("q")


async def test_prometheus_source_with_backfill(live, tmp_path):
    app = create_app(console(tmp_path, api_url=live.api, prometheus_url=live.prometheus, history=60))
    # 200 columns: below them the status line gives the source's details up for the model and the month
    # (its least important part), keeping "prom ● UP".
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.ok)
        assert app.state.snapshot.source == "prometheus"
        # Against the rate the traffic thread achieved over the same seconds, not its nominal pace: on a busy
        # 2-core runner (and with this app in the same process) the thread falls behind, and the console
        # must show what was sent.
        sent, start = live.traffic.sent[live.api], time.monotonic()
        await pilot.pause(MEASURE_S)  # deliberately: the span the achieved rate is averaged over
        achieved = (live.traffic.sent[live.api] - sent) / (time.monotonic() - start)
        least = live.traffic.rate_per_url * LEAST_SHARE_OF_NOMINAL
        assert achieved > least, (
            f"the traffic thread sent {achieved:.1f}/s of its nominal {live.traffic.rate_per_url}/s"
        )
        assert app.state.snapshot.requests.rps == pytest.approx(achieved, rel=RATE_TOLERANCE)
        await wait_for(pilot, lambda: len(app.state.timeline.points) > 5)  # backfilled from query_range
        assert "source prometheus" in str(app.query_one("#status-line").render())
        await pilot.press("q")


async def test_prometheus_down_falls_back_to_scrape(api, tmp_path):
    port, _ = api
    app = create_app(
        console(tmp_path, api_url=f"http://127.0.0.1:{port}", prometheus_url=f"http://127.0.0.1:{free_port()}")
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.ok)
        assert app.state.snapshot.source == "scrape"
        status = str(app.query_one("#status-line").render())
        assert "(fallback)" in status
        await pilot.press("q")


async def test_drift_error_is_shown_and_the_app_keeps_running(api, tmp_path):
    port, _ = api
    app = create_app(console(tmp_path, api_url=f"http://127.0.0.1:{port}"))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.state.snapshot is not None)
        await pilot.press("4")
        app.query_one("#drift-current").value = "live"  # nothing was scored yet: the buffer is empty
        await pilot.press("d")
        await wait_for(pilot, lambda: "failed" in str(app.query_one("#drift-status").render()), timeout=90)
        assert "live buffer is empty" in str(app.query_one("#drift-status").render())
        polls = app.state.polls
        await wait_for(pilot, lambda: app.state.polls > polls + 1)
        await pilot.press("q")


def test_history_bounds_memory():
    config = ConsoleConfig(api_url="http://x", interval=1, history=30)
    app = create_app(config, source=FakeSource())
    assert app.state.timeline.points.maxlen == 31
    app.drift.engine.close()
