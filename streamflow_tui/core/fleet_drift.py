"""Fleet drift from a metrics backend alone (#28): counter increases on the reference's bins, summed over
replicas, compared with the reference's counts the API exports next to them (api/feature_bins.py).

Two queries per check (live counts over the window, the reference's counts), each one PromQL expression whose
parts are tagged with ``label_replace``; Prometheus and VictoriaMetrics answer both. The window's counts are
exact counter differences (``(x - x offset w) >= 0 or x``, as core/prometheus.py's ``counted``): ``increase()``
extrapolates each series by its own factor, which would skew the shares between bins. ``drift_history`` asks the
same live expression as a range query, one step per window, so a heatmap fills from the backend's history.

UI-free: the console and ``--once`` call ``fleet_drift`` / ``drift_history`` (the hook-up is in docs/DRIFT.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from streamflow_data.schema import FEATURES

from .binned_drift import BinnedSample, CategoricalCounts, ColumnExtra, NumericCounts, Reference, compare
from .drift import DEFAULT_THRESHOLD, DriftError, DriftResult, decide

MIN_ROWS = 30  # as the row-level check (drift_worker.MIN_ROWS)
TAG = "streamflow_part"
SOURCE = "prometheus"


class QueryClient(Protocol):
    """What is asked of the backend: core/prometheus.PrometheusClient has both."""

    def query(self, expr: str, at: float) -> list[dict]: ...

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]: ...


@dataclass(frozen=True)
class FleetNames:
    """The API's series (api/feature_bins.py); a prefix or relabelling elsewhere is given here."""

    values: str = "api_feature_values_total"
    categories: str = "api_feature_categories_total"
    missing: str = "api_feature_missing_total"
    outside: str = "api_feature_outside_total"
    labelled: str = "api_labelled_predictions_total"
    ref_values: str = "api_reference_feature_values"
    ref_categories: str = "api_reference_feature_categories"
    ref_missing: str = "api_reference_feature_missing"
    ref_std: str = "api_reference_feature_std"
    ref_label: str = "api_reference_label_rows"
    model_info: str = "api_model_info"
    match: str = ""  # extra matchers for every selector, e.g. 'job="streamflow-api"'


@dataclass(frozen=True)
class FleetDriftResult:
    """Today's drift result (``drift``: score, threshold, verdict per column, share, decision), plus where it
    came from: the backend, how many replicas counted, over which window, for which model version."""

    drift: DriftResult
    replicas: int
    window_seconds: float  # 0: everything since the replicas started
    version: str
    at: float  # unix seconds: the window's end
    extras: tuple[ColumnExtra, ...]
    source: str = SOURCE

    def to_json(self) -> dict[str, Any]:
        """The ``drift`` object of streamflow.snapshot/1, with ``source`` and ``replicas`` added, and per column
        PSI and the interval a row-level Wasserstein distance lies in."""
        doc = self.drift.to_json()
        extras = {e.column: e for e in self.extras}
        for column in doc["columns"]:
            extra = extras.get(column["column"])
            if extra:
                column.update(psi=extra.psi, score_lower=extra.lower, score_upper=extra.upper)
        return doc | {
            "source": self.source,
            "replicas": self.replicas,
            "window_seconds": self.window_seconds,
            "model_version": self.version,
            "at": self.at,
        }


def _sel(metric: str, names: FleetNames, extra: str = "") -> str:
    matchers = ",".join(m for m in (names.match, extra) if m)
    return f"{metric}{{{matchers}}}" if matchers else metric


def counted(selector: str, window_s: float) -> str:
    """The exact growth of a counter over the window (a reset or a new series: all of its value)."""
    if not window_s:
        return selector
    return f"(({selector} - {selector} offset {window_s:g}s) >= 0 or {selector})"


def _tagged(parts: dict[str, str]) -> str:
    return " or ".join(f'label_replace({expr}, "{TAG}", "{tag}", "", "")' for tag, expr in parts.items())


def live_expr(window_s: float, names: FleetNames = FleetNames()) -> str:
    def c(metric: str) -> str:
        return counted(_sel(metric, names), window_s)

    return _tagged(
        {
            "values": f"sum by (version, feature, le) ({c(names.values)})",
            "categories": f"sum by (version, feature, category) ({c(names.categories)})",
            "missing": f"sum by (version, feature) ({c(names.missing)})",
            "outside": f"sum by (version, feature, side) ({c(names.outside)})",
            "label": f"sum by (actual) ({c(names.labelled)})",
            "replicas": f"count by (version) (count by (version, instance) ({_sel(names.missing, names)}))",
        }
    )


