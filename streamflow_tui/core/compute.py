"""Turn raw cumulative series into the quantities of a Snapshot, as PromQL would.

Each function mirrors one query of the Prometheus source, e.g.
``sum by (endpoint, status, code) (rate(api_requests_total[W]))`` or
``histogram_quantile(0.95, sum by (le) (rate(..._bucket[W])))``, evaluated on
ring buffers at the time of the newest scrape.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .exposition import Labels, finite
from .history import SampleRing
from .naming import derive_status, status_of
from .promql import extrapolated_rate, histogram_quantile, parse_le
from .results import (
    Bucket,
    CounterPart,
    Latency,
    LatencySpec,
    MetricChoice,
    QuantileBounds,
    RequestStats,
    SeriesRate,
)

QUANTILES = (0.5, 0.95, 0.99)
SCORE_BAR_WIDTH = 0.05  # the score distribution is shown in bars this wide (served 0.01 wide, for the AUC)


@dataclass(frozen=True)
class Window:
    """Where to evaluate: at ``eval_ms`` over ``range_ms``; a zero range means "since start" (cumulative)."""

    eval_ms: int
    range_ms: int
    # Both ends are scrapes at which a stepwise counter jumped (steps.py): the growth between them over
    # their time apart, with no extrapolation (that would stretch a step over time it did not cover).
    between_steps: bool = False

    @property
    def cumulative(self) -> bool:
        return self.range_ms <= 0

    def value(self, ring: SampleRing, *, per_second: bool, exact: bool = False) -> float | None:
        """rate() / increase() over the window, or the latest cumulative value; ``exact``: the counter's
        growth over the window, not extrapolated (``growth``)."""
        if self.cumulative:
            return _latest(ring, self.eval_ms)
        if self.between_steps:
            end, start = ring.at_or_before(self.eval_ms), ring.at_or_before(self.eval_ms - self.range_ms)
            if end is None or end[0] != self.eval_ms:
                return None
            grown = end[1] - (start[1] if start else 0.0)  # no sample before: born inside, from zero
            grown = grown if grown >= 0 else end[1]  # a reset: everything since is its value
            return grown / (self.range_ms / 1000) if per_second else grown
        if exact:
            return self.growth(ring)
        samples = ring.between(self.eval_ms - self.range_ms, self.eval_ms)
        if not samples or samples[-1][0] != self.eval_ms:
            return None  # the series was absent from the newest scrape
        return extrapolated_rate(samples, self.eval_ms, self.range_ms, is_rate=per_second)

    def growth(self, ring: SampleRing) -> float | None:
        """How much a counter grew in the window: its value now minus its value at the window's start (the
        newest sample then; its first sample if it is younger). Counts of labels must stay counts, and
        increase()'s extrapolation scales each series by its own factor, which skews ratios between them.
        A counter that fell was reset: everything since the reset is its current value."""
        end = ring.last()
        if end is None or end[0] != self.eval_ms:
            return None
        start = ring.at_or_before(self.eval_ms - self.range_ms) or ring.first()
        assert start is not None, "the ring has a last sample, so it has a first"
        return end[1] - start[1] if end[1] >= start[1] else end[1]


Series = Iterable[tuple[tuple[str, Labels], SampleRing]]


def _latest(ring: SampleRing, eval_ms: int) -> float | None:
    last = ring.at_or_before(eval_ms)  # the newest scrape's, or an earlier one's for a window between steps
    return last[1] if last and last[0] == eval_ms else None


def requests(series: Series, choice: MetricChoice, window: Window) -> RequestStats:
    """``sum by (endpoint, status, code, model) (rate(<each request counter>[W]))``, classified per series."""
    parts = {p.metric: p for p in choice.requests}
    groups: dict[tuple[str, str | None, str, str | None], list] = {}
    left_out_rate = False  # a left-out series had a rate: the service's own traffic is then measured as 0
    for (name, labels), ring in series:
        part = parts.get(name)
        if part is None:
            continue
        lab = dict(labels)
        if choice.match and not choice.keeps(lab):  # preset filters and excluded endpoints
            left_out_rate = left_out_rate or (not window.cumulative and window.value(ring, per_second=True) is not None)
            continue
        total = _latest(ring, window.eval_ms)
        if total is None:
            continue
        g = groups.setdefault(classify(lab, part, choice), [0.0, None])
        g[0] += total
        r = None if window.cumulative else window.value(ring, per_second=True)
        if r is not None:
            g[1] = r if g[1] is None else g[1] + r
    if not groups:
        # Only monitoring traffic (an idle API being scraped): zero requests, measured — not "no data".
        # Or a model server's counters, declared before its first call: zero requests so far, measured.
        return (
            RequestStats(total=0.0, rps=0.0, error_ratio=None)
            if left_out_rate or choice.declared_only
            else RequestStats(total=None, rps=None, error_ratio=None)
        )
    by_series = tuple(
        SeriesRate(endpoint=e, status=s, code=c, total=finite(t), rps=finite(r), model=m)
        for (e, s, c, m), (t, r) in sorted(groups.items(), key=lambda kv: tuple(x or "" for x in kv[0]))
    )
    total = sum(t for t, _ in groups.values())
    if window.cumulative:
        errors = sum(t for (_, s, _, _), (t, _) in groups.items() if s == "error")
        ratio = finite(errors / total) if total and choice.errors_known else None
        return RequestStats(total=finite(total), rps=None, error_ratio=ratio, by_series=by_series)
    rates = [r for _, r in groups.values() if r is not None]
    rps = sum(rates) if rates else None
    errors = sum(r for (_, s, _, _), (_, r) in groups.items() if s == "error" and r is not None)
    ratio = errors / rps if rps and choice.errors_known else None
    return RequestStats(total=finite(total), rps=finite(rps), error_ratio=finite(ratio), by_series=by_series)


def classify(
    labels: dict[str, str], part: CounterPart, choice: MetricChoice
) -> tuple[str, str | None, str, str | None]:
    """(endpoint, status, code, model) of one request series; status None when the target does not say."""
    code = part.code or (labels.get(choice.code_label, "") if choice.code_label else "")
    raised = bool(choice.error_label and choice.code_label and not code)  # OpenTelemetry: no response, an exception
    if raised:
        code = labels.get(choice.error_label or "", "") or "raised"
    if not choice.errors_known:
        status = None
    elif part.status:
        status = part.status
    elif raised:
        status = "error"
    else:
        status = status_of(labels.get(choice.status_label)) if choice.status_label else None
        status = status or derive_status(code)
    endpoint = labels.get(choice.endpoint_label, "") if choice.endpoint_label else ""
    model = labels.get(choice.model_label) if choice.model_label else None
    return endpoint, status, code, model


def bucket_values(
    series: Series,
    bucket_name: str,
    window: Window,
    *,
    per_second: bool,
    group_by: Callable[[dict], str] | None = None,
    keep: Callable[[dict], bool] | None = None,
    exact: bool = False,
) -> dict[str, list[tuple[float, float]]]:
    """``sum by (le[, group]) (rate|increase(bucket[W]))`` as {group: [(le, value)]}."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (name, labels), ring in series:
        if name != bucket_name:
            continue
        lab = dict(labels)
        if keep is not None and not keep(lab):
            continue
        value = window.value(ring, per_second=per_second, exact=exact)
        if value is None or "le" not in lab:
            continue
        sums[group_by(lab) if group_by else ""][lab["le"]] += value
    out = {}
    for group, by_le in sums.items():
        parsed = [(parse_le(le), v) for le, v in by_le.items()]
        out[group] = [(b, v) for b, v in parsed if b is not None]
    return out


