"""Drift as a time series: the per-feature scores and verdicts of scheduled live checks, bounded.

Each run is kept as an immutable record; the console draws them as a features ×
time heatmap (the strength of each feature's drift against its own threshold)
and the drift share over time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .drift_types import DriftResult

# Tests whose score is a distance (drift when above the threshold); the others give p-values
# (drift when below it). Evidently's names.
DISTANCE_TESTS = frozenset({"wasserstein", "jensenshannon", "kl_div", "psi", "hellinger", "ed", "TVD"})


@dataclass(frozen=True)
class ColumnScore:
    column: str
    strength: float | None  # 1.0 at the threshold, above 1 drifted; None without a score
    drifted: bool


@dataclass(frozen=True)
class DriftRun:
    at: float  # unix seconds
    reference: str
    current: str
    share: float
    decision: str
    columns: tuple[ColumnScore, ...]


def strength(score: float | None, threshold: float, stattest: str) -> float | None:
    """How far past its threshold a column is: score/threshold for distances, threshold/score for p-values."""
    if score is None or threshold <= 0:
        return None
    if stattest in DISTANCE_TESTS or any(stattest.startswith(t) for t in DISTANCE_TESTS):
        return score / threshold
    return threshold / max(score, 1e-12)


class DriftHistory:
    def __init__(self, capacity: int = 120):
        self.runs: deque[DriftRun] = deque(maxlen=capacity)

    def add(self, result: DriftResult, at: float) -> DriftRun:
        run = DriftRun(
            at=at,
            reference=result.reference,
            current=result.current,
            share=result.drift_share,
            decision=result.decision,
            columns=tuple(
                ColumnScore(c.column, strength(c.score, c.threshold, c.stattest), c.drifted) for c in result.columns
            ),
        )
        self.runs.append(run)
        return run

    def matrix(self, last: int) -> tuple[list[str], list[list[ColumnScore | None]]]:
        """(feature names, one row per feature of the last ``last`` runs, oldest first); None where a run lacks it."""
        runs = list(self.runs)[-last:] if last > 0 else []
        names = sorted({c.column for r in runs for c in r.columns})
        by_run = [{c.column: c for c in r.columns} for r in runs]
        return names, [[cols.get(name) for cols in by_run] for name in names]
