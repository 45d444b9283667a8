"""The Prometheus source: the same quantities as the scrape source, asked of a Prometheus server.

It aggregates every replica Prometheus scrapes (sums) and keeps a
per-instance breakdown; it has history, so consoles backfill their charts with
``query_range`` at start.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from . import compute
from .choice import choose, is_candidate
from .compute import QUANTILES
from .connection import ConnectionOptions
from .llm import from_prometheus as llm_from_prometheus
from .llm_presets import LlmSpec
from .llm_presets import recognise as recognise_llm
from .naming import (
    DEFAULT_EXCLUDED,
    ERROR_STATUS_VALUES,
    MetricNames,
    SampleMeta,
    derive_status,
    strip_suffix,
    without_endpoints,
)
from .prometheus_client import History, PrometheusClient, PrometheusError, _value, go_duration
from .prometheus_model import model_stats
from .prometheus_model import performance as model_performance
from .remote_load import LOAD_INFO, LOAD_LOOKBACK, LOAD_PREFIX, _qkey
from .remote_load import remote_load as remote_load_of
from .results import (
    EMPTY_LATENCY,
    EMPTY_REQUESTS,
    Bucket,
    Latency,
    MetricChoice,
    RequestStats,
    SeriesRate,
    Snapshot,
    TargetStatus,
)
from .selftraffic import glob_regex, with_left_out

__all__ = ["History", "PrometheusClient", "PrometheusError", "PrometheusSource", "go_duration"]

CHOICE_TTL_S = 30.0
INTERVAL_TTL_S = 60.0
# A rate needs two samples; four intervals survive a missed scrape, as Grafana's $__rate_interval.
RATE_INTERVAL_SCRAPES = 4


class PrometheusSource:
    kind = "prometheus"

    def __init__(
        self,
        prometheus_url: str,
        names: MetricNames | None = None,
        *,
        api_url: str | None = None,
        timeout: float = 3.0,
        preset: str | None = None,
        options: ConnectionOptions | None = None,
        exclude: tuple[str, ...] = DEFAULT_EXCLUDED,
        job: str | None = None,
        performance_window: float = 0.0,
    ):
        self.performance_window = performance_window  # seconds; 0: since the API started
        self.client = PrometheusClient(prometheus_url, timeout=timeout, options=options)
        self.names = names or MetricNames()
        self.api_url = api_url
        self.preset = preset
        self.exclude = exclude
        self.job = job  # read only this scrape job's series (the API's), when given
        self._choice: MetricChoice | None = None
        self._llm: LlmSpec | None = None  # the LLM engine whose families Prometheus holds (llm_presets.py)
        self._choice_at = 0.0
        self._labels: dict[str, frozenset[str]] = {}
        self._interval: float | None = None
        self._interval_at = -INTERVAL_TTL_S
        self._has_load = False  # the server holds streamflow_load_* series: learnt with the metric names

    def poll(self) -> None:
        """Nothing to fetch ahead: Prometheus is queried when a snapshot is taken."""
        return None

    # -- how often Prometheus scrapes ---------------------------------------------------
    def scrape_interval(self, at: float) -> float | None:
        """The targets' scrape interval: from the targets API, else from the spacing of ``up`` samples."""
        if time.monotonic() - self._interval_at < INTERVAL_TTL_S:
            return self._interval
        intervals = self.client.scrape_intervals()
        if not intervals:  # VictoriaMetrics 1.79, or a server without the targets API: measure it
            try:
                spaced = self.client.query_matrix("up[10m]", at)
            except PrometheusError as exc:
                if exc.kind != "invalid":
                    raise
                spaced = []  # an answer of another shape: the interval stays unknown, the window as asked
            for series in spaced:
                times = [float(t) for t, _ in series.get("values", [])]
                gaps = sorted(b - a for a, b in zip(times, times[1:]))
                if gaps:
                    intervals.append(gaps[len(gaps) // 2])
        self._interval = max(intervals) if intervals else None
        self._interval_at = time.monotonic()
        return self._interval

    def effective_window(self, window_seconds: float, at: float) -> float:
        """The asked window, widened to four scrape intervals: a shorter one holds one sample or none."""
        interval = self.scrape_interval(at)
        return max(window_seconds, RATE_INTERVAL_SCRAPES * interval) if interval else window_seconds

    def close(self) -> None:
        self.client.close()

    # -- which metrics -------------------------------------------------------------
    def choice(self, at: float) -> MetricChoice:
        if self._choice and time.monotonic() - self._choice_at < CHOICE_TTL_S and self._choice.found:
            return self._choice
        n = self.names
        model = {
            n.predictions,
            n.probability + "_bucket",
            n.model_info,
            n.labelled,
            n.reference_probability + "_bucket",
        }
        served = self.client.metric_names()
        self._llm = recognise_llm(served)
        # The load generators' series, when Prometheus scrapes them too: read apart (_remote_load), never
        # mistaken for the API's requests. Known from the names this fetch gets anyway: no query of its own.
        self._has_load = any(m.startswith(LOAD_PREFIX) for m in served)
        candidates = [m for m in served if not m.startswith(LOAD_PREFIX) and (m in model or is_candidate(m, n))]
        self._labels = self.client.series_labels(candidates, at - CATALOG_LOOKBACK_S, at)
        metadata = self.client.metadata()
        catalog = {}
        for name, labels in self._labels.items():
            kind, help_text = (
                metadata.get(name) or metadata.get(strip_suffix(name)) or (_infer_type(name, labels, self._labels), "")
            )
            catalog[name] = SampleMeta(kind, help_text, labels)
        choice = without_endpoints(choose(n, catalog, preset=self.preset), self.exclude, catalog)
        if self.job:
            choice = replace(choice, match=choice.match + (("job", "=", self.job),))
        if choice.excluded and choice.endpoint_label:
            # The note names only what was really left out: the excluded endpoint values Prometheus holds.
            label, regex = choice.endpoint_label, "|".join(glob_regex(p) for p in choice.excluded)
            seen: set[str] = set()
            for metric in choice.requests_metrics:
                for r in self.client.query(f'group by ({label}) ({metric}{{{label}=~"{_escape(regex)}"}})', at):
                    seen.add(r["metric"].get(label, ""))
            choice = with_left_out(choice, tuple(sorted(seen)))
        self._choice = choice
        self._choice_at = time.monotonic()
        return self._choice

    # -- one snapshot -------------------------------------------------------------
    def _without_numbers(
        self,
        now: datetime,
        api: TargetStatus,
        prom: TargetStatus,
        window_seconds: float,
        choice: MetricChoice | None,
        interval: float | None,
    ) -> Snapshot:
        """A snapshot that says why there are no numbers (in ``prom``): none shown rather than wrong ones."""
        return Snapshot(
            taken_at=now,
            source=self.kind,
            api=api,
            prometheus=prom,
            window_seconds=window_seconds,
            requests=EMPTY_REQUESTS,
            latency=EMPTY_LATENCY,
            latency_histogram=(),
            model=None,
            metrics=choice,
            scrape_interval_s=interval,
        )

    def snapshot(self, window_seconds: float) -> Snapshot:
        now = datetime.now(UTC)
        at = now.timestamp()
        prom = TargetStatus(url=self.client.url, up=True, error=None)
        api = TargetStatus(url=self.api_url, up=None, error=None)
        interval = None
        try:
            choice = self.choice(at)
            targets, api = self._targets(at)
            interval = self.scrape_interval(at)
            window_seconds = self.effective_window(window_seconds, at)
            if not choice.found:
                prom = TargetStatus(url=self.client.url, up=True, error=choice.note)
                return self._without_numbers(now, api, prom, window_seconds, choice, interval)
            w = f"{max(1, round(window_seconds * 1000))}ms"
            requests = self._requests(choice, w, at)
            latency, histogram, by_endpoint = EMPTY_LATENCY, (), ()
            if choice.latency:
                latency, histogram, by_endpoint = self._latency(choice, w, at)
            job = f'{{job="{self.job}"}}' if self.job else ""
            llm = llm_from_prometheus(self._llm, self.client.query, w, at, job) if self._llm else None
            model = model_stats(self, w, at)
            performance = model_performance(self, at)
            remote_load = remote_load_of(self.client, w, at) if self._has_load else None
        except PrometheusError as exc:
            prom = TargetStatus(
                url=self.client.url,
                up=exc.kind not in ("unreachable", "timeout", "http", "not_found", "auth", "config"),
                error=exc.message,
            )
            return self._without_numbers(now, api, prom, window_seconds, self._choice, interval)
        return Snapshot(
            taken_at=now,
            source=self.kind,
            api=api,
            prometheus=prom,
            window_seconds=window_seconds,
            requests=requests,
            latency=latency,
            latency_histogram=histogram,
            model=model,
            metrics=choice,
            latency_by_endpoint=by_endpoint,
            targets=targets,
            scrape_interval_s=interval,
            performance=performance,
            remote_load=remote_load,
            llm=llm,
        )

    def _targets(self, at: float) -> tuple[tuple[tuple[str, bool], ...], TargetStatus]:
        """The API's health as Prometheus sees it, per instance (``up`` of ``--job``, or of every job)."""
        expr = f'up{{job="{_escape(self.job)}"}}' if self.job else "up"
        if self._has_load and not self.job:
            # The load generators' targets are not the API's: a finished segment must not read as a replica down.
            expr += f" unless on (job, instance) last_over_time({LOAD_INFO}[{LOAD_LOOKBACK}])"
        rows = self.client.query(expr, at)
        states = {r["metric"].get("instance", "?"): _value(r["value"][1]) == 1 for r in rows}
        down = sorted(i for i, up in states.items() if not up)
        if not states:
            scope = f"job {self.job!r}" if self.job else "any job"
            return (), TargetStatus(url=self.api_url, up=None, error=f"Prometheus scrapes no targets of {scope}")
        error = f"Prometheus cannot scrape {', '.join(down)} ({len(down)} of {len(states)} down)" if down else None
        return tuple(sorted(states.items())), TargetStatus(url=self.api_url, up=any(states.values()), error=error)

    def _requests(self, c: MetricChoice, w: str, at: float) -> RequestStats:
        labels = [
            label for label in (c.endpoint_label, c.status_label, c.code_label, c.model_label, c.error_label) if label
        ] + ["instance"]
        by = ", ".join(dict.fromkeys(labels))
        sel = _matchers(c)
        rates: dict[tuple, float | None] = {}
        totals: dict[tuple, float | None] = {}
        for part in c.requests:
            for target, expr in (
                (rates, f"sum by ({by}) (rate({part.metric}{sel}[{w}]))"),
                (totals, f"sum by ({by}) ({part.metric}{sel})"),
            ):
                for r in self.client.query(expr, at):
                    key = compute.classify(r["metric"], part, c) + (r["metric"].get("instance", ""),)
                    value = _value(r["value"][1])
                    previous = target.get(key)
                    target[key] = value if previous is None else (previous + value if value is not None else previous)
        if not totals:
            if c.excluded and any(self.client.query(f"sum(rate({part.metric}[{w}]))", at) for part in c.requests):
                return RequestStats(total=0.0, rps=0.0, error_ratio=None)  # only monitoring traffic: zero, measured
            return EMPTY_REQUESTS
        several = len({k[4] for k in totals}) > 1
        by_series = tuple(
            SeriesRate(
                endpoint=key[0],
                status=key[1],
                code=key[2],
                total=totals[key],
                rps=rates.get(key),
                model=key[3],
                instance=key[4] if several else None,
            )
            for key in sorted(totals, key=lambda k: tuple(x or "" for x in k))
        )
        total = sum(t for t in totals.values() if t is not None)
        measured = [r for r in rates.values() if r is not None]
        rps = sum(measured) if measured else None
        errors = sum(r for k, r in rates.items() if k[1] == "error" and r is not None)
        ratio = errors / rps if rps and c.errors_known else None
        return RequestStats(total=total, rps=rps, error_ratio=ratio, by_series=by_series)

    def _latency(self, c: MetricChoice, w: str, at: float):
        spec = c.latency
        assert spec is not None, "called only for a choice with a latency metric"
        scale = spec.scale
        c = replace(c, match=c.match + spec.match)  # the latency family's own filter (MLServer: the inference route)
        sel = _matchers(c)
        q: dict[str, float | None] = {}
        histogram: tuple[Bucket, ...] = ()
        by_endpoint: dict[str, dict[str, float | None]] = {}
        if spec.kind == "histogram":
            bucket = f"{spec.metric}_bucket{sel}"
            for quantile in QUANTILES:
                rows = self.client.query(f"histogram_quantile({quantile}, sum by (le) (rate({bucket}[{w}])))", at)
                q[_qkey(quantile)] = _scaled(rows[0]["value"][1], scale) if rows else None
            histogram = self._histogram(f"sum by (le) (increase({bucket}[{w}]))", at, scale)
            label = compute.breakdown_label(c, self._labels.get(spec.metric + "_bucket", frozenset()))
            if label:
                for quantile in QUANTILES:
                    # Per endpoint and per instance: a replica's row shows that replica's p95.
                    for by in (label, f"{label}, instance"):
                        expr = f"histogram_quantile({quantile}, sum by (le, {by}) (rate({bucket}[{w}])))"
                        for r in self.client.query(expr, at):
                            key = r["metric"].get(label, "") + (
                                f"@{r['metric'].get('instance', '')}" if "instance" in by else ""
                            )
                            by_endpoint.setdefault(key, {})[_qkey(quantile)] = _scaled(r["value"][1], scale)
        elif spec.kind == "summary":
            for quantile in QUANTILES:
                rows = self.client.query(f"{spec.metric}{_matchers(c, ('quantile', f'{quantile:g}'))}", at)
                # One series: its own quantile. Several (endpoints, instances): they cannot be combined.
                q[_qkey(quantile)] = _scaled(rows[0]["value"][1], scale) if len(rows) == 1 else None
        counts = "|".join(spec.count_metrics)
        count_sel = _matchers(c, ("__name__", counts), regex=True)
        rows = self.client.query(f"sum(rate({spec.sum_metric}{sel}[{w}])) / sum(rate({count_sel}[{w}]))", at)
        avg = _scaled(rows[0]["value"][1], scale) if rows else None
        maximum = None
        if spec.max_metric:
            rows = self.client.query(f"max({spec.max_metric}{sel})", at)
            maximum = _scaled(rows[0]["value"][1], scale) if rows else None
        latency = compute.with_bounds(Latency.of(q, avg=avg, max=maximum), histogram)
        return latency, histogram, tuple((e, Latency.of(v)) for e, v in sorted(by_endpoint.items()))

    def _histogram(self, expr: str, at: float, scale: float = 1.0, coarse: float | None = None) -> tuple[Bucket, ...]:
        cumulative = []
        for r in self.client.query(expr, at):
            try:
                cumulative.append((float(r["metric"]["le"]), _value(r["value"][1])))
            except (KeyError, ValueError):
                continue
        pairs = [(le, math.nan if count is None else count) for le, count in cumulative]
        # The scrape source's de-cumulation (duplicate le spellings merged, NaN shown as None).
        return compute.histogram(compute.coarser(pairs, coarse) if coarse else pairs, scale)

    # -- history for charts ---------------------------------------------------------
    def history(self, duration_s: float, step_s: float, window_seconds: float) -> History:
        """The last ``duration_s`` seconds, one point per ``step_s`` (at least one scrape interval), at the
        timestamps Prometheus answers with."""
        end = time.time()
        c = self.choice(end)
        if not c.found:
            raise PrometheusError("no_metrics", c.note)
        interval = self.scrape_interval(end)
        step = max(step_s, interval or 0.0, 0.001)
        w = f"{max(1, round(self.effective_window(window_seconds, end) * 1000))}ms"
        # Align to the step, as Grafana does, so the points stay put between backfills.
        end = math.floor(end / step) * step
        start = end - duration_s
        everything = f"sum(rate({_matchers(c, ('__name__', '|'.join(c.requests_metrics)), regex=True)}[{w}]))"
        errors = _error_expr(c, w)
        exprs = {"rps": everything, "error_ratio": f"({errors}) / {everything}" if errors else None}
        spec = c.latency
        if spec and spec.kind == "histogram":
            for quantile in QUANTILES:
                exprs[_qkey(quantile)] = (
                    f"histogram_quantile({quantile}, sum by (le) (rate({spec.metric}_bucket"
                    f"{_matchers(replace(c, match=c.match + spec.match))}[{w}])))"
                )
        columns: dict[str, dict[float, float | None]] = {}
        for key in ("rps", "error_ratio", "p50", "p95", "p99"):
            expr = exprs.get(key)
            values: dict[float, float | None] = {}
            if expr:
                for series in self.client.query_range(expr, start, end, step):
                    for t, v in series.get("values", []):
                        value = _value(v)
                        if value is not None and key.startswith("p") and spec:
                            value *= spec.scale
                        values[float(t)] = value
            columns[key] = values
        times = tuple(sorted(set().union(*(v.keys() for v in columns.values()))))
        return History(times_s=times, **{k: tuple(v.get(t) for t in times) for k, v in columns.items()})


CATALOG_LOOKBACK_S = 600.0


def _scaled(raw: Any, scale: float) -> float | None:
    value = _value(raw)
    return None if value is None else value * scale


def _matchers(c: MetricChoice, extra: tuple[str, str] | None = None, *, regex: bool = False) -> str:
    pairs = [f'{k}{op}"{_escape(v)}"' for k, op, v in c.match]
    if extra:
        pairs.append(f'{extra[0]}{"=~" if regex else "="}"{_escape(extra[1])}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _error_expr(c: MetricChoice, w: str) -> str | None:
    """PromQL for the rate of failed requests, classified as compute.classify does; None if unknown."""
    if not c.errors_known:
        return None
    terms = []
    for part in c.requests:
        if part.status or part.code:
            if (part.status or derive_status(part.code)) == "error":
                terms.append(f"sum(rate({part.metric}{_matchers(c)}[{w}]))")
        elif c.status_label:
            values = "|".join(sorted(ERROR_STATUS_VALUES))
            terms.append(
                f"sum(rate({part.metric}{_matchers(c, (c.status_label, f'(?i)({values})'), regex=True)}[{w}]))"
            )
        elif c.code_label:
            terms.append(f"sum(rate({part.metric}{_matchers(c, (c.code_label, '[45].*'), regex=True)}[{w}]))")
            if c.error_label:  # OpenTelemetry: an empty code is a request that raised
                terms.append(f"sum(rate({part.metric}{_matchers(c, (c.code_label, ''))}[{w}]))")
    if not terms:
        return "vector(0)"
    return " + ".join(f"({t} or vector(0))" for t in terms)


def _infer_type(name: str, labels: frozenset[str], known: dict[str, frozenset[str]]) -> str:
    """A sample's family type when the server keeps no metadata, from its name and labels."""
    if name.endswith("_bucket") and "le" in labels:
        return "histogram"
    base = strip_suffix(name)
    if name.endswith(("_sum", "_count")) and base + "_bucket" in known:
        return "histogram"
    if "quantile" in labels or (name.endswith(("_sum", "_count")) and "quantile" in known.get(base, frozenset())):
        return "summary"
    if name.endswith("_total"):
        return "counter"
    return "untyped"
