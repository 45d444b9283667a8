"""The Prometheus source against every error shape Prometheus (or an impostor) can answer with."""

from __future__ import annotations

import json

import pytest
from conftest import free_port
from fake_targets import Reply, fake_target

from streamflow_tui.core.prometheus import PrometheusClient, PrometheusError, PrometheusSource


def _json(status: int, payload: dict) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode(), content_type="application/json")


@pytest.mark.parametrize(
    "reply, kind, words",
    [
        (
            _json(400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}),
            "bad_data",
            "parse error at char 5",
        ),
        (
            _json(
                422,
                {"status": "error", "errorType": "execution", "error": "query processing would load too many samples"},
            ),
            "execution",
            "too many samples",
        ),
        (_json(503, {"status": "error", "errorType": "unavailable", "error": "not ready"}), "unavailable", "not ready"),
        (Reply(status=404, body=b"404 page not found\n", content_type="text/plain"), "not_found", "is http"),
        (Reply(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html"), "http", "HTTP 502"),
        (
            Reply(status=200, body=b'{"status": "success", "data": {', content_type="application/json"),
            "invalid",
            "not its JSON API",
        ),
        (Reply(status=200, body=b"[1, 2, 3]", content_type="application/json"), "invalid", "not its JSON API"),
        (
            _json(200, {"status": "success", "data": {"resultType": "matrix", "result": []}}),
            "invalid",
            "unexpected result",
        ),
    ],
)
def test_error_shapes_become_clear_errors(reply, kind, words):
    with fake_target() as t:
        t.reply = reply
        client = PrometheusClient(t.url)
        with pytest.raises(PrometheusError) as info:
            client.query("up", 0)
        assert info.value.kind == kind and words in info.value.message
        snap = PrometheusSource(t.url).snapshot(30)
    assert snap.prometheus.error and words in snap.prometheus.error
    assert snap.requests.rps is None and snap.latency.p95 is None


def test_unreachable_and_timeout():
    snap = PrometheusSource(f"http://127.0.0.1:{free_port()}").snapshot(30)
    assert snap.prometheus.up is False and "connection refused" in snap.prometheus.error
    with fake_target() as t:
        t.reply = Reply(delay=2, body=b"{}", content_type="application/json")
        snap = PrometheusSource(t.url, timeout=0.3).snapshot(30)
    assert snap.prometheus.up is False and "did not answer within 0.3 s" in snap.prometheus.error


def _vector(*rows) -> Reply:
    return _json(
        200,
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": m, "value": [1, v]} for m, v in rows]},
        },
    )


def test_nan_and_inf_values_are_not_numbers():
    def answer(path: str) -> Reply:
        q = path
        if path.startswith("/api/v1/label/__name__/values"):
            return _json(
                200, {"status": "success", "data": ["api_requests_total", "api_request_latency_seconds_bucket"]}
            )
        if path.startswith("/api/v1/series"):
            series = [
                {
                    "__name__": "api_requests_total",
                    "endpoint": "/p",
                    "status": "success",
                    "code": "200",
                    "instance": "a",
                },
                {"__name__": "api_request_latency_seconds_bucket", "endpoint": "/p", "le": "+Inf", "instance": "a"},
            ]
            return _json(200, {"status": "success", "data": series})
        if path.startswith("/api/v1/targets"):
            return _json(200, {"status": "success", "data": {"activeTargets": [{"scrapeInterval": "1s"}]}})
        if path.startswith("/api/v1/metadata"):
            return _json(200, {"status": "success", "data": {}})
        if "histogram_quantile" in q:
            return _vector(({}, "NaN"))
        if "%2F+sum" in q or "/ sum" in q or "%2F%20sum" in q:
            return _vector(({}, "+Inf"))
        if "rate" in q and "api_requests_total" in q:
            return _vector(({"endpoint": "/p", "status": "success", "code": "200", "instance": "a"}, "NaN"))
        if "api_requests_total" in q:
            return _vector(({"endpoint": "/p", "status": "success", "code": "200", "instance": "a"}, "12"))
        if q.startswith("/api/v1/query?query=up"):
            return _vector(({"instance": "a", "job": "api"}, "1"))
        return _vector()

    with fake_target() as t:
        t.reply = answer
        snap = PrometheusSource(t.url).snapshot(30)
    assert snap.prometheus.error is None, snap.prometheus.error
    assert snap.requests.total == 12
    assert snap.requests.rps is None and snap.requests.by_series[0].rps is None
    assert snap.latency.p95 is None and snap.latency.avg is None