def quantiles(buckets: list[tuple[float, float]]) -> dict[str, float | None]:
    return {f"p{round(q * 100)}": finite(histogram_quantile(q, buckets)) for q in QUANTILES}


def bucket_of(q: float, histogram: tuple[Bucket, ...]) -> QuantileBounds | None:
    """The bucket the q-quantile falls in, from per-bucket counts (as histogram_quantile searches it: the first
    bucket whose cumulative count reaches rank q·n; the first bucket's lower edge is 0)."""
    counts = [(b.le, b.count) for b in sorted(histogram, key=lambda b: b.le)]
    if len(counts) < 2 or any(c is None or not math.isfinite(c) for _, c in counts) or not math.isinf(counts[-1][0]):
        return None
    total = sum(c for _, c in counts if c is not None)
    if total <= 0:
        return None
    rank, running, lower = q * total, 0.0, 0.0
    for i, (le, count) in enumerate(counts):
        running += count or 0.0
        if running >= rank:
            if i == 0 and le <= 0:
                return QuantileBounds(le, le)
            return QuantileBounds(lower if i else 0.0, le)
        lower = le
    return None


def with_bounds(latency: Latency, histogram: tuple[Bucket, ...]) -> Latency:
    """The latency with each histogram quantile's bucket (bounds in seconds, as ``histogram`` is scaled)."""
    bounds = []
    for q in QUANTILES:
        key = f"p{round(q * 100)}"
        if getattr(latency, key) is not None:
            found = bucket_of(q, histogram)
            if found is not None:
                bounds.append((key, found))
    return replace(latency, bounds=tuple(bounds))


