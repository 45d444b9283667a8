"""Fleet drift from the metrics backend (#28), run off the UI's loop in thread workers: HTTP and ~40 ms of
arithmetic (no process pool), and the drift alarms' calibration (~2.5 s when the traffic per window moves).

At start the heatmap fills from the backend's history (``FleetWatch.backfill``); then each window of the grid
(``--drift-every``, default 60 s) is checked as it completes, the detectors updated; "live, fleet" in the Drift
view checks the last window on demand. Each ends in a message — ``FleetWindows``/``FleetWindowsFailed``,
``FleetChecked``/``DriftFailed``.
"""

from __future__ import annotations

from textual.app import App
from textual.timer import Timer

from ..core.drift import DEFAULT_THRESHOLD
from ..core.drift_alarms import FalseAlarmBudget
from ..core.errors import DriftError
from ..core.fleet_watch import DEFAULT_WINDOW_S, FleetWatch
from ..core.state import ConsoleState
from ..messages import DriftFailed, FleetChecked, FleetWindows, FleetWindowsFailed

FLEET = "fleet"  # the Drift view's current choice "live, fleet"


class FleetController:
    def __init__(self, app: App, state: ConsoleState):
        self.app = app
        self.state = state
        config = state.config
        self.window_s = config.drift_every or DEFAULT_WINDOW_S
        self.budget = FalseAlarmBudget.parse(config.drift_false_alarms) if config.drift_false_alarms else None
        self.watch: FleetWatch | None = None
        if config.prometheus_url:
            from ..core.prometheus_client import PrometheusClient

            client = PrometheusClient(config.prometheus_url, timeout=config.timeout, options=config.prometheus_options)
            self.watch = FleetWatch(client, self.window_s, budget=self.budget, backfill_s=config.drift_backfill)
        self._timer: Timer | None = None

    @property
    def available(self) -> bool:
        return self.watch is not None

    def start(self) -> None:
        """The backfill, then (with alarms or --drift-every) a window every ``window_s``."""
        if self.watch is None:
            return
        self._run(lambda watch: self._windows(watch, backfill=True), "fleet backfill")
        if self.budget is not None or self.state.config.drift_every:
            self.schedule()

    # -- the grid -------------------------------------------------------------------------------------------
    @property
    def scheduled(self) -> bool:
        return self._timer is not None

    def schedule(self) -> None:
        self._timer = self.app.set_interval(self.window_s, self.tick)

    def unschedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def tick(self) -> None:
        self._run(lambda watch: self._windows(watch, backfill=False), "fleet window")

    def _windows(self, watch: FleetWatch, *, backfill: bool) -> None:
        try:
            update = watch.backfill() if backfill else watch.due()
        except Exception as exc:  # PrometheusError says what; anything else with its type
            self.app.post_message(FleetWindowsFailed(_said(exc), backfill))
            return
        self.app.post_message(FleetWindows(update, backfill))

    # -- on demand ------------------------------------------------------------------------------------------
    def check(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        """The last window, now ("live, fleet"); DriftError without a Prometheus URL."""
        if self.watch is None:
            raise DriftError("live, fleet reads the metrics backend: start the console with --prometheus-url")
        self.watch.threshold = threshold
        self._run(self._check, "fleet drift")

    def _check(self, watch: FleetWatch) -> None:
        try:
            self.app.post_message(FleetChecked(watch.check()))
        except Exception as exc:
            self.app.post_message(DriftFailed(_said(exc)))

    def _run(self, work, name: str) -> None:
        watch = self.watch
        assert watch is not None
        # Not exclusive: a cancelled thread worker runs on regardless; FleetWatch's lock keeps them in turn.
        self.app.run_worker(lambda: work(watch), thread=True, group="fleet", name=name, exit_on_error=False)


def _said(exc: Exception) -> str:
    from ..core.prometheus_client import PrometheusError

    return str(exc) if isinstance(exc, DriftError | PrometheusError) else f"{type(exc).__name__}: {exc}"
