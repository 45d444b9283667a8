"""The ``streamflow.snapshot/1`` JSON object (docs/schemas/snapshot.schema.json) and its SLO block."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .format import quantile
from .llm_report import llm_json, with_llm_naming
from .results import Bucket, CounterUpdates, Latency, MetricChoice, RemoteLoad, Snapshot, TargetStatus

SCHEMA = "streamflow.snapshot/1"


@dataclass(frozen=True)
class SloCheck:
    name: str  # "p95" | "error_ratio" | "min_auc"
    limit: float
    value: float | None
    minimum: bool = False  # the value must not fall below the limit (AUC), instead of not exceed it
    source: str | None = None  # where the value came from, when it could come from several ("realized"/"estimated")

    @property
    def breached(self) -> bool | None:
        """None when there was nothing to measure: an SLO cannot be judged on no data."""
        if self.value is None:
            return None
        return self.value < self.limit if self.minimum else self.value > self.limit


def slo_checks(
    snapshot: Snapshot, *, p95: float | None = None, error_ratio: float | None = None, min_auc: float | None = None
) -> tuple[SloCheck, ...]:
    checks = []
    if p95 is not None:
        checks.append(SloCheck("p95", p95, snapshot.latency.p95))
    if error_ratio is not None:
        checks.append(SloCheck("error_ratio", error_ratio, snapshot.requests.error_ratio))
    if min_auc is not None:
        # The realised AUC when labels exist, else the estimate: the question is the model's, not the data's.
        perf = snapshot.performance
        realized = perf.realized.roc_auc if perf and perf.realized else None
        estimated = perf.estimated.roc_auc if perf and perf.estimated else None
        value, source = (
            (realized, "realized")
            if realized is not None
            else (estimated, "estimated" if estimated is not None else None)
        )
        checks.append(SloCheck("min_auc", min_auc, value, minimum=True, source=source))
    return tuple(checks)


def _target(t: TargetStatus, instances: tuple[tuple[str, bool], ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"url": t.url, "up": t.up, "error": t.error}
    if instances:
        out["instances"] = [{"instance": i, "up": up} for i, up in instances]
    return out


def _le(value: float) -> float | str:
    return "+Inf" if math.isinf(value) else value


def buckets_json(buckets: tuple[Bucket, ...]) -> list[dict[str, Any]]:
    return [{"le": _le(b.le), "count": b.count} for b in buckets]


def to_json(snapshot: Snapshot, slo: tuple[SloCheck, ...] = (), drift: dict | None = None) -> dict[str, Any]:
    r = snapshot.requests
    by_series = []
    for s in r.by_series:
        row: dict[str, Any] = {
            "endpoint": s.endpoint,
            "status": s.status,
            "code": s.code,
            "total": s.total,
            "rps": s.rps,
        }
        if s.model is not None:
            row["model"] = s.model
        if s.instance is not None:
            row["instance"] = s.instance
        by_series.append(row)
    m = snapshot.model
    model = None
    if m is not None:
        model = {
            "version": m.version,
            "training_month": m.training_month,
            "served_month": m.served_month,
            "predictions_per_s": m.predictions_per_s,
            "predicted_churn_rate": m.predicted_churn_rate,
            "score_histogram": buckets_json(m.score_histogram),
        }
    lat = snapshot.latency
    return {
        "schema": SCHEMA,
        "taken_at": snapshot.taken_at.isoformat(),
        "source": snapshot.source,
        "api": _target(snapshot.api, snapshot.targets),
        "prometheus": _target(snapshot.prometheus),
        "window_seconds": snapshot.window_seconds,
        "scrape_interval_seconds": snapshot.scrape_interval_s,
        "requests": {"total": r.total, "rps": r.rps, "error_ratio": r.error_ratio, "by_series": by_series},
        "latency_seconds": {"avg": lat.avg, "p50": lat.p50, "p95": lat.p95, "p99": lat.p99, "max": lat.max},
        "latency_histogram": buckets_json(snapshot.latency_histogram),
        "model": model,
        "slo": {
            c.name: {
                "limit": c.limit,
                "value": c.value,
                "breached": c.breached,
                **({"source": c.source} if c.minimum else {}),
            }
            for c in slo
        }
        or None,
        "performance": snapshot.performance.to_json() if snapshot.performance else None,
        "drift": drift,
        "naming": with_llm_naming(naming_json(snapshot.metrics), snapshot.llm),
        # Added by #25, after the original keys: readers of streamflow.snapshot/1 that know only those still work.
        "latency_bounds_seconds": bounds_json(lat),
        "counter_updates": updates_json(snapshot.counter_updates),
        # Added by #26 (docs/schemas/snapshot.schema.json): the load generators Prometheus scrapes, as the Load view shows.
        "remote_load": remote_load_json(snapshot.remote_load),
        # Added by #29: an LLM engine's TTFT/ITL/tokens/queue/KV cache (core/llm_report.py); --once adds goodput.
        "llm": llm_json(snapshot.llm),
    }


def bounds_json(lat: Latency) -> dict[str, Any] | None:
    """Per histogram quantile, the edges of the bucket it fell in (seconds; "+Inf" for the last bucket), whether
    that bucket is wider than the value itself (then the value is only known to lie within, and the console
    shows the edges), and the text the console shows. None: no histogram quantiles (a summary, an average)."""
    out = {}
    for key in ("p50", "p95", "p99"):
        b, value = lat.bounds_of(key), getattr(lat, key)
        if b is not None and value is not None:
            out[key] = {"lower": b.lower, "upper": _le(b.upper), "coarse": b.coarse(value), "shown": quantile(value, b)}
    return out or None


def remote_load_json(r: RemoteLoad | None) -> dict[str, Any] | None:
    """The load generators' own client-side metrics (``streamflow-load --metrics-port``) that Prometheus scrapes,
    summed over the segments up; None: no such series (the scrape source never has them)."""
    if r is None:
        return None
    return {
        "segments": r.segments,
        "segments_up": r.segments_up,
        "complete": r.complete,
        "hosts": list(r.hosts),
        "down": list(r.down),
        "run_ids": list(r.run_ids),
        "target_rps": r.target_rps,
        "achieved_rps": r.achieved_rps,
        "error_ratio": r.error_ratio,
        "in_flight": r.in_flight,
        "late_rps": r.late_rps,
        "latency_seconds": {"p50": r.p50, "p95": r.p95, "p99": r.p99},
    }


def updates_json(u: CounterUpdates | None) -> dict[str, Any] | None:
    """Counters that update in steps: the period, how it is known, the window used (None: too short)."""
    if u is None:
        return None
    return {"period_seconds": u.period_s, "how": u.how, "window_seconds": u.window_s, "note": u.note}


def naming_json(c: MetricChoice | None) -> dict[str, Any] | None:
    """What was recognised and read, so a user can see (and override) the choice."""
    if c is None:
        return None
    spec = c.latency
    return {
        "preset": c.preset,
        "family": c.family or None,
        "detected": c.detected,
        "requests": list(c.requests_metrics),
        "latency": {"metric": spec.metric, "kind": spec.kind, "unit": spec.unit, "count": list(spec.count_metrics)}
        if spec
        else None,
        "labels": {
            "endpoint": c.endpoint_label,
            "status": c.status_label,
            "code": c.code_label,
            "model": c.model_label,
        },
        "errors_counted": c.errors_known,
        "excluded_endpoints": list(c.excluded),
        "left_out": list(c.left_out),
        "error_label": c.error_label,
        "note": c.note,
    }
