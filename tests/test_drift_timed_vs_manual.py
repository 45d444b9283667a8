"""Timed drift beside a check run by hand, by key presses: the check by hand stays shown, timed runs go to the
heatmap, t runs the first at once, and r retrains on the data checked by hand (never silently on live rows)."""

from __future__ import annotations

from concurrent.futures import Future

from fake_sources import T0, FakeSource
from test_drift_history import result
from waiting import wait_until_async

import streamflow_tui.controllers.drift as drift_controller
from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.errors import RetrainError


class InstantEngine:
    """A drift engine answering at once: month_000 against whatever was asked, every run drifting."""

    def __init__(self):
        self.requests = []

    def submit(self, request) -> Future:
        self.requests.append(request)
        done: Future = Future()
        r = result(0.5, {"monthly_fee"})
        done.set_result(type(r)(**{**r.__dict__, "reference": request.reference, "current": request.current}))
        return done

    def close(self) -> None:
        pass


async def test_timed_drift_keeps_the_manual_check_and_r_retrains_on_it(tmp_path, monkeypatch):
    retrained = []

    def run_retrain(job):
        retrained.append(job.data)
        raise RetrainError("not in this test")

    monkeypatch.setattr(drift_controller, "run_retrain", run_retrain)
    engine = InstantEngine()
    config = ConsoleConfig(
        api_url="http://127.0.0.1:9", interval=3600, reports_dir=str(tmp_path), export_dir=str(tmp_path)
    )
    app = create_app(config, source=FakeSource(start=20), drift_engine=engine, clock=lambda: T0.timestamp())
    app.animation_level = "none"
    async with app.run_test(size=(160, 48)) as pilot:

        async def wait_for(condition, what):
            await wait_until_async(condition, 10, what, interval=0.05, pause=pilot.pause)

        await pilot.press("4", "d")
        await wait_for(lambda: app.state.drift_result is not None, "the check by hand")
        checked = app.state.drift_result
        assert checked.current != "live"
        await pilot.press("t")  # the first timed run at once, not after 60 s
        await wait_for(lambda: len(app.state.drift_history.runs) == 1, "a timed run right after t")
        assert engine.requests[-1].current == "live"
        assert app.state.drift_result is checked  # the headline and table still the check by hand
        assert any("timed drift" == n.title for n in app._notifications)
        await pilot.press("r")
        await wait_for(lambda: retrained, "the retrain command called")
        assert retrained == [checked.current]  # the data checked by hand, not the timed run's live rows
        await pilot.press("t")