def reference_expr(names: FleetNames = FleetNames()) -> str:
    # Every replica exports the same reference counts: max, not sum.
    return _tagged(
        {
            "values": f"max by (version, feature, le) ({_sel(names.ref_values, names)})",
            "categories": f"max by (version, feature, category) ({_sel(names.ref_categories, names)})",
            "missing": f"max by (version, feature) ({_sel(names.ref_missing, names)})",
            "std": f"max by (version, feature, values) ({_sel(names.ref_std, names)})",
            "label": f"max by (version, actual) ({_sel(names.ref_label, names)})",
        }
    )


def _le(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _number(raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


@dataclass
class _Parts:
    """Samples of one side for one version, grouped by feature, before they become counts."""

    values: dict[str, dict[float, float]]
    categories: dict[str, dict[str, float]]
    missing: dict[str, float]
    outside: dict[str, dict[str, float]]
    std: dict[str, tuple[float, bool]]
    label: dict[str, float]
    replicas: int = 0

    @classmethod
    def empty(cls) -> _Parts:
        return cls({}, {}, {}, {}, {}, {})


def group(rows: list[tuple[dict[str, str], float]]) -> dict[str, _Parts]:
    """(labels, value) pairs of a tagged answer, by model version (the label counts, versionless live, under "")."""
    out: dict[str, _Parts] = {}
    for m, value in rows:
        part, version, feature = m.get(TAG, ""), m.get("version", ""), m.get("feature", "")
        p = out.setdefault(version, _Parts.empty())
        if part == "values" and (le := _le(m.get("le", ""))) is not None:
            p.values.setdefault(feature, {})[le] = value
        elif part == "categories":
            p.categories.setdefault(feature, {})[m.get("category", "")] = value
        elif part == "missing":
            p.missing[feature] = value
        elif part == "outside":
            p.outside.setdefault(feature, {})[m.get("side", "")] = value
        elif part == "std":
            p.std[feature] = (value, m.get("values") == "integer")
        elif part == "label":
            p.label[m.get("actual", "")] = value
        elif part == "replicas":
            p.replicas = int(value)
    return out


def _ordered(features: dict[str, Any]) -> list[str]:
    """The schema's order (as the row-level table), whatever order the backend answered in."""
    return sorted(features, key=lambda f: (FEATURES.index(f), "") if f in FEATURES else (len(FEATURES), f))


def _sample(p: _Parts, ref: _Parts | None, label: dict[str, float]) -> dict[str, Any]:
    numeric = {}
    for feature in _ordered(p.values):
        by_le = p.values[feature]
        edges = tuple(sorted(le for le in by_le if math.isfinite(le)))
        if math.inf not in by_le:
            continue
        outside = p.outside.get(feature, {})
        numeric[feature] = NumericCounts(
            edges,
            tuple(by_le[le] for le in (*edges, math.inf)),
            p.missing.get(feature, 0.0),
            outside.get("below", 0.0),
            outside.get("above", 0.0),
        )
    categorical = {}
    for feature in _ordered(p.categories):
        by_category = p.categories[feature]
        # The reference's order; "other" last (every replica of a version exports the same categories).
        order = list((ref or p).categories.get(feature, by_category))
        order = [c for c in order if c != "other"] + ["other"]
        categorical[feature] = CategoricalCounts(
            tuple(order), tuple(by_category.get(c, 0.0) for c in order), p.missing.get(feature, 0.0)
        )
    labels = (label.get("0", 0.0), label.get("1", 0.0)) if label else None
    return {"numeric": numeric, "categorical": categorical, "label": labels}


def reference_of(p: _Parts) -> Reference:
    return Reference(
        **_sample(p, None, p.label),
        std={f: s for f, (s, _) in p.std.items()},
        integral={f: i for f, (_, i) in p.std.items()},
    )


def current_of(p: _Parts, ref: _Parts, label: dict[str, float]) -> BinnedSample:
    return BinnedSample(**_sample(p, ref, label))


def _rows(answer: list[dict]) -> list[tuple[dict[str, str], float]]:
    return [(r.get("metric", {}), _number((r.get("value") or [0, 0])[1])) for r in answer]


def result_of(
    reference: Reference,
    current: BinnedSample,
    *,
    version: str,
    replicas: int,
    window_s: float,
    at: float,
    threshold: float = DEFAULT_THRESHOLD,
    started: float | None = None,
) -> FleetDriftResult:
    """The drift result of one window's counts against the reference's."""
    rows = current.rows
    if rows < MIN_ROWS:
        raise DriftError(
            f"the fleet scored {rows} row(s) with model {version} in the window; a drift check needs at least {MIN_ROWS}"
        )
    pairs = compare(reference, current)
    if not pairs:
        raise DriftError(f"no feature of model {version} has counts on both sides")
    columns = [c for c, _ in pairs]
    order = {c.column: i for i, c in enumerate(columns)}
    table = tuple(sorted(columns, key=lambda c: (not c.drifted, order[c.column])))
    drifted = sum(c.drifted for c in table)
    share = drifted / len(table)
    label = next((c for c in table if c.column == "churn_label"), None)
    churn_ref = churn_cur = target = None
    if label is not None and reference.label and current.label:
        churn_ref = reference.label[1] / sum(reference.label)
        churn_cur = current.label[1] / sum(current.label)
        target = abs(churn_cur - churn_ref)
    when = time.strftime("live-%Y%m%dT%H%M%SZ", time.gmtime(at))
    drift = DriftResult(
        reference=version,
        current="live",
        reference_as_of=version,
        current_as_of=when,
        rows_reference=reference.rows,
        rows_current=rows,
        drift_share=share,
        drifted_columns=drifted,
        total_columns=len(table),
        threshold=threshold,
        decision=decide(share, threshold),
        target_drift=target,
        churn_rate_reference=churn_ref,
        churn_rate_current=churn_cur,
        label_drift=label.drifted if label else None,
        label_test=label,
        columns=table,
        seconds=time.perf_counter() - started if started is not None else 0.0,
    )
    return FleetDriftResult(drift, replicas, window_s, version, at, tuple(e for _, e in pairs))


def _choose(live: dict[str, _Parts], refs: dict[str, _Parts], version: str | None) -> str:
    """The version asked for, else the one that scored the most rows in the window (one, outside a rollout)."""
    if version:
        if version not in refs:
            raise DriftError(f"the backend holds no reference counts for model {version}")
        return version

    def rows(v: str) -> float:
        p = live.get(v)
        return max((max(by_le.values(), default=0.0) for by_le in p.values.values()), default=0.0) if p else 0.0

    candidates = [v for v in refs if v]
    if not candidates:
        raise DriftError(
            "the backend holds no feature-bin counts (api_reference_feature_*): is it scraping a StreamFlow API"
            " of this version (#28)?"
        )
    return max(candidates, key=rows)


def fleet_drift(
    client: QueryClient,
    window_s: float,
    names: FleetNames = FleetNames(),
    *,
    at: float | None = None,
    version: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> FleetDriftResult:
    """Per-feature drift of what the fleet scored in the last ``window_s`` seconds (0: since start), summed
    over replicas, against the served model's training rows. Raises DriftError (too few rows, no counts) and
    the client's errors (PrometheusError)."""
    started = time.perf_counter()
    at = time.time() if at is None else at
    live = group(_rows(client.query(live_expr(window_s, names), at)))
    refs = group(_rows(client.query(reference_expr(names), at)))
    chosen = _choose(live, refs, version)
    ref_parts, cur_parts = refs[chosen], live.get(chosen, _Parts.empty())
    label = live.get("", _Parts.empty()).label
    return result_of(
        reference_of(ref_parts),
        current_of(cur_parts, ref_parts, label),
        version=chosen,
        replicas=cur_parts.replicas,
        window_s=window_s,
        at=at,
        threshold=threshold,
        started=started,
    )


def fleet_reference(
    client: QueryClient, version: str, names: FleetNames = FleetNames(), *, at: float | None = None
) -> Reference:
    """The reference's counts of ``version`` as the backend holds them (what drift alarms calibrate on)."""
    refs = group(_rows(client.query(reference_expr(names), time.time() if at is None else at)))
    if version not in refs:
        raise DriftError(f"the backend holds no reference counts for model {version}")
    return reference_of(refs[version])


def drift_history(
    client: QueryClient,
    start: float,
    end: float,
    window_s: float,
    names: FleetNames = FleetNames(),
    *,
    version: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[FleetDriftResult]:
    """One result per window of ``window_s`` seconds ending at start + k·window_s … end, from one range query
    (windows with fewer than MIN_ROWS rows are left out). ``DriftHistory.add(r.drift, r.at)`` fills the
    heatmap."""
    refs = group(_rows(client.query(reference_expr(names), end)))
    answer = client.query_range(live_expr(window_s, names), start, end, window_s)
    by_time: dict[float, list[tuple[dict[str, str], float]]] = {}
    for series in answer:
        for t, v in series.get("values", []):
            by_time.setdefault(float(t), []).append((series.get("metric", {}), _number(v)))
    out = []
    for t in sorted(by_time):
        live = group(by_time[t])
        try:
            chosen = _choose(live, refs, version)
            ref_parts, cur_parts = refs[chosen], live.get(chosen, _Parts.empty())
            out.append(
                result_of(
                    reference_of(ref_parts),
                    current_of(cur_parts, ref_parts, live.get("", _Parts.empty()).label),
                    version=chosen,
                    replicas=cur_parts.replicas,
                    window_s=window_s,
                    at=t,
                    threshold=threshold,
                )
            )
        except DriftError:
            continue  # an idle window: no column of the heatmap
    return out
