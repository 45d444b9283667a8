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
from dataclasses import replace

from .drift_types import (
    DEFAULT_REPORTS_DIR,
    DEFAULT_THRESHOLD,
    LABEL_METHOD,
    LABEL_THRESHOLD,
    NO_ACTION,
    RETRAIN,
    ColumnDrift,
    DriftDecision,
    DriftRequest,
    DriftResult,
    decide,
)
from .errors import DriftError

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "DEFAULT_THRESHOLD",
    "LABEL_METHOD",
    "LABEL_THRESHOLD",
    "NO_ACTION",
    "RETRAIN",
    "ColumnDrift",
    "DriftDecision",
    "DriftEngine",
    "DriftError",
    "DriftRequest",
    "DriftResult",
    "decide",
]


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
