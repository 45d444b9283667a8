"""The drift engine: Evidently runs in a separate, pre-warmed process; results come back typed.

Evidently takes ~4 s to import and holds the GIL for long stretches of a run,
so it never runs in the caller's process: ``DriftEngine`` owns one worker
process (spawned and warmed in the background when the engine is created) and
hands back futures. The table (``DriftResult``) comes first; the HTML report is
written by a second job from the same evaluated report, so it never holds the
table up.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

from .distribution import Distribution

DEFAULT_THRESHOLD = 0.30
DEFAULT_REPORTS_DIR = "reports/evidently"
RETRAIN, NO_ACTION = "RETRAINING_TRIGGERED", "NO_ACTION"
# A binary label needs a test of proportions: Evidently's default (Jensen-Shannon
# distance >= 0.1) misses month_004's 9-point churn jump at 7,000 rows (distance 0.09).
LABEL_METHOD, LABEL_THRESHOLD = "z", 0.05


class DriftError(Exception):
    """A drift check that cannot run: the message names the problem."""


@dataclass(frozen=True)
class DriftRequest:
    reference: str  # month_XXX, a .csv/.parquet path, or "live"
    current: str
    threshold: float = DEFAULT_THRESHOLD
    reports_dir: str | None = DEFAULT_REPORTS_DIR  # None: no report files
    api_url: str | None = None  # where "live" rows come from
    num_method: str | None = None  # overrides of Evidently's defaults, by column type…
    cat_method: str | None = None
    num_threshold: float | None = None
    cat_threshold: float | None = None
    column_methods: tuple[tuple[str, str], ...] = ()  # …or by column
    column_thresholds: tuple[tuple[str, float], ...] = ()
    label_method: str = LABEL_METHOD
    label_threshold: float = LABEL_THRESHOLD
    keep_reports: int = 100  # runs whose report files are kept in reports_dir; older ones are deleted

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise DriftError(f"the drift-share threshold must be in (0, 1], got {self.threshold}")


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    type: str  # "num" | "cat"
    stattest: str
    score: float | None
    threshold: float
    drifted: bool
    distribution: Distribution | None = field(default=None, compare=False)  # reference vs current, for the view


@dataclass(frozen=True)
class DriftResult:
    reference: str
    current: str
    reference_as_of: str
    current_as_of: str
    rows_reference: int
    rows_current: int
    drift_share: float
    drifted_columns: int
    total_columns: int
    threshold: float
    decision: str
    target_drift: float | None  # |churn rate(current) - churn rate(reference)|, None without labels
    churn_rate_reference: float | None
    churn_rate_current: float | None
    label_drift: bool | None
    label_test: ColumnDrift | None
    columns: tuple[ColumnDrift, ...]
    report_json: str | None = None
    report_html: str | None = None
    seconds: float = 0.0
    token: str = field(default="", repr=False)  # the worker's handle on the evaluated report, for the HTML

    def to_json(self) -> dict[str, Any]:
        """The ``drift`` object of streamflow.snapshot/1."""
        return {
            "reference": self.reference,
            "current": self.current,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "total_columns": self.total_columns,
            "threshold": self.threshold,
            "decision": self.decision,
            "target_drift": self.target_drift,
            "report_html": self.report_html,
            "report_json": self.report_json,
            "columns": [
                {
                    "column": c.column,
                    "type": c.type,
                    "stattest": c.stattest,
                    "score": c.score,
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                }
                for c in self.columns
            ],
        }


class RetrainError(Exception):
    """Retraining could not run: the message names the data or registry problem."""


@dataclass(frozen=True)
class RetrainJob:
    """streamflow-retrain's arguments, for the worker process."""

    data: str  # a bundled month, a file, or "live"
    api_url: str | None = None
    min_gain: float = 0.03
    registry: str = "local"
    registry_location: str | None = None
    cache_dir: str | None = None  # None: the API's default


def decide(drift_share: float, threshold: float) -> str:
    return RETRAIN if drift_share >= threshold else NO_ACTION


class DriftEngine:
    """One warm worker process; ``submit`` returns a Future of DriftResult (errors: DriftError)."""

    def __init__(self, *, warm: bool = True):
        self._pool: ProcessPoolExecutor | None = None
        self._warm = warm
        self._start()

    def _start(self) -> None:
        from . import drift_worker  # light: its heavy imports happen inside the worker

        pool = self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=drift_worker.warm_up
        )
        self.warmed: Future | None = pool.submit(drift_worker.ping) if self._warm else None

    def _running(self) -> ProcessPoolExecutor:
        """The worker pool; ``close`` ends it for good."""
        if self._pool is None:
            raise RuntimeError("the drift engine is closed")
        return self._pool

    def submit(self, request: DriftRequest) -> Future:
        from . import drift_worker

        try:
            return self._running().submit(drift_worker.run, request)
        except BrokenProcessPool:
            self._start()
            return self._running().submit(drift_worker.run, request)

    def submit_retrain(self, job: RetrainJob) -> Future:
        """Retrain in the same warm worker (scikit-learn and pandas are loaded there already); the Future gives
        the streamflow.retrain/1 decision, or raises RetrainError."""
        from . import drift_worker

        try:
            return self._running().submit(drift_worker.retrain, job)
        except BrokenProcessPool:
            self._start()
            return self._running().submit(drift_worker.retrain, job)

    def submit_html(self, result: DriftResult) -> Future:
        """Write the HTML report of a finished run; the Future gives its path."""
        from . import drift_worker

        return self._running().submit(drift_worker.write_html, result.token)

    def run(self, request: DriftRequest, *, with_html: bool = True, timeout: float | None = 300) -> DriftResult:
        """Blocking convenience: the table, then (optionally) the HTML path."""
        try:
            result = self.submit(request).result(timeout)
            if with_html and result.token:
                result = replace(result, report_html=self.submit_html(result).result(timeout))
        except BrokenProcessPool:
            self._start()
            raise DriftError("the drift worker process died; it has been restarted") from None
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
