"""What the naming reads and what its note says (#25): explicit flags always take effect and are reported; the
self-traffic exclusion matches paths, route templates and view names, and the note names only what was really
left out; the finest latency family wins; OpenTelemetry's conventions need no flags."""

from __future__ import annotations

import re

import pytest

from streamflow_tui.core.choice import choose
from streamflow_tui.core.exposition import ParsedScrape
from streamflow_tui.core.naming import MetricNames, SampleMeta
from streamflow_tui.core.scrape import ScrapeSource
from streamflow_tui.core.selftraffic import DEFAULT_EXCLUDED, glob_regex, without_endpoints

EXCLUDED = re.compile("|".join(glob_regex(p) for p in DEFAULT_EXCLUDED))


@pytest.mark.parametrize(
    "value",
    ["/metrics", "/health", "/-/healthz", "/v2/health/ready", "/v2/models/{model_name}/ready", "/ping"]
    + ["prometheus-django-metrics", "mysite.health", "health_check", "Liveness", "app:readiness", "ping"],
)
def test_monitoring_endpoints_are_left_out_as_paths_templates_or_names(value):
    assert EXCLUDED.fullmatch(value)


@pytest.mark.parametrize(
    "value", ["/predict", "/api/healthcare", "/v2/models/{model_name}/infer", "deliver", "item-list", "shipping"]
)
def test_the_service_own_endpoints_are_kept(value):
    assert not EXCLUDED.fullmatch(value)


CATALOG = {
    "orders_requests_total": SampleMeta("counter", "", frozenset({"route", "http_code", "method"})),
    "orders_request_duration_seconds_bucket": SampleMeta("histogram", "", frozenset({"route", "le"})),
    "orders_request_duration_seconds_sum": SampleMeta("histogram", "", frozenset({"route"})),
    "orders_request_duration_seconds_count": SampleMeta("histogram", "", frozenset({"route"})),
}


def test_a_code_label_alone_turns_error_counting_on_and_the_note_says_what_was_used():
    detected = choose(MetricNames(), CATALOG)
    assert detected.code_label is None and not detected.errors_known  # http_code is not a known code label
    told = choose(MetricNames.from_env({}, code_label="http_code"), CATALOG)
    assert told.code_label == "http_code" and told.errors_known, told.note
    assert "code=http_code" in told.note and "set explicitly: code=http_code" in told.note
    assert "not counted by the target" not in told.note
    # A label the requests do not carry is reported as such, not silently read as empty.
    wrong = choose(MetricNames.from_env({}, endpoint_label="path"), CATALOG)
    assert wrong.endpoint_label == "path" and "not a label of the requests" in wrong.note


def test_the_note_names_what_was_left_out_or_says_nothing_can_be():
    excluded = without_endpoints(choose(MetricNames(), CATALOG), DEFAULT_EXCLUDED, CATALOG)
    assert "nothing left out so far" in excluded.note and "/metrics" not in excluded.note
    no_route = {"jobs_requests_total": SampleMeta("counter", "", frozenset({"code"}))}
    plain = without_endpoints(choose(MetricNames(), no_route), DEFAULT_EXCLUDED, no_route)
    assert "self-traffic: included" in plain.note and plain.match == ()


DJANGO = """# TYPE django_http_responses_total_by_status_view_method_total counter
django_http_responses_total_by_status_view_method_total{method="GET",status="200",view="prometheus-django-metrics"} %d
django_http_responses_total_by_status_view_method_total{method="GET",status="200",view="mysite.health"} %d
django_http_responses_total_by_status_view_method_total{method="GET",status="200",view="item-list"} 7
"""


def test_an_idle_django_reads_zero_and_names_the_views_left_out():
    source = ScrapeSource("http://127.0.0.1:9")
    for i in range(3):
        source.ingest(ParsedScrape.from_text(1000 * i, DJANGO % (i, 2 * i)))
    snap = source.snapshot(2.0)
    assert snap.requests.rps == 0.0 and snap.requests.total == 7
    assert snap.metrics.left_out == ("mysite.health", "prometheus-django-metrics")
    assert "left out view mysite.health, prometheus-django-metrics" in snap.metrics.note


# A TorchServe 0.12 (metrics_mode=prometheus) as it was served by the real server before its first prediction:
# Requests2XX counts the console's scrapes and the /ping probe; ts_inference_* are declared but have no series.
TORCHSERVE_FRESH = """# HELP Requests2XX Torchserve prometheus counter metric with unit: Count
# TYPE Requests2XX counter
Requests2XX{Level="Host",Hostname="vm",} %d.0
# HELP ts_inference_requests_total Torchserve prometheus counter metric with unit: Count
# TYPE ts_inference_requests_total counter
# HELP ts_inference_latency_microseconds Torchserve prometheus counter metric with unit: Microseconds
# TYPE ts_inference_latency_microseconds counter
"""
TORCHSERVE_SERVED = """ts_inference_requests_total{model_name="predictor",model_version="default",hostname="vm",} %d.0
ts_inference_latency_microseconds{model_name="predictor",model_version="default",hostname="vm",} %d.0
"""


