"""Typed, immutable results that every metric source yields and every consumer reads.

``None`` always means "not measured" (no data, no rate yet, target down); a
zero is a measurement. Consumers must show the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .llm_types import LlmStats
    from .performance import Performance


@dataclass(frozen=True)
class TargetStatus:
    url: str | None
    up: bool | None
    error: str | None = None


@dataclass(frozen=True)
class SeriesRate:
    endpoint: str
    status: str | None  # "success" | "error"; None when the target does not say
    code: str
    total: float | None
    rps: float | None
    instance: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class RequestStats:
    total: float | None
    rps: float | None
    error_ratio: float | None
    by_series: tuple[SeriesRate, ...] = ()


@dataclass(frozen=True)
class QuantileBounds:
    """The histogram bucket a quantile fell in, in seconds: the quantile is only known to lie between its
    edges (it is interpolated inside). ``upper`` is math.inf for the +Inf bucket."""

    lower: float
    upper: float

    def coarse(self, value: float) -> bool:
        """The bucket is wider than the value itself (everything in the first bucket, or a 0.1-0.5 s bucket
        holding 0.3 s): the interpolated value says little more than its edges, so show the edges."""
        return math.isinf(self.upper) or self.upper - self.lower >= value


@dataclass(frozen=True)
class Latency:
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None  # only where the target serves a maximum (Micrometer's _max gauge)
    # Histogram quantiles only: the bucket each fell in, by key ("p50", "p95", "p99"); summaries serve theirs exactly.
    bounds: tuple[tuple[str, QuantileBounds], ...] = ()

    @classmethod
    def of(cls, q: dict[str, float | None], avg: float | None = None, max: float | None = None) -> Latency:
        """From quantiles by key ("p50", "p95", "p99")."""
        return cls(avg=avg, p50=q.get("p50"), p95=q.get("p95"), p99=q.get("p99"), max=max)

    def bounds_of(self, key: str) -> QuantileBounds | None:
        return next((b for k, b in self.bounds if k == key), None)


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
    reference_histogram: tuple[Bucket, ...] = ()  # the training month's scores, where the target serves them


UNIT_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class CounterPart:
    """One counter that counts requests; ``status``/``code`` when its name says them (Requests5XX)."""

    metric: str  # sample name
    status: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class LatencySpec:
    """Where latency comes from and in which unit it is served.

    ``histogram``: ``metric``_bucket/_sum/_count; ``summary``: ``metric``{quantile} and _sum/_count;
    ``average``: a cumulative duration counter ``metric`` divided by the counters in ``count``.
    """

    kind: str
    metric: str
    unit: str = "s"
    count: tuple[str, ...] = ()
    max_metric: str | None = None
    # Only these series of the latency family (label, PromQL op, value): MLServer's REST histogram times every
    # route, its health probes too, and only the inference route is the model's latency.
    match: tuple[tuple[str, str, str], ...] = ()

    @property
    def scale(self) -> float:
        return UNIT_SCALE[self.unit]

    @property
    def sum_metric(self) -> str:
        return self.metric if self.kind == "average" else self.metric + "_sum"

    @property
    def count_metrics(self) -> tuple[str, ...]:
        return self.count if self.kind == "average" else (self.metric + "_count",)

    def sample_names(self) -> set[str]:
        names = {self.sum_metric, *self.count_metrics}
        if self.kind == "histogram":
            names.add(self.metric + "_bucket")
        elif self.kind == "summary":
            names.add(self.metric)
        if self.max_metric:
            names.add(self.max_metric)
        return names


@dataclass(frozen=True)
class MetricChoice:
    """Which metrics and labels a source reads, what it recognised, and why."""

    requests: tuple[CounterPart, ...]
    latency: LatencySpec | None
    endpoint_label: str | None
    status_label: str | None
    code_label: str | None
    model_label: str | None = None
    errors_known: bool = True  # False: the target does not count failures, so no error ratio
    match: tuple[tuple[str, str, str], ...] = ()  # read only series matching these (label, op, value); op as in PromQL
    excluded: tuple[str, ...] = ()  # endpoint globs left out of every number (monitoring endpoints)
    # OpenTelemetry's error_type: a request whose code is empty and this label set failed (an unhandled exception).
    error_label: str | None = None
    left_out: tuple[str, ...] = ()  # the excluded endpoint values really seen (the note lists these)
    update_period_s: float | None = None  # the server publishes its counters this often (Ray Serve: ~10 s)
    preset: str | None = None  # the named preset recognised or forced
    model_server: bool = False  # a model server's preset: its own counters count model calls, not probes
    # The request counters are declared by the target but have no series yet: nothing counted so far is 0.
    declared_only: bool = False
    family: str = ""  # what was recognised, for people ("vLLM", "detected: …")
    detected: bool = False
    note: str = ""

    @property
    def found(self) -> bool:
        return bool(self.requests)

    @property
    def requests_metrics(self) -> tuple[str, ...]:
        return tuple(p.metric for p in self.requests)

    def sample_names(self) -> set[str]:
        names = set(self.requests_metrics)
        if self.latency:
            names |= self.latency.sample_names()
        return names

    def keeps(self, labels: dict[str, str]) -> bool:
        return all(_matches(labels.get(label, ""), op, value) for label, op, value in self.match)

    def keeps_latency(self, labels: dict[str, str]) -> bool:
        extra = self.latency.match if self.latency else ()
        return self.keeps(labels) and all(_matches(labels.get(label, ""), op, v) for label, op, v in extra)


def _matches(actual: str, op: str, value: str) -> bool:
    import re

    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None  # PromQL regex matchers are anchored
    return hit if op == "=~" else not hit


@dataclass(frozen=True)
class RemoteLoad:
    """Load generators' own client-side metrics (``streamflow-load --metrics-port``), as a Prometheus scraping
    them sums them over every segment of the run(s) it sees.

    ``segments_up`` of ``segments``: segments currently scraped of those the run(s) announce (the ``segment``
    label's ``i/N``) or were seen in the last minutes; the sums cover only the segments up. Rates are per second
    over the snapshot's window; latencies in seconds, corrected (from the intended send times).
    """

    segments: int
    segments_up: int
    hosts: tuple[str, ...] = ()  # the hosts of the segments up
    down: tuple[str, ...] = ()  # segments not scraped now: "i/N@host", or "i/N" for one never seen
    run_ids: tuple[str, ...] = ()
    target_rps: float | None = None  # the sum of the segments' target rates (open model)
    achieved_rps: float | None = None  # answered requests per second, every outcome
    error_ratio: float | None = None
    in_flight: float | None = None
    late_rps: float | None = None  # sends more than 10 ms after their intended time, per second
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def complete(self) -> bool:
        """Every segment announced is scraped: the sums are the whole run's."""
        return self.segments > 0 and self.segments_up == self.segments


@dataclass(frozen=True)
class CounterUpdates:
    """A target whose counters move in steps (Ray Serve pushes its metrics every ~10 s): rates over a window
    shorter than the step period read 0 or twice the truth, so the window is widened to whole periods."""

    period_s: float  # the estimated update period
    how: str  # "detected" (from the scrapes) or "preset" (the server documents it)
    window_s: float | None  # the window the rates were computed over (between two updates), None: not long enough
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
    targets: tuple[tuple[str, bool], ...] = ()  # Prometheus source: (instance, up) of the API's scrape targets
    scrape_interval_s: float | None = None  # Prometheus source: the interval its targets are scraped at
    performance: Performance | None = None  # realised and estimated model performance, where the target counts it
    remote_load: RemoteLoad | None = None  # Prometheus source: load generators it scrapes, when it holds their series
    counter_updates: CounterUpdates | None = None  # scrape source: counters that update in steps, when detected
    llm: LlmStats | None = None  # an LLM engine's TTFT, ITL, tokens, queue and KV cache (core/llm.py), when served

    @property
    def ok(self) -> bool:
        """True when the source could be read (the numbers may still be None for want of data)."""
        target = self.prometheus if self.source == "prometheus" else self.api
        return bool(target.up) and target.error is None

    @property
    def fallback(self) -> str | None:
        """Why the API's own ``/metrics`` stand in for an unreadable Prometheus, when they do."""
        if self.source == "scrape" and self.prometheus.url is not None and self.prometheus.error:
            return f"Prometheus unavailable ({self.prometheus.error})"
        return None


EMPTY_REQUESTS = RequestStats(total=None, rps=None, error_ratio=None)
EMPTY_LATENCY = Latency()
