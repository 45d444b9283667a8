"""What the console watches and how, from the command line."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

from streamflow_data.policy import DEFAULT_REGISTRY

from .connection import ConnectionOptions
from .drift_types import DEFAULT_REPORTS_DIR
from .naming import DEFAULT_EXCLUDED, MetricNames
from .retraining import DEFAULT_MIN_GAIN


@dataclass(frozen=True)
class ConsoleConfig:
    api_url: str | None
    prometheus_url: str | None = None
    interval: float = 1.0  # seconds between polls
    history: float = 600.0  # seconds of history kept for charts
    window: float = 5.0  # seconds that rates and percentiles are computed over
    reports_dir: str = DEFAULT_REPORTS_DIR
    export_dir: str = "exports"
    # Time charts redraw at most this often (plotext costs ~40 ms a chart); None: once per time slice
    # of the chart (history / CHART_POINTS, at least 5 s), since a redraw sooner adds no new slice.
    chart_interval: float | None = None
    slo_p95: float = 0.100  # highlighted when breached
    slo_error_ratio: float = 0.05
    names: MetricNames = field(default_factory=MetricNames)
    preset: str | None = None  # read the target as this preset (default: recognised)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDED  # endpoints left out of every number
    job: str | None = None  # Prometheus scrape job of the API
    performance_window: float = 0.0  # seconds model quality is computed over (0: since the API started)
    registry: str = DEFAULT_REGISTRY  # where r registers a retrained model (the API serves this registry's champion)
    # local: directory (default: the embedded API's own, or with --api-url <cache>/streamflow/registry); mlflow: URI
    registry_location: str | None = None
    min_gain: float = DEFAULT_MIN_GAIN  # relative log-loss gain a challenger needs to be promoted
    # r / --retrain run this command (placeholders {data} {api_url} {min_gain} {registry} {registry_location})
    # and read the streamflow.retrain/1 decision it prints; None: streamflow-retrain
    retrain_cmd: str | None = None
    drift_every: float | None = None  # seconds between scheduled live drift checks (None: off until t is pressed)
    # --drift-false-alarms N/DURATION (with a Prometheus URL): per-feature drift alarms under this budget
    drift_false_alarms: str | None = None
    drift_backfill: float = 6 * 3600.0  # seconds of fleet drift history read from Prometheus at start (≤ 120 windows)
    timeout: float = 3.0  # seconds a poll may take, whole
    # --record: every poll, drift result, load phase and model change go to this SQLite file
    record_path: str | None = None
    prometheus_options: ConnectionOptions = field(default_factory=ConnectionOptions)
    api_options: ConnectionOptions = field(default_factory=ConnectionOptions)

    @property
    def history_points(self) -> int:
        return max(2, int(self.history / self.interval) + 1)


# Each field's default, for the command line's help and defaults (the one place they are written is above).
DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(ConsoleConfig) if f.default is not MISSING}
