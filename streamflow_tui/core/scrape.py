"""The scrape source: polls a target's /metrics itself and computes PromQL on its own buffers."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timezone

from . import compute
from .exposition import DEFAULT_MAX_BYTES, MetricsFetcher, ParsedScrape, ScrapeError, finite
from .history import SeriesStore
from .naming import MetricNames, choose
from .results import EMPTY_LATENCY, EMPTY_REQUESTS, Latency, MetricChoice, ModelStats, Snapshot, TargetStatus

NO_PROMETHEUS = TargetStatus(url=None, up=None, error=None)


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
    ):
        self.api_url = api_url.rstrip("/")
        self.names = names or MetricNames()
        self._fetcher = MetricsFetcher(metrics_url(api_url), timeout=timeout, max_bytes=max_bytes)
        self._store: SeriesStore = SeriesStore(capacity=max(2, history_points))
        self._scrape_times: deque[int] = deque(maxlen=self._store.capacity)
        self._model_info: dict[str, str] | None = None
        self._choice: MetricChoice | None = None
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
        """Buffer one parsed scrape (``poll`` = fetch + ingest)."""
        self.last_scrape = scrape
        available: dict[str, set[str]] = {}
        for name, labels in scrape.samples:
            available.setdefault(name, set()).update(k for k, _ in labels)
        self._choice = choose(self.names, {k: frozenset(v) for k, v in available.items()})
        keep = self._wanted_names()
        info = None
        for key, value in scrape.samples.items():
            name = key[0]
            if name in keep:
                if key not in self._store and self._last_ok_ms is not None:
                    # Absent from the previous scrape, so nothing had been counted yet:
                    # without this zero a series born inside the window would have no rate.
                    self._store.append(key, self._last_ok_ms, 0.0)
                self._store.append(key, scrape.at_ms, value)
            elif name == self.names.model_info and value == 1:
                info = dict(key[1])
        self._model_info = info
        self._scrape_times.append(scrape.at_ms)
        self._store.prune(self._scrape_times[0])  # series gone for the whole buffer
        if self._first_ok_ms is None:
            self._first_ok_ms = scrape.at_ms
        self._last_ok_ms = scrape.at_ms
        error = None if self._choice.requests else self._choice.note
        self._status = TargetStatus(url=self.api_url, up=True, error=error)
        return self._status

    def _wanted_names(self) -> set[str]:
        c = self._choice
        wanted = {self.names.predictions, self.names.probability + "_bucket"}
        if c and c.requests:
            wanted.add(c.requests)
        if c and c.latency:
            wanted.update({c.latency + "_bucket", c.latency + "_sum", c.latency + "_count"})
        return wanted

    def snapshot(self, window_seconds: float) -> Snapshot:
        """Rates over the last ``window_seconds`` at the newest scrape; 0 means cumulative since start."""
        now = datetime.now(timezone.utc)
        ok = self._status.up and self._last_ok_ms is not None
        if not ok or self._choice is None:
            return Snapshot(now, self.kind, self._status, NO_PROMETHEUS, window_seconds, EMPTY_REQUESTS,
                            EMPTY_LATENCY, (), None, self._choice)  # fmt: skip
        window = compute.Window(self._last_ok_ms, round(window_seconds * 1000))
        series = self._store.items()
        choice = self._choice
        requests = compute.requests(series, choice, window)
        latency, histogram, by_endpoint = EMPTY_LATENCY, (), ()
        if choice.latency:
            latency = compute.latency(series, choice.latency, window)
            buckets = compute.bucket_values(series, choice.latency + "_bucket", window, per_second=False)
            histogram = compute.histogram(buckets.get("", []))
            label = choice.endpoint_label
            if label:
                grouped = compute.bucket_values(
                    series, choice.latency + "_bucket", window, per_second=not window.cumulative,
                    group_by=lambda lab: lab.get(label, ""),
                )  # fmt: skip
                by_endpoint = tuple((e, Latency(**compute.quantiles(b))) for e, b in sorted(grouped.items()))
        return Snapshot(
            taken_at=now,
            source=self.kind,
            api=self._status,
            prometheus=NO_PROMETHEUS,
            window_seconds=window_seconds,
            requests=requests,
            latency=latency,
            latency_histogram=histogram,
            model=self._model(series, window),
            metrics=choice,
            latency_by_endpoint=by_endpoint,
        )

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
        return ModelStats(
            version=info.get("version"),
            training_month=info.get("training_month"),
            served_month=info.get("served_month"),
            predictions_per_s=None if window.cumulative else finite(total),
            predicted_churn_rate=finite(churn_rate),
            score_histogram=compute.histogram(scores.get("", [])),
        )

    def close(self) -> None:
        self._fetcher.close()
