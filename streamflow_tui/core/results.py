"""Typed, immutable results that every metric source yields and every consumer reads.

``None`` always means "not measured" (no data, no rate yet, target down); a
zero is a measurement. Consumers must show the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class SourceError(Exception):
    """A metric source could not be read: ``kind`` for code, ``message`` for people."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class TargetStatus:
    url: str | None
    up: bool | None
    error: str | None = None


@dataclass(frozen=True)
class SeriesRate:
    endpoint: str
    status: str
    code: str
    total: float | None
    rps: float | None
    instance: str | None = None


@dataclass(frozen=True)
class RequestStats:
    total: float | None
    rps: float | None
    error_ratio: float | None
    by_series: tuple[SeriesRate, ...] = ()


@dataclass(frozen=True)
class Latency:
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class Bucket:
    le: float  # upper bound; math.inf for the last bucket
    count: float | None  # observations in this bucket alone (not cumulative)


@dataclass(frozen=True)
class ModelStats:
    version: str | None
    training_month: str | None
    served_month: str | None
    predictions_per_s: float | None
    predicted_churn_rate: float | None
    score_histogram: tuple[Bucket, ...] = ()


@dataclass(frozen=True)
class MetricChoice:
    """Which metrics and labels a source reads, and whether it found them by itself."""

    requests: str | None
    latency: str | None
    endpoint_label: str | None
    status_label: str | None
    code_label: str | None
    detected: bool
    note: str


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    source: str  # "scrape" | "prometheus"
    api: TargetStatus
    prometheus: TargetStatus
    window_seconds: float
    requests: RequestStats
    latency: Latency
    latency_histogram: tuple[Bucket, ...]
    model: ModelStats | None
    metrics: MetricChoice | None
    latency_by_endpoint: tuple[tuple[str, Latency], ...] = ()
    instances: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the source could be read (the numbers may still be None for want of data)."""
        target = self.prometheus if self.source == "prometheus" else self.api
        return bool(target.up) and target.error is None


EMPTY_REQUESTS = RequestStats(total=None, rps=None, error_ratio=None)
EMPTY_LATENCY = Latency()
