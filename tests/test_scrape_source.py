"""The scrape source against real and purpose-built targets: every bad answer is a clear status."""

from __future__ import annotations

import math
import time

import pytest
from conftest import free_port
from fake_targets import Reply, fake_target

from streamflow_tui.core.exposition import ScrapeError, parse_body
from streamflow_tui.core.naming import MetricNames
from streamflow_tui.core.scrape import ScrapeSource

OURS = """# TYPE api_requests_total counter
api_requests_total{{endpoint="/predict",status="success",code="200"}} {ok}
api_requests_total{{endpoint="/predict",status="error",code="404"}} {err}
# TYPE api_request_latency_seconds histogram
api_request_latency_seconds_bucket{{endpoint="/predict",le="0.001"}} {b1}
api_request_latency_seconds_bucket{{endpoint="/predict",le="0.01"}} {b2}
api_request_latency_seconds_bucket{{endpoint="/predict",le="+Inf"}} {b3}
api_request_latency_seconds_sum{{endpoint="/predict"}} {s}
api_request_latency_seconds_count{{endpoint="/predict"}} {b3}
"""


def body(ok=0, err=0, b1=0, b2=0, b3=0, s=0.0) -> bytes:
    return OURS.format(ok=ok, err=err, b1=b1, b2=b2, b3=b3, s=s).encode()


def two_scrapes(target, first: bytes, second: bytes, gap: float = 0.2):
    source = ScrapeSource(target.url, history_points=10)
    target.reply = Reply(body=first)
    s1 = source.poll()
    time.sleep(gap)  # two scrapes at distinct times: the span the rates are over, deliberately
    target.reply = Reply(body=second)
    s2 = source.poll()
    return source, s1, s2


def test_rates_percentiles_and_histogram_from_two_scrapes():
    with fake_target() as t:
        source, s1, s2 = two_scrapes(
            t, body(ok=100, err=10, b1=50, b2=100, b3=110, s=0.5), body(ok=140, err=20, b1=70, b2=140, b3=160, s=0.7)
        )
        assert s1.up and s2.up
        span = source.span_seconds()
        snap = source.snapshot(span)
    r = snap.requests
    assert r.total == 160
    assert r.rps == pytest.approx(50 / span, rel=1e-9)
    assert r.error_ratio == pytest.approx(10 / 50)
    assert snap.latency.avg == pytest.approx(0.2 / 50)
    # 50 new observations: 20 ≤ 1 ms, 20 in (1, 10] ms, 10 above: p50 = 1 ms + 9 ms * 5/20.
    assert snap.latency.p50 == pytest.approx(0.001 + 0.009 * 5 / 20)
    assert snap.latency.p99 == pytest.approx(0.01)  # in the +Inf bucket: the highest finite bound
    assert [(b.le, b.count) for b in snap.latency_histogram] == [(0.001, 20), (0.01, 20), (math.inf, 10)]
    assert [t.requests.count("/metrics") for t in [t]] == [2]


def test_counter_reset_gives_no_negative_rate():
    with fake_target() as t:
        source, _, _ = two_scrapes(
            t, body(ok=1000, err=5, b1=900, b2=1000, b3=1005, s=3), body(ok=30, err=1, b1=20, b2=30, b3=31, s=0.1)
        )
        snap = source.snapshot(source.span_seconds())
    assert snap.requests.rps > 0
    assert snap.requests.rps == pytest.approx(31 / source.span_seconds(), rel=1e-9)  # counted from zero
    assert all(x.rps is None or x.rps >= 0 for x in snap.requests.by_series)
    assert all(b.count >= 0 for b in snap.latency_histogram)


def test_a_series_born_inside_the_window_is_counted():
    first = b'# TYPE api_requests_total counter\napi_requests_total{endpoint="/p",status="success",code="200"} 10\n'
    second = first.replace(b" 10\n", b" 20\n") + b'api_requests_total{endpoint="/p",status="error",code="500"} 10\n'
    with fake_target() as t:
        source, _, _ = two_scrapes(t, first, second)
        snap = source.snapshot(source.span_seconds())
    assert snap.requests.error_ratio == pytest.approx(0.5)


def test_window_zero_is_cumulative_and_has_no_rate():
    with fake_target() as t:
        t.reply = Reply(body=body(ok=90, err=10, b1=50, b2=90, b3=100, s=1.0))
        source = ScrapeSource(t.url)
        source.poll()
        snap = source.snapshot(0)
    assert snap.requests.rps is None and snap.requests.total == 100
    assert snap.requests.error_ratio == pytest.approx(0.1)
    assert snap.latency.avg == pytest.approx(0.01)


@pytest.mark.parametrize(
    "reply, kind_words",
    [
        (Reply(status=500, body=b"boom"), "HTTP 500"),
        (Reply(body=b"<html><body>Login</body></html>", content_type="text/html"), "got text/html"),
        (Reply(body=bytes(range(256)) * 10, content_type="text/plain"), "not UTF-8"),
        (Reply(body=b"\x00\x01garbage\x00", content_type="text/plain"), "NUL"),
        (Reply(body=b"<html>\n<p>not metrics</p>\n", content_type="text/plain"), "could not parse"),
        (
            Reply(
                body=b'api_requests_total{endpoint="/p",code="200"} 1\napi_requests_total{endpoint="/p",code="200"} 2\n'
            ),
            "duplicate series",
        ),
        (Reply(body=body(ok=1), declared_length=len(body(ok=1)) + 500), "closed the connection"),
        (Reply(body=b"", stream_bytes=100 * 1024 * 1024), "exceeds"),
        (Reply(body=b"# TYPE x counter\nx_total 1\n"), "no request counter found"),
    ],
)
def test_bad_answers_are_clear_statuses(reply, kind_words):
    with fake_target() as t:
        t.reply = reply
        source = ScrapeSource(t.url, max_bytes=8 * 1024 * 1024)
        status = source.poll()
        snap = source.snapshot(5)
    assert status.error and kind_words in status.error
    assert snap.requests.total is None and snap.requests.rps is None
    assert snap.latency.p95 is None and snap.latency_histogram == ()


