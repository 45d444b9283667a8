"""The churn predictor over a real socket: routes, metrics, bad input."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import running_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metrics_text import samples, total, value

import streamflow_data as sd
from api.metrics import LATENCY_BUCKETS, PROBABILITY_BUCKETS

USERS = [row["user_id"] for row in sd.iter_rows("month_005")]
EVER = {row["user_id"] for m in sd.MONTHS for row in sd.iter_rows(m)}  # every user up to the served month_005
FEATURES_ROW = {
    k: v for k, v in next(sd.iter_rows("month_003")).items() if k not in ("user_id", "as_of", "churn_label")
}


@pytest.fixture(scope="module")
def shared_api():
    with running_api() as url:
        yield url


@pytest.fixture(scope="module")
def client(shared_api):
    with httpx.Client(base_url=shared_api, timeout=10) as c:
        yield c


def metrics(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def test_predict_by_user_id(client):
    r = client.post("/predict", json={"user_id": USERS[0]})
    assert r.status_code == 200
    body = r.json()
    assert body["user_id"] == USERS[0]
    assert 0 <= body["churn_probability"] <= 1
    assert body["prediction"] == int(body["churn_probability"] >= 0.5)
    assert body["model_version"].startswith("month_000-")
    assert body["features_used"]["months_active"] == next(sd.iter_rows("month_005"))["months_active"]


def test_predict_inline_features_and_missing_resolution(client):
    r = client.post("/predict", json={"features": FEATURES_ROW})
    assert r.status_code == 200 and r.json()["user_id"] is None
    assert r.json()["features_used"] == FEATURES_ROW
    no_tickets = {**FEATURES_ROW, "support_tickets_90d": 0, "ticket_avg_resolution_hrs_90d": None}
    assert client.post("/predict", json={"features": no_tickets}).status_code == 200


def test_health_and_model_card(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["served_month"] == "month_005" and health["users"] == len(EVER)
    card = client.get("/model").json()
    assert card["training_month"] == "month_000"
    assert card["metrics"]["auc_next_month"] >= 0.75
    assert card["features"][0] == "months_active" and len(card["features"]) == 14


def test_batch(client):
    items = [{"user_id": u} for u in USERS[:20]] + [{"features": FEATURES_ROW}]
    r = client.post("/predict/batch", json={"items": items})
    assert r.status_code == 200
    predictions = r.json()["predictions"]
    assert [p["user_id"] for p in predictions] == USERS[:20] + [None]
    single = client.post("/predict", json={"user_id": USERS[3]}).json()
    assert predictions[3]["churn_probability"] == single["churn_probability"]


@pytest.mark.parametrize(
    "body, code, needle",
    [
        ({"user_id": "0000-NOONE"}, 404, "unknown user_id '0000-NOONE' in month_005"),
        ({}, 422, "exactly one"),
        ({"user_id": USERS[0], "features": FEATURES_ROW}, 422, "exactly one"),
        ({"user_id": 42}, 422, "user_id"),
        ({"user_id": ""}, 422, "user_id"),
        ({"features": {**FEATURES_ROW, "monthly_fee": "cheap"}}, 422, "monthly_fee"),
        ({"features": {**FEATURES_ROW, "skips_7d": -1}}, 422, "skips_7d"),
        ({"features": {**FEATURES_ROW, "net_service": "Cable"}}, 422, "net_service"),
        ({"features": {**FEATURES_ROW, "plan_stream_tv": 2}}, 422, "plan_stream_tv"),
        ({"features": {k: v for k, v in FEATURES_ROW.items() if k != "watch_hours_30d"}}, 422, "watch_hours_30d"),
        ({"features": {**FEATURES_ROW, "colour": "red"}}, 422, "colour"),
        ({"features": {**FEATURES_ROW, "monthly_fee": 1e308}}, 422, "monthly_fee"),
        ({"items": []}, 422, "extra"),
    ],
)
def test_bad_requests_get_clear_errors(client, body, code, needle):
    r = client.post("/predict", json=body)
    assert r.status_code == code
    assert needle in r.text


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b"\xff\xfe\x00garbage",
        b'{"features": {"monthly_fee": NaN}}',
        b'{"user_id": "' + b"A" * 500 + b'"}',
        b'{"features": null, "user_id": null}',
    ],
)
def test_garbage_bodies_are_422_never_500(client, raw):
    r = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_nan_in_features_is_rejected(client):
    raw = json.dumps({"features": {**FEATURES_ROW, "monthly_fee": float("nan")}})
    assert client.post("/predict", content=raw, headers={"content-type": "application/json"}).status_code == 422


def test_batch_limits(client):
    assert client.post("/predict/batch", json={"items": [{"user_id": USERS[0]}] * 1001}).status_code == 422
    r = client.post("/predict/batch", json={"items": [{"user_id": USERS[0]}, {"user_id": "0000-NOONE"}]})
    assert r.status_code == 404 and "0000-NOONE" in r.text


def test_oversized_body_is_413_declared_or_streamed(shared_api, client):
    big = b'{"user_id": "' + b"A" * 2_000_000 + b'"}'
    assert client.post("/predict", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks():
        for _ in range(40):
            yield b" " * 65536

    r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.text
    assert value(metrics(client), "api_requests_total", endpoint="/predict", status="error", code="413") >= 2


def test_exact_counts_labels_and_buckets_after_known_traffic(api_url):
    with httpx.Client(base_url=api_url, timeout=10) as c:
        for u in USERS[:7]:
            assert c.post("/predict", json={"user_id": u}).status_code == 200
        assert c.post("/predict", json={"features": FEATURES_ROW}).status_code == 200
        assert c.post("/predict", json={"user_id": "0000-NOONE"}).status_code == 404
        assert c.post("/predict", json={}).status_code == 422
        assert c.get("/predict").status_code == 405
        assert c.get("/no/such/path").status_code == 404
        assert c.post("/predict/batch", json={"items": [{"user_id": u} for u in USERS[:5]]}).status_code == 200
        m = metrics(c)

    req = "api_requests_total"
    assert value(m, req, endpoint="/predict", status="success", code="200") == 8
    assert value(m, req, endpoint="/predict", status="error", code="404") == 1
    assert value(m, req, endpoint="/predict", status="error", code="422") == 1
    assert value(m, req, endpoint="/predict", status="error", code="405") == 1
    assert value(m, req, endpoint="unmatched", status="error", code="404") == 1
    assert value(m, req, endpoint="/predict/batch", status="success", code="200") == 1
    # The fixture's readiness probes hit /health; /metrics counts itself once it has answered.
    assert total(m, req) - total(m, req, endpoint="/health") == 13
    for (name, labels), _ in m.items():
        assert "user_id" not in dict(labels), name

    lat = "api_request_latency_seconds"
    assert value(m, lat + "_count", endpoint="/predict") == 11
    les = sorted(float(dict(ls)["le"]) for (n, ls) in m if n == lat + "_bucket" and ("endpoint", "/predict") in ls)
    assert les == [*LATENCY_BUCKETS, float("inf")]
    assert min(les) == 0.0005 and LATENCY_BUCKETS[-1] == 10.0
    assert value(m, lat + "_bucket", endpoint="/predict", le="+Inf") == 11
    assert 0 < value(m, lat + "_sum", endpoint="/predict") < 11 * 1.0

    # 8 single predictions + 5 in the batch were scored.
    assert value(m, "api_prediction_probability_count") == 13
    assert (
        value(m, "api_predictions_total", predicted_class="0") + value(m, "api_predictions_total", predicted_class="1")
        == 13
    )
    prob_les = sorted(float(dict(ls)["le"]) for (n, ls) in m if n == "api_prediction_probability_bucket")
    assert prob_les == [*PROBABILITY_BUCKETS, float("inf")]
    info = [dict(ls) for (n, ls), v in m.items() if n == "api_model_info" and v == 1]
    assert len(info) == 1 and info[0]["served_month"] == "month_005" and info[0]["training_month"] == "month_000"


def test_openmetrics_on_request(client):
    r = client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


def test_binds_loopback_by_default():
    from api.cli import parse_args

    assert parse_args([]).host == "127.0.0.1"


def test_raw_socket_half_request_does_not_break_server(shared_api, client):
    host, port = urlsplit(shared_api).hostname, urlsplit(shared_api).port
    with socket.create_connection((host, port)) as s:
        s.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"user')
    assert client.get("/health").status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
feature_bodies = st.fixed_dictionaries(
    {"features": st.fixed_dictionaries({k: json_values | st.just(v) for k, v in FEATURES_ROW.items()})}
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | feature_bodies | st.fixed_dictionaries({"user_id": json_values}))
def test_no_input_causes_a_500(client, body):
    raw = json.dumps(body)  # NaN and infinities go out as the non-standard tokens some clients send
    for path in ("/predict", "/predict/batch"):
        r = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code in (200, 404, 422), r.text


def test_monitoring_is_loopback_only():
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    # TestClient reports its client as "testclient", which is not a loopback address.
    with TestClient(create_app(ApiSettings())) as c:
        r = c.get("/monitoring/recent")
        assert r.status_code == 403 and "loopback clients only" in r.text
    with TestClient(create_app(ApiSettings(monitoring_public=True))) as c:
        assert c.get("/monitoring/recent").status_code == 200


def test_users_of_earlier_months_are_scored_from_their_latest_row(client):
    """The online store holds every user's latest row as of the served month, as a materialised store does."""
    gone = next(u for u in (row["user_id"] for row in sd.iter_rows("month_000")) if u not in set(USERS))
    latest = next(row for m in reversed(sd.MONTHS) for row in sd.iter_rows(m) if row["user_id"] == gone)
    r = client.post("/predict", json={"user_id": gone})
    assert r.status_code == 200
    assert r.json()["features_used"]["monthly_fee"] == pytest.approx(latest["monthly_fee"])
