"""Turn raw cumulative series into the quantities of a Snapshot, as PromQL would.

Each function mirrors one query of the Prometheus source, e.g.
``sum by (endpoint, status, code) (rate(api_requests_total[W]))`` or
``histogram_quantile(0.95, sum by (le) (rate(..._bucket[W])))``, evaluated on
ring buffers at the time of the newest scrape.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

from .exposition import Labels, finite
from .history import SampleRing
from .naming import derive_status
from .promql import extrapolated_rate, histogram_quantile, parse_le
from .results import Bucket, Latency, MetricChoice, RequestStats, SeriesRate

QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class Window:
    """Where to evaluate: at ``eval_ms`` over ``range_ms``; a zero range means "since start" (cumulative)."""

    eval_ms: int
    range_ms: int

    @property
    def cumulative(self) -> bool:
        return self.range_ms <= 0

    def value(self, ring: SampleRing, *, per_second: bool) -> float | None:
        """rate() / increase() over the window, or the latest cumulative value."""
        if self.cumulative:
            return _latest(ring, self.eval_ms)
        samples = ring.between(self.eval_ms - self.range_ms, self.eval_ms)
        if not samples or samples[-1][0] != self.eval_ms:
            return None  # the series was absent from the newest scrape
        return extrapolated_rate(samples, self.eval_ms, self.range_ms, is_rate=per_second)


Series = Iterable[tuple[tuple[str, Labels], SampleRing]]


def _latest(ring: SampleRing, eval_ms: int) -> float | None:
    last = ring.last()
    return last[1] if last and last[0] == eval_ms else None


def requests(series: Series, choice: MetricChoice, window: Window) -> RequestStats:
    groups: dict[tuple[str, str, str], list] = {}
    for (name, labels), ring in series:
        if name != choice.requests:
            continue
        total = _latest(ring, window.eval_ms)
        if total is None:
            continue
        lab = dict(labels)
        code = lab.get(choice.code_label, "") if choice.code_label else ""
        status = lab.get(choice.status_label) if choice.status_label else None
        key = (lab.get(choice.endpoint_label, "") if choice.endpoint_label else "", status or derive_status(code), code)
        g = groups.setdefault(key, [0.0, None])
        g[0] += total
        r = None if window.cumulative else window.value(ring, per_second=True)
        if r is not None:
            g[1] = r if g[1] is None else g[1] + r
    if not groups:
        return RequestStats(total=None, rps=None, error_ratio=None)
    by_series = tuple(
        SeriesRate(endpoint=e, status=s, code=c, total=finite(t), rps=finite(r))
        for (e, s, c), (t, r) in sorted(groups.items())
    )
    total = sum(t for t, _ in groups.values())
    if window.cumulative:
        errors = sum(t for (_, s, _), (t, _) in groups.items() if s == "error")
        ratio = finite(errors / total) if total else None
        return RequestStats(total=finite(total), rps=None, error_ratio=ratio, by_series=by_series)
    rates = [r for _, r in groups.values() if r is not None]
    rps = sum(rates) if rates else None
    errors = sum(r for (_, s, _), (_, r) in groups.items() if s == "error" and r is not None)
    ratio = errors / rps if rps else None
    return RequestStats(total=finite(total), rps=finite(rps), error_ratio=finite(ratio), by_series=by_series)


def bucket_values(
    series: Series, bucket_name: str, window: Window, *, per_second: bool, group_by: Callable[[dict], str] | None = None
) -> dict[str, list[tuple[float, float]]]:
    """``sum by (le[, group]) (rate|increase(bucket[W]))`` as {group: [(le, value)]}."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (name, labels), ring in series:
        if name != bucket_name:
            continue
        lab = dict(labels)
        value = window.value(ring, per_second=per_second)
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


def latency(series: Series, base: str, window: Window) -> Latency:
    per_second = not window.cumulative
    buckets = bucket_values(series, base + "_bucket", window, per_second=per_second).get("", [])
    sums = counts = 0.0
    seen = False
    for (name, _), ring in series:
        if name in (base + "_sum", base + "_count"):
            value = window.value(ring, per_second=per_second)
            if value is not None:
                seen = True
                if name.endswith("_sum"):
                    sums += value
                else:
                    counts += value
    avg = finite(sums / counts) if seen and counts else None
    return Latency(avg=avg, **quantiles(buckets))


def histogram(buckets: list[tuple[float, float]]) -> tuple[Bucket, ...]:
    """Cumulative (le, count) pairs to per-bucket counts, duplicate spellings merged."""
    merged: dict[float, float] = defaultdict(float)
    for le, count in buckets:
        merged[le] += count
    out, previous = [], 0.0
    for le in sorted(merged):
        count = merged[le]
        out.append(Bucket(le=le, count=finite(count - previous) if math.isfinite(count) else None))
        previous = count if math.isfinite(count) else previous
    return tuple(out)