def test_body_cap_applies_while_streaming_without_length():
    # A 100 MB answer never lands in memory: reading stops at the cap.
    with fake_target() as t:
        t.reply = Reply(body=b"", stream_bytes=100 * 1024 * 1024, declared_length=None)
        source = ScrapeSource(t.url, max_bytes=1024 * 1024)
        start = time.perf_counter()
        status = source.poll()
    assert "exceeds the 1,048,576-byte cap" in status.error
    assert time.perf_counter() - start < 5


def test_unreachable_and_hanging_targets():
    status = ScrapeSource(f"http://127.0.0.1:{free_port()}").poll()
    assert status.up is False and "connection refused" in status.error
    with fake_target() as t:
        t.reply = Reply(body=body(), delay=3)
        status = ScrapeSource(t.url, timeout=0.5).poll()
    assert status.up is False and "within 0.5 s" in status.error


def test_target_going_down_mid_run_keeps_no_stale_numbers():
    with fake_target() as t:
        source, _, _ = two_scrapes(t, body(ok=1, b3=1), body(ok=5, b3=5))
        assert source.snapshot(source.span_seconds()).requests.rps > 0
    status = source.poll()  # the server is gone now
    snap = source.snapshot(5)
    assert status.up is False and "connection refused" in status.error
    assert snap.requests.rps is None and snap.api.up is False


def test_nan_values_are_not_shown_as_numbers():
    with fake_target() as t:
        source, _, _ = two_scrapes(t, body(ok=1, b1=1, b2=1, b3=1, s=0.1), body(ok="NaN", b1=2, b2=2, b3=2, s="NaN"))
        snap = source.snapshot(source.span_seconds())
    assert snap.latency.avg is None
    by = {(x.code): x for x in snap.requests.by_series}
    assert by["200"].total is None and by["200"].rps is None
    # The NaN series makes the sum not a number: no headline total or rate at all, rather than the 404
    # series' 0 passed off as the whole.
    assert snap.requests.total is None and snap.requests.rps is None
    assert (by["404"].total, by["404"].rps) == (0.0, 0.0)  # the series that is a number is still shown


def test_openmetrics_bodies_are_parsed_by_content_type():
    om = b'# TYPE api_requests counter\napi_requests_total{endpoint="/p",status="success",code="200"} 7.0\napi_requests_created{endpoint="/p",status="success",code="200"} 1.7e9\n# EOF\n'
    samples = parse_body(om, "application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert samples[("api_requests_total", (("code", "200"), ("endpoint", "/p"), ("status", "success")))] == 7.0
    with pytest.raises(ScrapeError):
        parse_body(b"# EOF\ngarbage{", "application/openmetrics-text; version=1.0.0")


FOREIGN = b"""# TYPE http_requests_total counter
http_requests_total{handler="/items",method="GET",status="2xx"} %d
http_requests_total{handler="/items",method="POST",status="5xx"} %d
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/items",le="0.1"} %d
http_request_duration_seconds_bucket{handler="/items",le="+Inf"} %d
http_request_duration_seconds_sum{handler="/items"} 1
http_request_duration_seconds_count{handler="/items"} %d
"""


def test_foreign_instrumentation_is_detected_and_named():
    with fake_target() as t:
        source, _, _ = two_scrapes(t, FOREIGN % (10, 0, 10, 10, 10), FOREIGN % (20, 10, 15, 30, 30))
        snap = source.snapshot(source.span_seconds())
    assert snap.metrics.detected
    assert "http_requests_total" in snap.metrics.note and "http_request_duration_seconds" in snap.metrics.note
    assert snap.metrics.endpoint_label == "handler" and snap.metrics.code_label == "status"
    assert snap.requests.error_ratio == pytest.approx(0.5)
    assert {(x.endpoint, x.status, x.code) for x in snap.requests.by_series} == {
        ("/items", "success", "2xx"),
        ("/items", "error", "5xx"),
    }
    assert snap.latency.p50 == pytest.approx(0.1)


def test_configured_names_win(monkeypatch):
    monkeypatch.setenv("STREAMFLOW_REQUESTS_METRIC", "http_requests_total")
    names = MetricNames.from_env(endpoint_label="handler", code_label="status")
    with fake_target() as t:
        t.reply = Reply(body=FOREIGN % (1, 1, 1, 2, 2))
        source = ScrapeSource(t.url, names)
        source.poll()
        snap = source.snapshot(0)
    assert snap.metrics.requests_metrics == ("http_requests_total",) and snap.requests.total == 2
    with pytest.raises(ValueError, match="not a valid Prometheus name"):
        MetricNames(requests="bad name{}")


def test_memory_is_bounded_by_history_points():
    with fake_target() as t:
        source = ScrapeSource(t.url, history_points=5)
        for i in range(20):
            t.reply = Reply(body=body(ok=i, b3=i))
            source.poll()
        lengths = {len(ring) for _, ring in source._store.items()}
    assert lengths == {5}
