"""The console driven by Pilot against real parts: the bundled API, the load generator,
Evidently in its worker process, a real Prometheus."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, wait_http

from streamflow_tui.app import create_app
from streamflow_tui.config import ConsoleConfig
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


async def wait_for(pilot, condition, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(step)
    raise AssertionError("condition not met in time")


def console(tmp_path: Path, **kw) -> ConsoleConfig:
    return ConsoleConfig(
        interval=0.3, window=2.0, reports_dir=str(tmp_path / "reports"), export_dir=str(tmp_path / "exports"), **kw
    )


async def test_load_drift_export_help_pause_and_quit(api, tmp_path, monkeypatch):
    port, _ = api
    app = create_app(console(tmp_path, api_url=f"http://127.0.0.1:{port}"))
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))  # no browser on a test machine
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.requests.rps is not None)
        assert app.snapshot.requests.rps < 5  # idle: only our own scrapes

        await pilot.press("l")  # default: open model, 200 req/s
        await wait_for(pilot, lambda: (app.snapshot.requests.rps or 0) > 120)
        card = str(app.query_one("#ov-traffic-card").render())  # the overview, the first screen, shows the live rate
        assert f"{app.snapshot.requests.rps:,.1f} req/s" in card, card
        await pilot.press("plus")
        assert app.load.snapshot().target_rate == 250
        await pilot.press("minus", "minus")
        assert app.load.snapshot().target_rate == 160
        await pilot.press("l")  # stops in a worker thread, off the UI loop
        await wait_for(pilot, lambda: not app.load.running)
        assert "stopped" in str(app.query_one("#load-stats").render())
        report = app.load.snapshot()
        assert report.sent == report.ok + report.errors + report.cancelled and report.ok > 100

        await pilot.press("d")  # month_000 vs month_003 in the pre-warmed worker
        assert app.query_one("#views").active == "drift"
        await wait_for(pilot, lambda: app.drift_result is not None, timeout=90)
        result = app.drift_result
        assert result.decision == "RETRAINING_TRIGGERED"
        table = app.query_one("#drift-table")
        assert table.row_count == 15
        first_rows = [str(table.get_row_at(i)[0]) for i in range(result.drifted_columns)]
        assert set(first_rows) == {c.column for c in result.columns if c.drifted}
        await wait_for(pilot, lambda: app.drift_result.report_html is not None, timeout=60)
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        await pilot.press("o")  # no display (a server, SSH): nothing is opened, and the toast says where the report is
        assert not opened
        assert any(
            "no graphical display" in n.message and app.drift_result.report_html.split("/")[-1] in n.message
            for n in app._notifications
        )
        monkeypatch.setenv("DISPLAY", ":0")
        await pilot.press("o")
        assert opened and opened[0].endswith(".html") and Path(app.drift_result.report_html).exists()

        await pilot.press("e")
        await wait_for(
            pilot, lambda: any((tmp_path / "exports").glob("*/screenshot.svg"))
        )  # taken after the toasts went
        exports = list((tmp_path / "exports").iterdir())
        assert len(exports) == 1
        names = sorted(p.name for p in exports[0].iterdir())
        assert names == ["screenshot.svg", "series.csv", "series.json"]
        assert (exports[0] / "series.csv").read_text().startswith("t,rps,error_ratio")

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("p")
        paused_at = app.polls
        await pilot.pause(1.2)
        assert app.polls <= paused_at + 1 and app.paused
        await pilot.press("p")
        await wait_for(pilot, lambda: app.polls > paused_at + 2)

        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Drift", "Load", "Export", "Pause", "Help"} <= titles
        await pilot.press("q")
    assert app.return_code == 0 or app.return_code is None


async def test_target_down_then_up(api, tmp_path):
    port, proc = api
    app = create_app(console(tmp_path, api_url=f"http://127.0.0.1:{port}"))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(app.timeline.points) >= 3)
        kept = len(app.timeline.points)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        await wait_for(pilot, lambda: app.snapshot is not None and not app.snapshot.ok)
        banner = app.query_one("#banner")
        assert banner.has_class("visible") and "connection refused" in str(banner.render())
        assert len(app.timeline.points) >= kept  # history kept
        restarted = start_api(port)
        try:
            await wait_for(pilot, lambda: app.snapshot.ok and len(app.timeline.points) > kept + 2)
            assert not banner.has_class("visible")
            rates = [p.rps for p in app.timeline.points if p.rps is not None]
            assert all(r >= 0 for r in rates)  # the counter reset is no negative rate
            assert max(rates[-2:]) < 50  # and no made-up spike either
        finally:
            restarted.terminate()
            restarted.wait(10)
        await pilot.press("q")


async def test_prometheus_source_with_backfill(live, tmp_path):
    app = create_app(console(tmp_path, api_url=live.api, prometheus_url=live.prometheus, history=60))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.ok)
        assert app.snapshot.source == "prometheus"
        # Against the rate the traffic thread achieved over the same seconds, not its nominal 40/s: on a busy
        # 2-core runner (and with this app in the same process) the thread falls behind, and the console
        # must show what was sent.
        sent, start = live.traffic.sent[live.api], time.monotonic()
        await wait_for(pilot, lambda: time.monotonic() - start >= 8)
        achieved = (live.traffic.sent[live.api] - sent) / (time.monotonic() - start)
        assert achieved > 5 and app.snapshot.requests.rps == pytest.approx(achieved, rel=0.3)
        await wait_for(pilot, lambda: len(app.timeline.points) > 5)  # backfilled from query_range
        assert "source prometheus" in str(app.query_one("#status-line").render())
        await pilot.press("q")


async def test_prometheus_down_falls_back_to_scrape(api, tmp_path):
    port, _ = api
    app = create_app(
        console(tmp_path, api_url=f"http://127.0.0.1:{port}", prometheus_url=f"http://127.0.0.1:{free_port()}")
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.ok)
        assert app.snapshot.source == "scrape"
        status = str(app.query_one("#status-line").render())
        assert "(fallback)" in status
        await pilot.press("q")


async def test_drift_error_is_shown_and_the_app_keeps_running(api, tmp_path):
    port, _ = api
    app = create_app(console(tmp_path, api_url=f"http://127.0.0.1:{port}"))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("4")
        app.query_one("#drift-current").value = "live"  # nothing was scored yet: the buffer is empty
        await pilot.press("d")
        await wait_for(pilot, lambda: "failed" in str(app.query_one("#drift-status").render()), timeout=90)
        assert "live buffer is empty" in str(app.query_one("#drift-status").render())
        polls = app.polls
        await wait_for(pilot, lambda: app.polls > polls + 1)
        await pilot.press("q")


def test_history_bounds_memory():
    config = ConsoleConfig(api_url="http://x", interval=1, history=30)
    app = create_app(config, sources=(None, None))
    assert app.timeline.points.maxlen == 31
    app._drift_engine.close()