def test_a_fresh_torchserve_reads_zero_not_its_scrapes_and_pings():
    source = ScrapeSource("http://127.0.0.1:9")
    for i in range(3):  # 4 responses a second on the ports: two scrapes, two pings; no prediction yet
        source.ingest(ParsedScrape.from_text(1000 * i, TORCHSERVE_FRESH % (4 * i)))
    snap = source.snapshot(2.0)
    assert snap.metrics is not None and snap.metrics.preset == "torchserve", snap.metrics.note
    # Recognised by its declared counters: 0 so far, said so — not 4 req/s, and not "no request counter found".
    assert snap.requests.rps == 0.0 and snap.requests.total == 0.0, (snap.requests, snap.metrics.note)
    assert "no request counted yet" in snap.metrics.note
    for i in range(3, 6):  # predictions: 20 a second; the probe and the scrapes still counted in Requests2XX
        text = TORCHSERVE_FRESH % (4 * i) + TORCHSERVE_SERVED % (20 * (i - 2), 2000 * 20 * (i - 2))
        source.ingest(ParsedScrape.from_text(1000 * i, text))
    snap = source.snapshot(2.0)
    assert snap.metrics is not None
    assert snap.metrics.preset == "torchserve" and snap.metrics.requests_metrics == ("ts_inference_requests_total",)
    assert snap.requests.rps == 20.0 and snap.latency.avg == 0.002


def test_the_finest_family_and_a_histogram_over_an_average():
    catalog = {
        "http_requests_total": SampleMeta("counter", "", frozenset({"handler", "status"})),
        "http_request_duration_seconds_bucket": SampleMeta("histogram", "", frozenset({"handler", "le"})),
        "http_request_duration_seconds_count": SampleMeta("histogram", "", frozenset({"handler"})),
        "http_request_duration_seconds_sum": SampleMeta("histogram", "", frozenset({"handler"})),
        "http_request_duration_highr_seconds_bucket": SampleMeta("histogram", "", frozenset({"le"})),
        "http_request_duration_highr_seconds_count": SampleMeta("histogram", "", frozenset()),
        "http_request_duration_highr_seconds_sum": SampleMeta("histogram", "", frozenset()),
    }
    assert choose(MetricNames(), catalog).latency.metric == "http_request_duration_highr_seconds"
    summary_only = {
        "svc_requests_total": SampleMeta("counter", "", frozenset({"path", "code"})),
        "svc_request_duration_seconds_sum": SampleMeta("summary", "", frozenset({"path"})),
        "svc_request_duration_seconds_count": SampleMeta("summary", "", frozenset({"path"})),
        "rest_request_duration_seconds_bucket": SampleMeta("histogram", "", frozenset({"path", "le"})),
        "rest_request_duration_seconds_sum": SampleMeta("histogram", "", frozenset({"path"})),
        "rest_request_duration_seconds_count": SampleMeta("histogram", "", frozenset({"path"})),
    }
    assert choose(MetricNames(), summary_only).latency.kind == "histogram"


OTEL = """# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{error_type="",http_response_status_code="200",http_route="/predict",le="0.005"} %(ok)d
http_server_request_duration_seconds_bucket{error_type="",http_response_status_code="200",http_route="/predict",le="+Inf"} %(ok)d
http_server_request_duration_seconds_count{error_type="",http_response_status_code="200",http_route="/predict"} %(ok)d
http_server_request_duration_seconds_sum{error_type="",http_response_status_code="200",http_route="/predict"} 0.01
http_server_request_duration_seconds_bucket{error_type="ValueError",http_response_status_code="",http_route="/predict",le="0.005"} %(bad)d
http_server_request_duration_seconds_bucket{error_type="ValueError",http_response_status_code="",http_route="/predict",le="+Inf"} %(bad)d
http_server_request_duration_seconds_count{error_type="ValueError",http_response_status_code="",http_route="/predict"} %(bad)d
http_server_request_duration_seconds_sum{error_type="ValueError",http_response_status_code="",http_route="/predict"} 0.001
http_server_request_duration_seconds_bucket{error_type="",http_response_status_code="200",http_route="/health",le="0.005"} %(probes)d
http_server_request_duration_seconds_bucket{error_type="",http_response_status_code="200",http_route="/health",le="+Inf"} %(probes)d
http_server_request_duration_seconds_count{error_type="",http_response_status_code="200",http_route="/health"} %(probes)d
http_server_request_duration_seconds_sum{error_type="",http_response_status_code="200",http_route="/health"} 0.001
"""


def test_opentelemetry_stable_conventions_with_no_flags():
    source = ScrapeSource("http://127.0.0.1:9")
    source.ingest(ParsedScrape.from_text(0, OTEL % {"ok": 0, "bad": 0, "probes": 0}))
    source.ingest(ParsedScrape.from_text(1000, OTEL % {"ok": 18, "bad": 2, "probes": 2}))
    snap = source.snapshot(1.0)
    c = snap.metrics
    assert c.preset == "opentelemetry" and c.endpoint_label == "http_route" and c.error_label == "error_type"
    assert snap.requests.rps == pytest.approx(20.0) and snap.requests.error_ratio == pytest.approx(0.1)
    assert {x.code for x in snap.requests.by_series if x.status == "error"} == {"ValueError"}
    p95 = snap.latency.bounds_of("p95")
    assert p95 is not None and (p95.lower, p95.upper) == (0.0, 0.005) and p95.coarse(snap.latency.p95)
