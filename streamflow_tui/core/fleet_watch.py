"""The console's fleet drift (#28): windows of one grid, from the backend's history on, and the drift alarms.

At start, ``backfill`` asks the backend for the last hours window by window (``drift_history``: one range
query), so the heatmap and the detectors start where they were before a restart. Then ``due`` computes every
window completed since the last one, on the same grid (contiguous, never overlapping: each window's counts
feed the per-feature CUSUM detectors once). ``check`` is an on-demand look at the last ``window_s`` seconds; it
does not move the detectors (its window overlaps the grid's).

Blocking (HTTP, and the detectors' calibration, ~2.5 s when the traffic per window changes): call it from a
worker thread. One lock serialises the grid and the detectors; the results are immutable.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .drift import DEFAULT_THRESHOLD, DriftError
from .drift_alarms import AlarmEvent, DetectorView, DriftAlarms, FalseAlarmBudget
from .fleet_drift import FleetDriftResult, FleetNames, QueryClient, drift_history, fleet_drift, fleet_reference

DEFAULT_WINDOW_S = 60.0  # a fleet window when --drift-every does not set one
HISTORY_WINDOWS = 120  # the heatmap's capacity (DriftHistory): a backfill asks no more windows than it keeps


@dataclass(frozen=True)
class FleetUpdate:
    """Windows of the grid, oldest first (idle ones — under 30 rows — left out), the alarms they raised,
    and every detector's state after them."""

    results: tuple[FleetDriftResult, ...]
    alarms: tuple[AlarmEvent, ...]
    detectors: tuple[DetectorView, ...]
    end: float  # the last window's end (unix seconds), idle or not
    windows: int  # windows covered, idle ones included
    seconds: float  # wall time, queries and calibration


class FleetWatch:
    def __init__(
        self,
        client: QueryClient,
        window_s: float,
        *,
        budget: FalseAlarmBudget | None = None,
        backfill_s: float = 6 * 3600.0,
        threshold: float = DEFAULT_THRESHOLD,
        names: FleetNames | None = None,
    ):
        self.client = client
        self.window_s = window_s
        self.budget = budget
        self.backfill_s = min(backfill_s, HISTORY_WINDOWS * window_s)
        self.threshold = threshold
        self.names = names or FleetNames()
        self.last_at: float | None = None  # the grid: windows end at last_at + k * window_s
        self.alarms: DriftAlarms | None = None
        self._alarms_version: str | None = None
        self._lock = threading.Lock()

    def backfill(self, now: float | None = None) -> FleetUpdate:
        """The last hours from the backend's history, window by window, ending now."""
        now = time.time() if now is None else now
        windows = max(1, int(self.backfill_s // self.window_s))
        with self._lock:
            return self._windows(now - windows * self.window_s + self.window_s, now, windows)

    def due(self, now: float | None = None) -> FleetUpdate:
        """Every window of the grid completed since the last one (none yet: the last ``window_s`` seconds)."""
        now = time.time() if now is None else now
        with self._lock:
            first = now if self.last_at is None else self.last_at + self.window_s
            windows = 0 if first > now else int((now - first) // self.window_s) + 1
            if windows == 0:
                return FleetUpdate((), (), self._views(), self.last_at or now, 0, 0.0)
            end = first + (windows - 1) * self.window_s
            windows = min(windows, HISTORY_WINDOWS)  # after a long gap (a suspended laptop): the recent ones
            return self._windows(end - (windows - 1) * self.window_s, end, windows)

    def check(self, now: float | None = None) -> FleetDriftResult:
        """The last ``window_s`` seconds, on demand: the detectors are not moved."""
        return fleet_drift(self.client, self.window_s, self.names, at=now, threshold=self.threshold)

    # -- inside the lock ------------------------------------------------------------------------------------
    def _windows(self, first: float, end: float, windows: int) -> FleetUpdate:
        started = time.perf_counter()
        if windows == 1:
            try:
                results = [fleet_drift(self.client, self.window_s, self.names, at=end, threshold=self.threshold)]
            except DriftError as exc:
                if "row(s)" not in str(exc):  # not an idle window: no counts at all, say so
                    raise
                results = []
        else:
            results = drift_history(self.client, first, end, self.window_s, self.names, threshold=self.threshold)
        self.last_at = end
        alarms = self._feed(results)
        return FleetUpdate(tuple(results), tuple(alarms), self._views(), end, windows, time.perf_counter() - started)

    def _feed(self, results: list[FleetDriftResult]) -> list[AlarmEvent]:
        if self.budget is None:
            return []
        raised: list[AlarmEvent] = []
        for r in results:
            if self.alarms is None or r.version != self._alarms_version:  # a new model: new reference, new detectors
                reference = fleet_reference(self.client, r.version, self.names, at=r.at)
                features = [
                    c.column
                    for c in r.drift.columns
                    if c.column in reference.numeric or c.column in reference.categorical
                ]
                self.alarms = DriftAlarms(reference, self.budget, self.window_s, features)
                self._alarms_version = r.version
            scores = {c.column: c.score for c in r.drift.columns if c.score is not None}
            raised += self.alarms.update(scores, r.drift.rows_current, r.at)
        return raised

    def _views(self) -> tuple[DetectorView, ...]:
        return self.alarms.views() if self.alarms is not None else ()
