"""The scrape source: polls a target's /metrics itself and computes PromQL on its own buffers."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime

from . import compute
from .choice import choose, is_candidate
from .connection import ConnectionOptions
from .exposition import DEFAULT_MAX_BYTES, Exposition, MetricsFetcher, ParsedScrape, ScrapeError, SeriesKey, finite
from .history import SeriesStore
from .llm import from_series as llm_from_series
from .llm_presets import LlmSpec
from .llm_presets import recognise as recognise_llm
from .naming import DEFAULT_EXCLUDED, Catalog, MetricNames, SampleMeta, without_endpoints
from .performance import Performance, performance_of
from .presets import PRESET_METRICS
from .promql import parse_le
from .results import (
    EMPTY_LATENCY,
    EMPTY_REQUESTS,
    Bucket,
    CounterUpdates,
    Latency,
    MetricChoice,
    ModelStats,
    Snapshot,
    TargetStatus,
)
from .selftraffic import left_out_values, with_left_out
from .steps import Steps, detect, suspicious

NO_PROMETHEUS = TargetStatus(url=None, up=None, error=None)
RECHOOSE_EVERY = 60  # scrapes


def metrics_url(api_url: str) -> str:
    url = api_url.rstrip("/")
    return url if url.endswith("/metrics") else url + "/metrics"


class ScrapeSource:
    """Scrapes ``<api_url>/metrics``; keeps raw samples of the series it reads in bounded rings.

    ``history_points`` bounds memory: each series keeps that many samples.
    Not thread-safe: call ``poll`` and ``snapshot`` from one thread at a time.
    """

    kind = "scrape"

    def __init__(
        self,
        api_url: str,
        names: MetricNames | None = None,
        *,
        history_points: int = 3600,
        timeout: float = 2.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        preset: str | None = None,
        options: ConnectionOptions | None = None,
        exclude: tuple[str, ...] = DEFAULT_EXCLUDED,
        performance_window: float = 0.0,
    ):
        self.api_url = api_url.rstrip("/")
        self.performance_window = performance_window  # seconds; 0: since the API started
        self.names = names or MetricNames()
        self.preset = preset
        self.exclude = exclude
        self._fetcher = MetricsFetcher(metrics_url(api_url), timeout=timeout, max_bytes=max_bytes, options=options)
        self._store: SeriesStore = SeriesStore(capacity=max(2, history_points))
        self._scrape_times: deque[int] = deque(maxlen=self._store.capacity)
        # The request total at each scrape (the series kept, not the left-out probes): steps.py reads it.
        self._totals: deque[tuple[int, float]] = deque(maxlen=max(2, min(self._store.capacity, 600)))
        self._model_info: dict[str, str] | None = None
        self._choice: MetricChoice | None = None
        self._llm: LlmSpec | None = None  # the LLM engine served (llm_presets.py), recognised with the choice
        self._families: tuple[str, ...] = ()  # the families served when the choice was made
        self._since_choice = 0
        self._candidates: dict[str, bool] = {}
        self._first_ok_ms: int | None = None
        self._last_ok_ms: int | None = None
        self._status = TargetStatus(url=self.api_url, up=None, error="not polled yet")
        self.last_scrape: ParsedScrape | None = None

    @property
    def status(self) -> TargetStatus:
        return self._status

    @property
    def last_ok_ms(self) -> int | None:
        return self._last_ok_ms

    def span_seconds(self) -> float:
        """Time between the oldest and newest buffered scrape."""
        if self._first_ok_ms is None or self._last_ok_ms is None:
            return 0.0
        return (self._last_ok_ms - self._first_ok_ms) / 1000

    def poll(self) -> TargetStatus:
        """Scrape once and buffer the result. Never raises: failures are in the returned status."""
        try:
            scrape = self._fetcher.fetch()
        except ScrapeError as exc:
            self._status = TargetStatus(url=self.api_url, up=False, error=exc.message)
            return self._status
        return self.ingest(scrape)

    def ingest(self, scrape: ParsedScrape) -> TargetStatus:
        """Buffer one parsed scrape (``poll`` = fetch + ingest): only the families the console reads are parsed."""
        self.last_scrape = scrape
        exposition = scrape.exposition
        names = self.names
        model_samples = {
            names.predictions,
            names.probability + "_bucket",
            names.model_info,
            names.labelled,
            names.labelled_probability + "_bucket",
            names.reference_probability + "_bucket",
        }
        families = tuple(exposition.families)
        # The choice stands while the target serves the same families: then only the chosen ones are
        # parsed. It is made again when they change, and every RECHOOSE_EVERY scrapes (new label names).
        choice = self._choice
        rechoose = (
            choice is None or not choice.found or families != self._families or self._since_choice >= RECHOOSE_EVERY
        )
        if choice is None or rechoose:
            self._llm = recognise_llm(exposition.sample_names())
        llm_names = self._llm.sample_names() if self._llm else set()
        try:
            if choice is None or rechoose:
                samples = exposition.samples(
                    {
                        n
                        for n in exposition.sample_names()
                        if n in model_samples or n in llm_names or self._is_candidate(n)
                    }
                )
            else:
                samples = exposition.samples(choice.sample_names() | model_samples | llm_names)
        except ScrapeError as exc:
            self._status = TargetStatus(url=self.api_url, up=False, error=exc.message)
            return self._status
        if choice is None or rechoose:
            catalog = catalog_of(samples, exposition)
            previous = self._choice
            choice = self._choice = without_endpoints(choose(names, catalog, preset=self.preset), self.exclude, catalog)
            self._families, self._since_choice = families, 0
            if previous is None or previous.requests_metrics != choice.requests_metrics:
                self._totals.clear()
        self._since_choice += 1
        if choice.excluded:
            # The note names only what was really left out: the excluded endpoints seen so far.
            seen = tuple(sorted(set(choice.left_out) | set(left_out_values(choice, samples))))
            if seen != choice.left_out:
                choice = self._choice = with_left_out(choice, seen)
        keep = choice.sample_names() | (model_samples - {names.model_info}) | llm_names
        info = None
        for key, value in samples.items():
            name = key[0]
            if name in keep:
                if key not in self._store and self._last_ok_ms is not None:
                    # Absent from the previous scrape, so nothing had been counted yet:
                    # without this zero a series born inside the window would have no rate.
                    self._store.append(key, self._last_ok_ms, 0.0)
                self._store.append(key, scrape.at_ms, value)
            elif name == names.model_info and value == 1:
                info = dict(key[1])
        self._model_info = info
        # The service's own requests (left-out probes step too, but an idle service must read 0, not wait).
        counted = set(choice.requests_metrics)
        kept = (
            v for (n, labels), v in samples.items() if n in counted and (not choice.match or choice.keeps(dict(labels)))
        )
        self._totals.append((scrape.at_ms, sum(kept)))
        self._scrape_times.append(scrape.at_ms)
        self._store.prune(self._scrape_times[0])  # series gone for the whole buffer
        if self._first_ok_ms is None:
            self._first_ok_ms = scrape.at_ms
        self._last_ok_ms = scrape.at_ms
        error = None if choice.found else choice.note
        error = error or histogram_problem(samples, choice)
        self._status = TargetStatus(url=self.api_url, up=True, error=error)
        return self._status

    def _is_candidate(self, sample_name: str) -> bool:
        known = self._candidates.get(sample_name)
        if known is None:
            if len(self._candidates) > 100_000:  # a target with ever-new names must not grow this without end
                self._candidates.clear()
            known = self._candidates[sample_name] = is_candidate(sample_name, self.names)
        return known

    def snapshot(self, window_seconds: float) -> Snapshot:
        """Rates over the last ``window_seconds`` at the newest scrape; 0 means cumulative since start."""
        now = datetime.now(UTC)
        last_ok_ms = self._last_ok_ms
        if not self._status.up or last_ok_ms is None or self._choice is None:
            return Snapshot(
                now,
                self.kind,
                self._status,
                NO_PROMETHEUS,
                window_seconds,
                EMPTY_REQUESTS,
                EMPTY_LATENCY,
                (),
                None,
                self._choice,
            )
        updates, stepped = self.counter_updates(window_seconds)
        window = stepped or compute.Window(last_ok_ms, round(window_seconds * 1000))
        series = self._store.items()
        choice = self._choice
        requests = compute.requests(series, choice, window)
        latency = EMPTY_LATENCY
        if updates is not None and stepped is None:
            # Stepwise counters and no two updates far enough apart yet: no rate rather than 0 or double.
            totals = compute.requests(series, choice, compute.Window(last_ok_ms, 0))
            requests = replace(totals, error_ratio=None)
        histogram: tuple[Bucket, ...] = ()
        by_endpoint: tuple[tuple[str, Latency], ...] = ()
        spec = choice.latency if updates is None or stepped is not None else None
        keep = choice.keeps_latency if choice.match or (spec and spec.match) else None
        if spec:
            latency = compute.latency(series, spec, window, keep)
            if spec.kind == "histogram":
                bucket = spec.metric + "_bucket"
                buckets = compute.bucket_values(series, bucket, window, per_second=False, keep=keep)
                histogram = compute.histogram(buckets.get("", []), spec.scale)
                latency = compute.with_bounds(latency, histogram)
                label = compute.breakdown_label(choice, samples_labels(series, bucket))
                if label:
                    grouped = compute.bucket_values(
                        series,
                        bucket,
                        window,
                        per_second=not window.cumulative,
                        group_by=lambda lab: lab.get(label, ""),
                        keep=keep,
                    )
                    by_endpoint = tuple(
                        (e, compute.scaled(compute.quantiles(b), spec.scale)) for e, b in sorted(grouped.items())
                    )
        return Snapshot(
            taken_at=now,
            source=self.kind,
            api=self._status,
            prometheus=NO_PROMETHEUS,
            window_seconds=window.range_ms / 1000 if stepped else window_seconds,
            requests=requests,
            counter_updates=updates,
            latency=latency,
            latency_histogram=histogram,
            model=self._model(series, window),
            metrics=choice,
            performance=self._performance(series, window.eval_ms),
            latency_by_endpoint=by_endpoint,
            llm=llm_from_series(self._llm, series, window) if self._llm else None,
        )

    def steps(self) -> Steps | None:
        """The request counters' steps, when they move in steps (Ray Serve), from the buffered scrapes."""
        known = self._choice.update_period_s if self._choice else None
        return detect([t for t, _ in self._totals], [v for _, v in self._totals], known)

    def looks_stepwise(self) -> bool:
        """The total moved only in jumps after flat runs so far (one update seen, or very sparse traffic)."""
        return suspicious([t for t, _ in self._totals], [v for _, v in self._totals])

    def counter_updates(self, window_seconds: float) -> tuple[CounterUpdates | None, compute.Window | None]:
        """For stepwise counters: what is known of them, and a window between two updates at least
        max(window, 2 periods) apart (None: the scrapes do not reach that far yet). (None, None): not stepwise."""
        if window_seconds <= 0 or not self._totals:
            return None, None
        known = self._choice.update_period_s if self._choice else None
        found = self.steps()
        family = self._choice.family if self._choice else "the target"
        if found is None or found.period_s is None:
            watched = (self._totals[-1][0] - self._totals[0][0]) / 1000
            if known is None or watched >= 2 * known:
                return None, None  # moving like live traffic, or idle for two whole periods: plain rates
            note = f"{family} publishes its counters every ~{known:g} s: watching for two updates"
            return CounterUpdates(known, "preset", None, note + f" ({watched:.0f} s so far)"), None
        period = found.period_s
        how = "detected" if known is None else "preset"
        need = max(window_seconds, 2 * period)
        span = found.span(need)
        says = f"counters update in steps every ~{period:.3g} s ({'detected from the scrapes' if how == 'detected' else 'as ' + family + ' documents'})"
        if span is None:
            return CounterUpdates(period, how, None, says + f": no two updates {need:.3g} s apart yet, no rate"), None
        start, end = span
        window = compute.Window(end, end - start, between_steps=True)
        return CounterUpdates(
            period, how, (end - start) / 1000, says + f": rates between two updates {(end - start) / 1000:.3g} s apart"
        ), window

    def _model(self, series, window: compute.Window) -> ModelStats | None:
        by_class: dict[str, float] = {}
        for (name, labels), ring in series:
            if name == self.names.predictions:
                value = window.value(ring, per_second=not window.cumulative)
                if value is not None:
                    cls = dict(labels).get("predicted_class", "")
                    by_class[cls] = by_class.get(cls, 0.0) + value
        info = self._model_info or {}
        if not by_class and not info:
            return None
        total = sum(by_class.values()) if by_class else None
        churn_rate = by_class.get("1", 0.0) / total if total else None
        scores = compute.bucket_values(series, self.names.probability + "_bucket", window, per_second=False)
        reference = compute.bucket_values(
            series, self.names.reference_probability + "_bucket", compute.Window(window.eval_ms, 0), per_second=False
        )
        return ModelStats(
            version=info.get("version"),
            training_month=info.get("training_month"),
            served_month=info.get("served_month"),
            predictions_per_s=None if window.cumulative else finite(total),
            predicted_churn_rate=finite(churn_rate),
            score_histogram=compute.histogram(compute.coarser(scores.get("", []), compute.SCORE_BAR_WIDTH)),
            reference_histogram=compute.histogram(compute.coarser(reference.get("", []), compute.SCORE_BAR_WIDTH)),
        )

    def _performance(self, series, eval_ms: int) -> Performance | None:
        """From the latest cumulative counts (since the API started: labels arrive long after predictions),
        or their increase over the performance window (the labels that arrived in it, the predictions made in it),
        at ``eval_ms`` (the newest scrape)."""
        n = self.names
        latest = compute.Window(eval_ms, round(self.performance_window * 1000))
        confusion: dict[tuple[str, str], float] = {}
        predictions = None
        for (name, labels), ring in series:
            if name == n.labelled:
                value = latest.value(ring, per_second=False, exact=True)
                if value is not None:
                    lab = dict(labels)
                    key = (lab.get("predicted", ""), lab.get("actual", ""))
                    confusion[key] = confusion.get(key, 0.0) + value
            elif name == n.predictions:
                value = latest.value(ring, per_second=False, exact=True)
                if value is not None:
                    predictions = (predictions or 0.0) + value
        by_actual = compute.bucket_values(
            series,
            n.labelled_probability + "_bucket",
            latest,
            per_second=False,
            group_by=lambda lab: lab.get("actual", ""),
            exact=True,
        )
        scores = compute.bucket_values(series, n.probability + "_bucket", latest, per_second=False, exact=True).get(
            "", []
        )
        return performance_of(
            confusion,
            by_actual.get("1", []),
            by_actual.get("0", []),
            scores,
            predictions,
            window_seconds=self.performance_window or None,
        )

    def history(self, duration_s: float, step_s: float, window_seconds: float) -> None:
        """None: a scrape source has no past the console has not already seen."""
        return None

    def close(self) -> None:
        self._fetcher.close()


