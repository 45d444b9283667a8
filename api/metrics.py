"""The predictor's Prometheus metrics (names fixed by shared/DESIGN.md).

Each app owns its registry, so several apps can live in one process (tests).
When PROMETHEUS_MULTIPROC_DIR is set (``streamflow-api --workers N``) the
values live in prometheus-client's shared files and /metrics aggregates them
across worker processes.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from streamflow_data.buckets import LATENCY_BUCKETS, PROBABILITY_BUCKETS

from .feature_bins import FeatureBins, reference_layout

UNMATCHED_ENDPOINT = "unmatched"  # every path that matches no route
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BATCH_OUTCOMES = ("ok", "not_found")  # api_batch_items_total{outcome}: an item scored, or its user unknown


class ReferenceScores:
    """``api_reference_probability{version}``: the served model's scores on its own training rows, as a
    histogram with the same buckets as ``api_prediction_probability``. Counts come from the registry
    record (computed once, at training); a new champion replaces them."""

    def __init__(self):
        self.version: str | None = None
        self.counts: tuple[int, ...] = ()

    def collect(self):
        family = HistogramMetricFamily(
            "api_reference_probability",
            "Predicted churn probability of the served model's training rows: the distribution live scores are compared with.",
            labels=["version"],
        )
        if self.version and len(self.counts) == len(PROBABILITY_BUCKETS):
            cumulative, total, middle_sum = [], 0, 0.0
            for le, count in zip(PROBABILITY_BUCKETS, self.counts):
                total += count
                middle_sum += count * (le - 0.005)
                cumulative.append((floatToGoString(le), total))
            cumulative.append(("+Inf", total))
            family.add_metric([self.version], cumulative, sum_value=middle_sum)
        yield family


class ApiMetrics:
    def __init__(self, *, model_version: str, training_month: str, served_month: str):
        self.registry = CollectorRegistry()
        r = self.registry
        self.reference = ReferenceScores()
        r.register(self.reference)
        # Each scored row's features on the served model's reference bins (#28, api/feature_bins.py).
        self.features = FeatureBins()
        r.register(self.features)
        self.requests = Counter(
            "api_requests",
            "HTTP requests by route template, outcome and status code.",
            ["endpoint", "status", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "api_request_latency_seconds",
            "Time to answer an HTTP request, by route template.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.probability = Histogram(
            "api_prediction_probability",
            "Predicted churn probability of each scored row.",
            buckets=PROBABILITY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "api_predictions", "Scored rows by predicted class (1 = churn).", ["predicted_class"], registry=r
        )
        self.labelled = Counter(
            "api_labelled_predictions",
            "Predictions whose true label arrived (POST /feedback), by predicted and actual class.",
            ["predicted", "actual"],
            registry=r,
        )
        self.labelled_probability = Histogram(
            "api_labelled_probability",
            "Predicted churn probability of labelled predictions, by actual class.",
            ["actual"],
            buckets=PROBABILITY_BUCKETS,
            registry=r,
        )
        self.batch_items = Counter(
            "api_batch_items",
            "Items of POST /predict/batch by outcome: ok (scored) or not_found (unknown user_id, not scored).",
            ["outcome"],
            registry=r,
        )
        self.log_dropped = Counter(
            "api_prediction_log_dropped",
            "Scored rows the prediction log dropped: its bounded queue overflowed (the database away or too"
            " slow) or a write failed. Live drift, labels and retraining do not see them.",
            registry=r,
        )
        self.log_up = Gauge(
            "api_prediction_log_up",
            "1 while the prediction log's database answers, 0 while it cannot be reached (rows are queued).",
            multiprocess_mode="livemin",
            registry=r,
        )
        self.log_up.set(1)
        self.model_info = Gauge(
            "api_model_info",
            "The model being served (value is always 1).",
            ["version", "training_month", "served_month"],
            multiprocess_mode="max",
            registry=r,
        )
        self.model_info.labels(model_version, training_month, served_month).set(1)
        # Known series start at zero so that the first requests show up in rate().
        for predicted_class in ("0", "1"):
            self.predictions.labels(predicted_class)
            self.labelled_probability.labels(predicted_class)
            for actual in ("0", "1"):
                self.labelled.labels(predicted_class, actual)
        for outcome in BATCH_OUTCOMES:
            self.batch_items.labels(outcome)
        for endpoint in ("/predict", "/predict/batch"):
            self.requests.labels(endpoint, "success", "200")
            self.latency.labels(endpoint)

    def set_model(
        self,
        version: str,
        training_month: str,
        served_month: str,
        reference_counts: tuple[int, ...],
        previous: tuple[str, str] | None = None,
    ) -> None:
        """The served model changed: its info series is 1, the previous one's 0 (with several workers the
        values are maxed across them, so the old version reads 1 until every worker has swapped)."""
        if previous:
            self.model_info.labels(previous[0], previous[1], served_month).set(0)
        self.model_info.labels(version, training_month, served_month).set(1)
        self.reference.version, self.reference.counts = version, tuple(reference_counts)
        self.features.set_reference(reference_layout(training_month, version))

    def watch_log(self, log) -> None:
        """Count the prediction log's drops and say whether its database answers."""
        log.on_dropped = self.log_dropped.inc
        log.on_available = lambda up: self.log_up.set(1 if up else 0)
        self.log_up.set(1 if log.available else 0)

    def observe_request(self, endpoint: str, code: int, seconds: float) -> None:
        status = "success" if code < 400 else "error"
        self.requests.labels(endpoint, status, str(code)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_prediction(self, probability: float, predicted_class: int) -> None:
        self.probability.observe(probability)
        self.predictions.labels(str(predicted_class)).inc()

    def observe_batch(self, outcomes: dict[str, int]) -> None:
        """How the items of one batch ended (each item's prediction is observed on its own when scored)."""
        for outcome, count in outcomes.items():
            if count:
                self.batch_items.labels(outcome).inc(count)

    def observe_label(self, probability: float, predicted: int, actual: int) -> None:
        self.labelled.labels(str(predicted), str(actual)).inc()
        self.labelled_probability.labels(str(actual)).observe(probability)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper asked for (text 0.0.4 by default)."""
        encoder, content_type = choose_encoder(accept or "")
        path = os.environ.get(MULTIPROC_ENV)
        if path:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=path)
            registry.register(self.reference)  # this worker's model: not kept in the shared files
            registry.register(self.features)  # sums every worker's counts file itself
            return encoder(registry), content_type
        return encoder(self.registry), content_type
