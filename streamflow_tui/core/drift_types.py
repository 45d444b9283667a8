"""What a drift check is asked and answers: requests, per-column results, the decision (typed).

Shared by the engine (``drift``), its worker process (``drift_worker``), the recording, the views and
``--once``; it imports neither, so none of them depends on another through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .distribution import Distribution
from .errors import DriftError

DEFAULT_THRESHOLD = 0.30
DEFAULT_REPORTS_DIR = "reports/evidently"


class DriftDecision(StrEnum):
    """What a drift check decides: retrain when the drift share reaches the threshold."""

    NO_ACTION = "NO_ACTION"
    RETRAINING_TRIGGERED = "RETRAINING_TRIGGERED"


RETRAIN, NO_ACTION = DriftDecision.RETRAINING_TRIGGERED, DriftDecision.NO_ACTION
# A binary label needs a test of proportions: Evidently's default (Jensen-Shannon
# distance >= 0.1) misses month_004's 9-point churn jump at 7,000 rows (distance 0.09).
LABEL_METHOD, LABEL_THRESHOLD = "z", 0.05


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
    decision: DriftDecision
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

    def __post_init__(self) -> None:
        # Typed whatever built it (a recording of an older format, a test): the enum, never a bare string.
        object.__setattr__(self, "decision", DriftDecision(self.decision))

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


def decide(drift_share: float, threshold: float) -> DriftDecision:
    return RETRAIN if drift_share >= threshold else NO_ACTION