def catalog_of(samples: dict[SeriesKey, float], exposition: Exposition) -> Catalog:
    """What is known of each parsed sample name: its family's TYPE and HELP, and the label names seen."""
    labels: dict[str, set[str]] = {}
    for name, pairs in samples:
        labels.setdefault(name, set()).update(k for k, _ in pairs)
    catalog = {}
    for name, seen in labels.items():
        family = exposition.family_of(name)
        catalog[name] = SampleMeta(family.type if family else "untyped", family.help if family else "", frozenset(seen))
    # A model server declares its counters before the first call (HELP and TYPE, no series): recognised by
    # them, it reads 0 requests rather than "no request counter found".
    for name, family in exposition.sample_names().items():
        if name not in catalog and name in PRESET_METRICS:
            catalog[name] = SampleMeta(family.type, family.help, frozenset(), declared_only=True)
    return catalog


def histogram_problem(samples: dict[SeriesKey, float], choice: MetricChoice) -> str | None:
    """Why the chosen histogram cannot give percentiles (a series without a +Inf bucket), or None."""
    spec = choice.latency
    if spec is None or spec.kind != "histogram":
        return None
    bucket = spec.metric + "_bucket"
    groups: dict[tuple, bool] = {}
    for name, pairs in samples:
        if name == bucket:
            key = tuple(p for p in pairs if p[0] != "le")
            le = parse_le(dict(pairs).get("le", ""))
            groups[key] = groups.get(key, False) or (le is not None and math.isinf(le))
    missing = [k for k, has_inf in groups.items() if not has_inf]
    if not missing:
        return None
    labels = ",".join(f'{k}="{v}"' for k, v in missing[0])
    return f"histogram {spec.metric} has no +Inf bucket for {{{labels}}}: percentiles cannot be computed (malformed exposition)"


def samples_labels(series, name: str) -> frozenset[str]:
    for (n, labels), _ in series:
        if n == name:
            return frozenset(k for k, _ in labels)
    return frozenset()
