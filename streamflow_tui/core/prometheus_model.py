"""The model's health as Prometheus holds it, summed over replicas: its output (predictions, churn rate,
score distribution against the reference's) and its quality (realised and estimated, from labels)."""

from __future__ import annotations

from typing import Protocol

from . import compute
from .naming import MetricNames
from .performance import Performance, performance_of
from .prometheus_client import PrometheusClient, _value
from .promql import parse_le
from .results import Bucket, ModelStats


class PrometheusSource(Protocol):
    """What these queries need of the Prometheus source (core/prometheus.py)."""

    client: PrometheusClient
    names: MetricNames
    performance_window: float
    _labels: dict[str, frozenset[str]]

    def _histogram(
        self, expr: str, at: float, scale: float = 1.0, coarse: float | None = None
    ) -> tuple[Bucket, ...]: ...


def model_stats(src: PrometheusSource, w: str, at: float) -> ModelStats | None:
    n = src.names
    by_class = {
        r["metric"].get("predicted_class", ""): _value(r["value"][1])
        for r in src.client.query(f"sum by (predicted_class) (rate({n.predictions}[{w}]))", at)
    }
    # 1 marks a served model, 0 one it replaced (api/serving.py): during a rollout two versions read 1.
    info_rows = src.client.query(f"max by (version, training_month, served_month) ({n.model_info} == 1)", at)
    info = info_rows[0]["metric"] if len(info_rows) == 1 else {}
    if not by_class and not info:
        return None
    measured = [v for v in by_class.values() if v is not None]
    total = sum(measured) if measured else None
    churn = (by_class.get("1") or 0.0) / total if total else None
    return ModelStats(
        version=info.get("version") if info else (f"{len(info_rows)} versions" if info_rows else None),
        training_month=info.get("training_month"),
        served_month=info.get("served_month"),
        predictions_per_s=total,
        predicted_churn_rate=churn,
        score_histogram=src._histogram(
            f"sum by (le) (increase({n.probability}_bucket[{w}]))", at, coarse=compute.SCORE_BAR_WIDTH
        ),
        reference_histogram=src._histogram(
            f"sum by (le) ({n.reference_probability}_bucket)", at, coarse=compute.SCORE_BAR_WIDTH
        )
        if n.reference_probability + "_bucket" in src._labels
        else (),
    )


def performance(src: PrometheusSource, at: float) -> Performance | None:
    """From the cumulative counts summed over replicas (labels arrive long after the predictions)."""
    n = src.names
    if not ({n.labelled, n.probability + "_bucket"} & src._labels.keys()):
        return None  # a target without model metrics: no four queries a poll for nothing
    w = src.performance_window

    def counted(metric: str) -> str:
        """Cumulative since start, or its exact growth over the window: not increase(), whose extrapolation
        scales each series by its own factor and skews the ratios between them. A series that fell was
        reset, one with no sample a window ago is new: for both, all of its current value is in the window."""
        return f"(({metric} - {metric} offset {w:g}s) >= 0 or {metric})" if w else metric

    confusion = {
        (r["metric"].get("predicted", ""), r["metric"].get("actual", "")): _value(r["value"][1]) or 0.0
        for r in src.client.query(f"sum by (predicted, actual) ({counted(n.labelled)})", at)
    }
    by_actual: dict[str, list[tuple[float, float]]] = {}
    for r in src.client.query(f"sum by (le, actual) ({counted(n.labelled_probability + '_bucket')})", at):
        le = parse_le(r["metric"].get("le", ""))
        if le is not None and (v := _value(r["value"][1])) is not None:
            by_actual.setdefault(r["metric"].get("actual", ""), []).append((le, v))
    scores = [
        (le, v)
        for r in src.client.query(f"sum by (le) ({counted(n.probability + '_bucket')})", at)
        if (le := parse_le(r["metric"].get("le", ""))) is not None and (v := _value(r["value"][1])) is not None
    ]
    rows = src.client.query(f"sum({counted(n.predictions)})", at)
    predictions = _value(rows[0]["value"][1]) if rows else None
    return performance_of(
        confusion, by_actual.get("1", []), by_actual.get("0", []), scores, predictions, window_seconds=w or None
    )