def latency(series: Series, spec: LatencySpec, window: Window, keep: Callable[[dict], bool] | None = None) -> Latency:
    """avg/p50/p95/p99 (and max where served) in seconds, whatever unit the target serves."""
    per_second = not window.cumulative
    scale = spec.scale
    sums = counts = 0.0
    seen = False
    count_names = set(spec.count_metrics)
    peak = None
    quantile_series: dict[str, list[float]] = defaultdict(list)
    for (name, labels), ring in series:
        if keep is not None and not keep(dict(labels)):
            continue
        if name == spec.sum_metric or name in count_names:
            value = window.value(ring, per_second=per_second)
            if value is not None:
                seen = True
                if name == spec.sum_metric:
                    sums += value
                else:
                    counts += value
        elif name == spec.max_metric:
            value = _latest(ring, window.eval_ms)
            if value is not None and math.isfinite(value):
                peak = value if peak is None else max(peak, value)
        elif spec.kind == "summary" and name == spec.metric:
            lab = dict(labels)
            value = _latest(ring, window.eval_ms)
            if "quantile" in lab and value is not None:
                quantile_series[lab["quantile"]].append(value)
    avg = finite(sums / counts * scale) if seen and counts else None
    maximum = finite(peak * scale) if peak is not None else None
    if spec.kind == "histogram":
        buckets = bucket_values(series, spec.metric + "_bucket", window, per_second=per_second, keep=keep).get("", [])
        q = {k: (v * scale if v is not None else None) for k, v in quantiles(buckets).items()}
        return Latency.of(q, avg=avg, max=maximum)
    if spec.kind == "summary":
        return Latency.of(summary_quantiles(quantile_series, scale), avg=avg, max=maximum)
    return Latency(avg=avg, max=maximum)


def summary_quantiles(by_quantile: dict[str, list[float]], scale: float) -> dict[str, float | None]:
    """A summary's own quantiles, only where one series serves them: quantiles of several series
    (endpoints, instances) cannot be combined into the quantile of their sum."""
    out: dict[str, float | None] = {}
    for q in QUANTILES:
        values = next((v for k, v in by_quantile.items() if _same_quantile(k, q)), [])
        out[f"p{round(q * 100)}"] = finite(values[0] * scale) if len(values) == 1 else None
    return out


def _same_quantile(text: str, q: float) -> bool:
    try:
        return abs(float(text) - q) < 1e-9
    except ValueError:
        return False


def scaled(q: dict[str, float | None], scale: float) -> Latency:
    """Quantiles as served (ms, µs…) to seconds."""
    return Latency.of({k: (v * scale if v is not None else None) for k, v in q.items()})


def breakdown_label(choice: MetricChoice, histogram_labels: frozenset[str]) -> str | None:
    """The label the table's per-row p95 comes from: the endpoint's, else the model's (vLLM has no routes)."""
    for label in (choice.endpoint_label, choice.model_label):
        if label and label in histogram_labels:
            return label
    return None


def coarser(cumulative: list[tuple[float, float]], width: float) -> list[tuple[float, float]]:
    """Cumulative buckets with only the bounds on a ``width`` grid kept: merging buckets is dropping bounds."""
    return [(le, c) for le, c in cumulative if math.isinf(le) or abs(le / width - round(le / width)) < 1e-6]


def histogram(buckets: list[tuple[float, float]], scale: float = 1.0) -> tuple[Bucket, ...]:
    """Cumulative (le, count) pairs to per-bucket counts, duplicate spellings merged; bounds times ``scale``."""
    merged: dict[float, float] = defaultdict(float)
    for le, count in buckets:
        merged[le * scale] += count
    out, previous = [], 0.0
    for le in sorted(merged):
        count = merged[le]
        out.append(Bucket(le=le, count=finite(count - previous) if math.isfinite(count) else None))
        previous = count if math.isfinite(count) else previous
    return tuple(out)


def reference_churn_rate(reference: tuple[Bucket, ...], threshold: float = 0.5) -> float | None:
    """The share of the reference month's scores above the decision threshold: the churn rate the model
    predicted on the data it was trained on, the baseline for the live predicted rate."""
    total = sum(b.count or 0.0 for b in reference)
    if not total:
        return None
    return sum(b.count or 0.0 for b in reference if b.le > threshold) / total


# How far the live predicted churn rate may stray from the reference month's before it is flagged: 5 points,
# or half the reference rate when that is larger (a 10 % baseline may move to 15 % on an ordinary day).
CHURN_DEPARTURE_POINTS = 0.05
CHURN_DEPARTURE_SHARE = 0.5


def churn_departs(predicted: float | None, reference: float | None) -> bool:
    """Whether the predicted churn rate has left its reference month's neighbourhood: the one case the views
    colour it (a colour on every reading would read as an alarm when all is well)."""
    if predicted is None or reference is None:
        return False
    return abs(predicted - reference) > max(CHURN_DEPARTURE_POINTS, CHURN_DEPARTURE_SHARE * reference)
