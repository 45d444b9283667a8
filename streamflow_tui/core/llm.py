"""LLM serving numbers per model, from an engine's families (llm_presets.py): TTFT, ITL (or per-request TPOT),
end-to-end and queue time as p50/p95/p99 — each with the bucket it fell in —, tokens/s, the queue, the KV cache,
preemptions/s, the prefix-cache hit ratio, and goodput against latency objectives.

Computed from a scrape source's raw series (as PromQL would: ``histogram_quantile(q, sum by (le, model)
(rate(…_bucket[W])))``) or from a Prometheus's answers to the same queries (summed over replicas). None is "not
measured"; a role the engine does not serve is None with the reason from its spec, never 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from . import compute
from .exposition import finite
from .llm_presets import COUNTERS, GAUGES, HISTOGRAMS, LlmSpec
from .llm_types import ALL, QUANTILE_KEYS, Estimate, LlmLatency, LlmModel, LlmStats
from .promql import histogram_quantile, parse_le

# -- from cumulative (le, value) pairs --------------------------------------------------------------


def latency_of(cumulative: list[tuple[float, float]]) -> LlmLatency | None:
    if not cumulative:
        return None
    histogram = compute.histogram(cumulative)
    out = {}
    for key, q in QUANTILE_KEYS:
        value = finite(histogram_quantile(q, cumulative))
        bounds = compute.bucket_of(q, histogram) if value is not None else None
        out[key] = Estimate(value, bounds.lower if bounds else None, bounds.upper if bounds else None)
    return LlmLatency(out["p50"], out["p95"], out["p99"], tuple((b.le, b.count) for b in histogram))


def share_within(histogram: tuple[tuple[float, float | None], ...], limit: float) -> Estimate | None:
    """The share of observations ≤ ``limit``: exactly known at bucket edges; in between, interpolated (as
    histogram_quantile assumes observations spread evenly in a bucket) and bounded by the two edges' shares."""
    buckets = sorted(histogram)
    total = sum(c or 0.0 for _, c in buckets)
    if not buckets or total <= 0 or any(c is None for _, c in buckets):
        return None
    below, lower_edge = 0.0, 0.0
    for le, c in buckets:
        count = c or 0.0
        if limit >= le:
            below += count
            lower_edge = le
            continue
        if math.isinf(le):  # beyond the last finite edge: anything up to all of the +Inf bucket
            return Estimate(below / total, below / total, (below + count) / total)
        within = (limit - lower_edge) / (le - lower_edge) if le > lower_edge else 0.0
        return Estimate((below + count * within) / total, below / total, (below + count) / total)
    return Estimate(below / total, below / total, below / total)


@dataclass(frozen=True)
class Goodput:
    """The share of requests that met the TTFT and ITL objectives, from the histograms."""

    share: Estimate | None
    slo_ttft: float | None
    slo_itl: float | None
    how: str


def goodput(model: LlmModel, spec: LlmSpec, slo_ttft: float | None, slo_itl: float | None) -> Goodput | None:
    """Goodput of one row. Two histograms do not say which requests met both objectives: the value assumes the two
    are independent, and the bounds are the Fréchet bounds (max(0, a+b-1), min(a, b)) over the buckets' edges.
    Where the engine's ITL histogram counts every gap (vLLM, SGLang), its share is of gaps, not of requests."""
    if slo_ttft is None and slo_itl is None:
        return None
    parts: list[Estimate] = []
    how: list[str] = []
    missing: list[str] = []
    for role, limit, label in (("ttft", slo_ttft, "TTFT"), ("itl", slo_itl, "ITL")):
        if limit is None:
            continue
        lat = model.of(role)
        share = share_within(lat.histogram, limit) if lat else None
        if share is None:
            missing.append(spec.reason(role) or f"no {label} observations in the window")
            continue
        parts.append(share)
        if role == "itl" and spec.itl_kind == "itl":
            how.append("ITL share is of inter-token gaps (the engine serves no per-request ITL)")
        elif role == "itl":
            how.append("ITL is each request's mean time per output token")
    if missing:
        return Goodput(None, slo_ttft, slo_itl, "; ".join(missing))
    if len(parts) == 1:
        return Goodput(parts[0], slo_ttft, slo_itl, "; ".join(how) or "from the TTFT histogram")
    a, b = parts
    value = (a.value or 0.0) * (b.value or 0.0)
    lower = max(0.0, (a.lower or 0.0) + (b.lower or 0.0) - 1.0)
    upper = min(a.upper if a.upper is not None else 1.0, b.upper if b.upper is not None else 1.0)
    how.insert(0, "both objectives: independence assumed between TTFT and ITL, bounds hold whatever the dependence")
    return Goodput(Estimate(min(max(value, lower), upper), lower, upper), slo_ttft, slo_itl, "; ".join(how))


# -- the two sources ---------------------------------------------------------------------------------


