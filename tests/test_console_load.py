"""The console's own load, driven by key presses against the bundled API: what `l` does when the API is down,
settings changed during a run, and an `l` pressed right after a stop."""

from __future__ import annotations

from pathlib import Path

from test_console import api  # noqa: F401  (a fixture)
from textual.widgets import Input
from waiting import wait_until_async

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.widgets.status import StatusLine


def console(tmp_path: Path, port: int) -> ConsoleConfig:
    return ConsoleConfig(
        api_url=f"http://127.0.0.1:{port}",
        interval=0.3,
        window=2.0,
        reports_dir=str(tmp_path / "reports"),
        export_dir=str(tmp_path / "exports"),
    )


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "the condition", seen=None):
    await wait_until_async(condition, timeout, what, interval=0.1, pause=pilot.pause, seen=seen)


def load_text(app) -> str:
    return str(app.query_one("#load-stats").render())


async def test_l_against_a_stopped_api_says_why_and_sends_nothing(api, tmp_path):  # noqa: F811
    port, proc = api
    app = create_app(console(tmp_path, port))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.ok, what="the API UP")
        proc.terminate()
        proc.wait(10)
        await wait_for(pilot, lambda: not app.state.snapshot.ok, what="the poll to see the API down")
        await pilot.press("5", "l")
        assert app.loads.runner is None, "a load was started against a stopped API"
        text = load_text(app)
        assert "not started" in text and "cannot be read" in text and f"127.0.0.1:{port}" in text, text
        assert any("cannot be read" in n.message for n in app._notifications)
        await pilot.press("q")


async def test_settings_changed_during_a_run_are_said_to_apply_at_the_next_start_which_l_l_makes(api, tmp_path):  # noqa: F811
    port, _ = api
    app = create_app(console(tmp_path, port))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.state.snapshot is not None and app.state.snapshot.ok, what="the API UP")
        await pilot.press("5", "l")
        await wait_for(pilot, lambda: app.loads.running, what="the load running")
        first = app.loads.runner
        assert first.config.feedback_delay is None
        app.query_one("#load-feedback", Input).focus()
        await pilot.press("2", "escape")  # labels 2 s after each answer, typed during the run
        await wait_for(
            pilot,
            lambda: any("labels after: applies at the next start" in n.message for n in app._notifications),
            what="a toast saying the change waits for the next start",
        )
        status = str(app.query_one(StatusLine).render())
        assert "labels after at next start" in status, status
        assert app.loads.runner is first and first.config.feedback_delay is None  # the run keeps its settings

        await pilot.press("l", "l")  # stop, and at once start again: the second l is kept until the stop ends
        await wait_for(
            pilot,
            lambda: app.loads.runner is not first and app.loads.running,
            what="a new load started by the l pressed during the stop",
            seen=lambda: (app.loads.runner is first, app.loads.running, app.loads.stopping),
        )
        assert app.loads.runner.config.feedback_delay == 2.0  # the new settings, applied at the start
        assert not first.running
        assert "at next start" not in str(app.query_one(StatusLine).render())
        await pilot.press("l")
        await wait_for(pilot, lambda: not app.loads.running and not app.loads.stopping, what="the load stopped")
        await pilot.press("q")
