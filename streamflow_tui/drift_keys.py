"""The App's drift and retraining keys, the Drift view's requests and the workers' results (a part of
``StreamFlowApp``): routing only — ``controllers.drift`` runs the checks and the retraining, ``core.state``
keeps their results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App

from .browser import open_in_browser
from .controllers.drift import DriftChoice, DriftController, threshold_of
from .controllers.fleet import FLEET, FleetController
from .core.config import ConsoleConfig
from .core.errors import DriftError
from .core.state import ConsoleState
from .messages import (
    DriftDone,
    DriftFailed,
    FleetChecked,
    FleetWindows,
    FleetWindowsFailed,
    HtmlReady,
    RetrainDone,
    RetrainFailed,
)
from .widgets.drift_view import DriftView


class DriftKeys(App[None]):
    """What these keys need of the App: its state, its drift controller, and its redraws."""

    state: ConsoleState
    config: ConsoleConfig
    drift: DriftController
    fleet: FleetController

    if TYPE_CHECKING:  # provided by StreamFlowApp and its other parts

        def _show_status(self) -> None: ...

        def _show_load(self) -> None: ...

        def _replaying(self, what: str) -> bool: ...

        def action_tab(self, tab: str) -> None: ...

        def _record(self, t: float, kind: str, obj: Any) -> None: ...

    def action_run_drift(self, choice: DriftChoice | None = None) -> None:
        self._run_drift(choice or self.query_one(DriftView).choice())

    @on(DriftView.RunRequested)
    def _run_requested(self, message: DriftView.RunRequested) -> None:
        self.action_run_drift(message.choice)

    def _run_drift(self, choice: DriftChoice) -> None:
        if self._replaying("run a drift check"):
            return
        if self.drift.started is not None:
            self.notify("a drift check is already running", severity="warning")
            return
        self.action_tab("drift")
        view = self.query_one(DriftView)
        try:
            if choice.current == FLEET:
                self.fleet.check(threshold_of(choice))
                self.drift.started, self.drift.scheduled_run = self.state.clock(), False
            else:
                self.drift.start(choice)
        except DriftError as exc:
            view.failed(str(exc))
            self.notify(str(exc), title="drift check failed", severity="error", timeout=10)
            return
        view.running(choice.reference, choice.current, self.state.clock(), self.state.clock)

    # -- fleet drift from the metrics backend (#28) ------------------------------------------------------
    def _start_fleet(self) -> None:
        """With a Prometheus URL: "live, fleet" is offered, and the heatmap fills from the backend's history."""
        if not self.fleet.available:
            return
        self.query_one(DriftView).enable_fleet()
        self.fleet.start()

    def on_fleet_checked(self, message: FleetChecked) -> None:
        self.drift.finished()
        r = message.result
        self.state.apply_drift(r.drift, scheduled=False)
        self._record(self.state.drift_done_at or 0.0, "drift", r.drift)
        view = self.query_one(DriftView)
        view.show_history(self.state.drift_history)
        view.show(r.drift)
        view.fleet_status(f"✔ {fleet_said(r)}")

    def on_fleet_windows(self, message: FleetWindows) -> None:
        u = message.update
        self.state.apply_fleet_windows(
            [r.drift for r in u.results], [r.at for r in u.results], list(u.alarms), u.detectors
        )
        for alarm in u.alarms:
            self._record(alarm.at, "alarm", alarm)
            self.notify(
                f"{alarm.feature}: CUSUM {alarm.cusum:.1f} > {alarm.limit:.1f} (score {alarm.score:.3g})",
                title="drift alarm",
                severity="error",
                timeout=12,
            )
        view = self.query_one(DriftView)
        if u.results:
            if not message.backfill:
                self._record(u.results[-1].at, "drift", u.results[-1].drift)
            view.show_history(self.state.drift_history)
            if self.drift.started is None:  # an on-demand check keeps the table until it ends
                view.show(u.results[-1].drift)
                what = f"{len(u.results)} of {u.windows} windows from Prometheus" if message.backfill else "window"
                view.fleet_status(f"✔ {fleet_said(u.results[-1])} ({what}, {u.seconds * 1000:.0f} ms)")
        elif message.backfill and self.drift.started is None:
            view.fleet_status(
                f"no fleet drift in the backend's last {u.windows} windows of {self.fleet.window_s:g} s"
                " (fewer than 30 rows each); d checks any pair, live, fleet the last window"
            )
        view.show_alarms(self.state.detectors, self.state.alarms, self.fleet.window_s)

    def on_fleet_windows_failed(self, message: FleetWindowsFailed) -> None:
        what = "fleet drift history" if message.backfill else "fleet drift window"
        if self.drift.started is None:
            self.query_one(DriftView).fleet_status(f"✖ {what}: {message.error}", error=True)

    def _scheduled_drift(self) -> None:
        """The Drift view's reference against the API's latest rows, no report files: a point of the series."""
        if self.drift.started is not None:
            return  # the last check still runs: this tick is skipped, not queued
        try:
            self.drift.start(self.query_one(DriftView).choice(), scheduled=True)
        except DriftError as exc:
            self.notify(str(exc), title="scheduled drift", severity="error")

    def action_toggle_scheduled_drift(self) -> None:
        if self._replaying("schedule drift checks"):
            return
        if self.fleet.available:  # with a metrics backend, the schedule is the fleet's windows
            if self.fleet.scheduled:
                self.fleet.unschedule()
                self.notify("fleet drift windows off")
            else:
                self.fleet.schedule()
                self.notify(f"fleet drift checked every {self.fleet.window_s:g} s window (t stops it)")
            return
        if self.drift.scheduled:
            self.drift.unschedule()
            self.notify("scheduled live drift off")
        elif not self.config.api_url:
            self.notify("scheduled drift checks live rows: it needs --api-url", severity="warning")
        else:
            self.drift.schedule(self._scheduled_drift)
            self._scheduled_drift()  # the first run at once, not a period later
            self.notify(f"live drift checked now and every {self.drift.every:g} s (t stops it)")

    def on_drift_done(self, message: DriftDone) -> None:
        scheduled = self.drift.finished()
        shown = self.state.apply_drift(message.result, scheduled=scheduled)
        view = self.query_one(DriftView)
        if scheduled or message.result.current == "live":
            view.show_history(self.state.drift_history)
        if shown:
            self._record(self.state.drift_done_at or 0.0, "drift", message.result)
            view.show(message.result)
        else:  # a timed run beside a check by hand: in the heatmap, and said once, without replacing the check
            r = message.result
            self.notify(
                f"{r.decision.value} {r.drifted_columns}/{r.total_columns} columns drift ({r.reference} → live);"
                f" the check shown ({self.state.drift_checked.current if self.state.drift_checked else '?'})"
                " stays, and r retrains on it",
                title="timed drift",
                timeout=5,
            )

    def on_drift_failed(self, message: DriftFailed) -> None:
        self.drift.finished()
        self.query_one(DriftView).failed(message.error)
        # The view's status row is one line; the whole message stays readable here.
        self.notify(message.error, title="drift check failed", severity="error", timeout=10)

    def on_html_ready(self, message: HtmlReady) -> None:
        if self.state.drift_result is not None and message.path:
            from dataclasses import replace

            self.state.drift_result = replace(self.state.drift_result, report_html=message.path)
        self.query_one(DriftView).html(message.path, message.error)

    def action_open_report(self) -> None:
        path = self.state.drift_result.report_html if self.state.drift_result else None
        if not path:
            self.notify("no HTML report yet: run a drift check (d)", severity="warning")
            return
        why_not = open_in_browser(path)
        if why_not:
            self.notify(
                f"{why_not}: the report is {Path(path).resolve()}",
                title="report not opened",
                severity="warning",
                timeout=12,
            )
        else:
            self.notify(f"opened {path} in the browser")

    def action_retrain(self) -> None:
        """Train a challenger on the last drift check's current data, compare, promote or keep (a command)."""
        if self._replaying("retrain"):
            return
        if self.drift.retrain_started is not None:
            self.notify("retraining is already running", severity="warning")
        elif self.state.drift_checked is None:
            self.notify("run a drift check first (d): r retrains on its current data", severity="warning")
        else:
            self.action_tab("drift")
            self.drift.retrain()
            assert self.drift.retrain_data is not None and self.drift.retrain_started is not None
            self.query_one(DriftView).retrain_running(
                self.drift.retrain_data, self.drift.retrain_started, self.state.clock
            )

    def on_retrain_done(self, message: RetrainDone) -> None:
        self.drift.retrain_started = None
        d = message.decision
        self.state.apply_retrain(d)
        self._record(self.state.clock(), "retrain", d)
        self.query_one(DriftView).retrain_done(d)
        self.notify(d.reason, title=f"retrain: {d.decision}", severity="information" if d.promoted else "warning")

    def on_retrain_failed(self, message: RetrainFailed) -> None:
        self.drift.retrain_started = None
        self.query_one(DriftView).retrain_failed(message.error)
        self.notify(message.error, title="retraining failed", severity="error", timeout=10)


def fleet_said(r) -> str:
    """Where a fleet result came from, in a line: the backend, the replicas, the window, the model."""
    import time

    window = f"{r.window_seconds:g} s to {time.strftime('%H:%M:%S', time.localtime(r.at))}"
    return (
        f"fleet drift from {r.source}: {r.replicas} replica(s), {r.drift.rows_current:,} rows in {window},"
        f" reference = model {r.version}'s training rows"
    )