def _merge(parts: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    by_le: dict[float, float] = defaultdict(float)
    for part in parts:
        for le, v in part:
            by_le[le] += v
    return sorted(by_le.items())


def _rows(
    spec: LlmSpec,
    buckets: dict[str, dict[str, list[tuple[float, float]]]],  # role -> model -> cumulative pairs
    scalars: dict[str, dict[str, float]],  # role -> model -> summed value (gauges: sum; kv_usage: mean)
) -> tuple[LlmModel, ...]:
    models = sorted({m for by in list(buckets.values()) + list(scalars.values()) for m in by})
    groups = [(m, [m]) for m in models]
    if len(models) > 1:
        groups.append((ALL, models))
    rows = []
    for name, members in groups:
        latency = tuple(
            (role, latency_of(_merge([buckets.get(role, {}).get(m, []) for m in members]))) for role in HISTOGRAMS
        )

        def summed(role: str, members=members) -> float | None:
            values = [scalars[role][m] for m in members if m in scalars.get(role, {})]
            return finite(sum(values)) if values else None

        kv = [scalars["kv_usage"][m] for m in members if m in scalars.get("kv_usage", {})]
        hits, queries = summed("prefix_hits"), summed("prefix_queries")
        rows.append(
            LlmModel(
                model=name,
                latency=latency,
                prompt_tokens_per_s=summed("prompt_tokens"),
                generation_tokens_per_s=summed("generation_tokens"),
                running=summed("running"),
                waiting=summed("waiting"),
                kv_usage=finite(sum(kv) / len(kv)) if kv else None,
                preemptions_per_s=summed("preemptions"),
                prefix_hit_ratio=finite(hits / queries) if hits is not None and queries else None,
            )
        )
    return tuple(rows)


def from_series(spec: LlmSpec, series, window: compute.Window) -> LlmStats:
    """From a scrape source's rings, at the window's end (rates over it; cumulative when its range is 0)."""
    series = list(series)
    label = spec.model_label

    def model_of(lab: dict) -> str:
        return lab.get(label, "") if label else ""

    buckets: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for role in HISTOGRAMS:
        base = spec.metric(role)
        if base:
            buckets[role] = compute.bucket_values(
                series, base + "_bucket", window, per_second=not window.cumulative, group_by=model_of
            )
    scalars: dict[str, dict[str, float]] = defaultdict(dict)
    roles_of: dict[str, list[str]] = defaultdict(list)  # SGLang's prompt tokens are also its prefix queries
    for role in COUNTERS + GAUGES:
        if name := spec.metric(role):
            roles_of[name].append(role)
    kv_counts: dict[str, int] = defaultdict(int)
    kv_parts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # kv_ratio: used and total
    for (name, labels), ring in series:
        for role in roles_of.get(name, ()):
            lab = dict(labels)
            matcher = spec.matcher(role)
            if matcher and lab.get(matcher[0]) != matcher[1]:
                continue
            if role == "kv_usage" and spec.kv_ratio:
                kv_label, used, total = spec.kv_ratio
                value = compute._latest(ring, window.eval_ms)
                if value is not None and lab.get(kv_label) in (used, total):
                    kv_parts[model_of(lab)][lab[kv_label]] += value
                continue
            if role in GAUGES:
                value = compute._latest(ring, window.eval_ms)
            else:
                value = None if window.cumulative else window.value(ring, per_second=True)
            if value is None:
                continue
            model = model_of(lab)
            scalars[role][model] = scalars[role].get(model, 0.0) + value
            if role == "kv_usage":
                kv_counts[model] += 1
    for model, n in kv_counts.items():
        scalars["kv_usage"][model] /= n
    if spec.kv_ratio:
        _, used, total = spec.kv_ratio
        for model, parts in kv_parts.items():
            if parts.get(total):
                scalars["kv_usage"][model] = parts.get(used, 0.0) / parts[total]
    return LlmStats(spec, _rows(spec, buckets, scalars), window.range_ms / 1000)


Query = Callable[[str, float], list[dict]]


def from_prometheus(spec: LlmSpec, query: Query, w: str, at: float, selector: str = "") -> LlmStats:
    """From a Prometheus: the same numbers, each series summed over replicas (instances, engines, ranks)."""
    label = spec.model_label
    by = f"le, {label}" if label else "le"
    group = f" by ({label})" if label else ""

    def model_of(metric: dict) -> str:
        return metric.get(label, "") if label else ""

    buckets: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for role in HISTOGRAMS:
        base = spec.metric(role)
        if not base:
            continue
        by_model: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for r in query(f"sum by ({by}) (rate({base}_bucket{selector}[{w}]))", at):
            le = parse_le(r["metric"].get("le", ""))
            value = _number(r["value"][1])
            if le is not None and value is not None:
                by_model[model_of(r["metric"])].append((le, value))
        buckets[role] = dict(by_model)
    scalars: dict[str, dict[str, float]] = defaultdict(dict)
    for role in COUNTERS + GAUGES:
        name = spec.metric(role)
        if not name:
            continue
        how = "avg" if role == "kv_usage" else "sum"
        sel = _with(selector, spec.matcher(role))
        expr = f"{how}{group} ({name}{sel})" if role in GAUGES else f"sum{group} (rate({name}{sel}[{w}]))"
        if role == "kv_usage" and spec.kv_ratio:
            label_name, used, total = spec.kv_ratio
            part = f"sum{group} ({name}{{sel}})"
            expr = (
                part.format(sel=_with(selector, (label_name, used)))
                + " / "
                + part.format(sel=_with(selector, (label_name, total)))
            )
        for r in query(expr, at):
            value = _number(r["value"][1])
            if value is not None:
                scalars[role][model_of(r["metric"])] = value
    seconds = _seconds(w)
    return LlmStats(spec, _rows(spec, buckets, scalars), seconds)


def _with(selector: str, matcher: tuple[str, str] | None) -> str:
    """A selector (``{job="api"}`` or "") with one more matcher."""
    if matcher is None:
        return selector
    inner = [m for m in (selector.strip("{}"), f'{matcher[0]}="{matcher[1]}"') if m]
    return "{" + ",".join(inner) + "}"


def _number(raw) -> float | None:
    try:
        return finite(float(raw))
    except (TypeError, ValueError):
        return None


def _seconds(w: str) -> float:
    return float(w.removesuffix("ms")) / 1000 if w.endswith("ms") else float(w.removesuffix("s"))
