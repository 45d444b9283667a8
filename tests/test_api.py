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
from waiting import wait_until

import streamflow_data as sd
from streamflow_data.buckets import LATENCY_BUCKETS, PROBABILITY_BUCKETS
from streamflow_data.schema import FEATURES

USERS = [row["user_id"] for row in sd.iter_rows("month_005")]
EVER = {row["user_id"] for m in sd.MONTHS for row in sd.iter_rows(m)}  # every user up to the served month_005
FEATURES_ROW = {
    k: v for k, v in next(sd.iter_rows("month_003")).items() if k not in ("user_id", "as_of", "churn_label")
}
JSON = {"content-type": "application/json"}


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
    body = r.json()
    assert body["scored"] == 21 and body["not_found"] == 0
    predictions = body["predictions"]
    assert [p["status"] for p in predictions] == ["ok"] * 21
    assert [p["user_id"] for p in predictions] == USERS[:20] + [None]
    single = client.post("/predict", json={"user_id": USERS[3]}).json()
    assert predictions[3]["churn_probability"] == single["churn_probability"]
    assert predictions[3].keys() == {"status", *single}  # each scored item is what /predict answers, and its status


def test_batch_answers_per_item_when_some_users_are_unknown(client):
    """An unknown user makes its item `not_found` (not scored), not the whole batch a 404: the batch is a 200."""
    items = [{"user_id": USERS[0]}, {"user_id": "0000-NOONE"}, {"features": FEATURES_ROW}, {"user_id": "0000-NOBODY"}]
    r = client.post("/predict/batch", json={"items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["scored"], body["not_found"]) == (2, 2)
    ok, missing, inline, missing_too = body["predictions"]
    assert ok["status"] == "ok" and ok["user_id"] == USERS[0] and 0 <= ok["churn_probability"] <= 1
    assert inline["status"] == "ok" and inline["user_id"] is None and inline["features_used"] == FEATURES_ROW
    assert missing == {
        "status": "not_found",
        "user_id": "0000-NOONE",
        "error": "unknown user_id '0000-NOONE' in month_005",
    }
    assert missing_too["status"] == "not_found" and missing_too["user_id"] == "0000-NOBODY"
    assert "churn_probability" not in missing and "prediction_id" not in missing
    only_unknown = client.post("/predict/batch", json={"items": [{"user_id": "0000-NOONE"}]})
    assert only_unknown.status_code == 200 and only_unknown.json()["scored"] == 0
    assert only_unknown.json()["predictions"][0]["status"] == "not_found"


def test_batch_outcomes_are_counted_and_only_scored_items_logged(api_url):
    """api_batch_items_total{outcome} counts the items; predictions and the prediction log take the scored ones."""
    with httpx.Client(base_url=api_url, timeout=10) as c:
        items = [{"user_id": u} for u in USERS[:3]] + [{"user_id": "0000-NOONE"}, {"features": FEATURES_ROW}]
        assert c.post("/predict/batch", json={"items": items}).status_code == 200
        assert c.post("/predict/batch", json={"items": [{"user_id": "0000-NOBODY"}]}).status_code == 200
        assert c.post("/predict/batch", json={"items": [{"user_id": 7}]}).status_code == 422  # nothing counted
        m = metrics(c)
        # The log is written in order by a background thread: once a marker scored after the batches is in it,
        # every row queued before it is too.
        marker = {**FEATURES_ROW, "months_active": 1_199}
        assert c.post("/predict", json={"features": marker}).status_code == 200
        months = FEATURES.index("months_active")

        def logged():
            doc = c.get("/monitoring/recent").json()
            return doc if any(row[months] == 1_199 for row in doc["rows"]) else None

        recent = wait_until(logged, 10, "the marker row in /monitoring/recent")
    assert value(m, "api_batch_items_total", outcome="ok") == 4
    assert value(m, "api_batch_items_total", outcome="not_found") == 2
    assert value(m, "api_prediction_probability_count") == 4
    assert total(m, "api_predictions_total") == 4
    assert value(m, "api_requests_total", endpoint="/predict/batch", status="success", code="200") == 2
    assert value(m, "api_requests_total", endpoint="/predict/batch", status="error", code="422") == 1
    assert recent["count"] == 4 + 1  # the log (live drift and feedback read it): the 4 scored rows, and the marker


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
        ({"items": []}, 422, "exactly one"),
    ],
)
def test_bad_requests_get_clear_errors(client, body, code, needle):
    r = client.post("/predict", json=body)
    assert r.status_code == code
    assert needle in r.text


def errors_of(response) -> list[dict]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body.keys() == {"detail", "error_count"} and body["error_count"] >= len(body["detail"]) >= 1
    for error in body["detail"]:
        assert error.keys() == {"type", "loc", "msg", "input"}
    return body["detail"]


@pytest.mark.parametrize(
    "field, bad",
    [
        ("monthly_fee", True),  # a boolean is not a fee
        ("monthly_fee", "12.5"),  # nor is a string of digits
        ("watch_hours_30d", False),
        ("months_active", "3"),
        ("months_active", True),
        ("months_active", 3.5),
        ("skips_7d", [1]),
        ("paperless_billing", True),  # a flag is the integer 0 or 1
        ("paperless_billing", "1"),
        ("plan_stream_tv", 1.5),
        ("net_service", 1),
        ("ticket_avg_resolution_hrs_90d", "5"),
    ],
)
def test_types_are_strict(client, field, bad):
    errors = errors_of(client.post("/predict", json={"features": {**FEATURES_ROW, field: bad}}))
    assert [e["loc"] for e in errors] == [["body", "features", field]]  # the field itself, no union tag in it
    assert errors[0]["input"] == json.dumps(bad)


def test_json_numbers_are_numbers(client):
    """An integer field takes 3.0 (JSON has one number type, and JSON Schema's integer admits it); a number
    field takes an integer. The answer is the same as for 3 and 12.0."""
    as_written = client.post("/predict", json={"features": FEATURES_ROW}).json()
    relaxed = {**FEATURES_ROW, "months_active": float(FEATURES_ROW["months_active"]), "paperless_billing": 1.0}
    relaxed["monthly_fee"] = int(FEATURES_ROW["monthly_fee"])
    r = client.post("/predict", json={"features": relaxed})
    assert r.status_code == 200, r.text
    used = r.json()["features_used"]
    assert used["months_active"] == FEATURES_ROW["months_active"] and isinstance(used["months_active"], int)
    assert used["paperless_billing"] == 1 and as_written["features_used"]["months_active"] == used["months_active"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/predict", {"user_id": True}),
        ("/predict/batch", {"items": [{"user_id": 12}]}),
        ("/predict/batch", {"items": {"user_id": USERS[0]}}),
        ("/feedback", {"prediction_id": "x", "actual": True}),
        ("/feedback", {"prediction_id": "x", "actual": "1"}),
        ("/feedback", {"prediction_id": 5, "actual": 1}),
        ("/feedback", {"items": [{"user_id": USERS[0], "actual": 1.5}]}),
    ],
)
def test_every_request_model_is_strict(client, path, body):
    errors_of(client.post(path, json=body))


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml", "application/jsonx"],
)
def test_a_body_that_is_not_json_is_415(client, content_type):
    for path in ("/predict", "/predict/batch", "/feedback"):
        r = client.post(path, content=b'{"user_id": "x"}', headers={"content-type": content_type})
        assert r.status_code == 415, (path, r.text)
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {
            "detail": f"the body must be JSON: Content-Type {content_type!r} is not accepted",
            "accepted": ["application/json", "application/*+json"],
        }


def test_a_body_without_content_type_is_415(shared_api):
    """A JSON body sent without saying so is refused too (FastAPI would guess JSON): the client is told what to send."""
    for body in (json.dumps({"user_id": USERS[0]}).encode(), b""):
        raw = httpx.Request("POST", shared_api + "/predict", content=body)
        assert "content-type" not in raw.headers  # httpx adds none for raw bytes
        with httpx.Client(timeout=10) as c:
            r = c.send(raw)
        assert r.status_code == 415, r.text
        assert "none was given" in r.json()["detail"] and r.json()["accepted"][0] == "application/json"


def test_json_content_types_with_parameters_or_suffix_are_accepted(client):
    body = json.dumps({"user_id": USERS[0]})
    for content_type in ("application/json; charset=utf-8", "Application/JSON", "application/vnd.streamflow+json"):
        r = client.post("/predict", content=body, headers={"content-type": content_type})
        assert r.status_code == 200, (content_type, r.text)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"features": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a": ' * 10_000 + b"1" + b"}" * 10_000,
        b"[" * 100_000,  # deep and unterminated
    ],
)
def test_deeply_nested_json_is_422(client, raw):
    for path in ("/predict", "/predict/batch", "/feedback"):
        r = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert len(r.content) < 4096
        errors = errors_of(r)
        assert errors[0]["loc"][0] == "body"


def test_nesting_the_parser_takes_is_rejected_by_the_schema_with_a_short_excerpt(client):
    r = client.post("/predict", content=b'{"features": ' + b"[" * 500 + b"]" * 500 + b"}", headers=JSON)
    (error,) = errors_of(r)
    assert error["loc"] == ["body", "features"] and error["input"] == "[" * 79 + "…"


def test_integers_python_cannot_parse_are_422(client):
    r = client.post("/predict", content=b'{"user_id": ' + b"1" * 5_000 + b"}", headers=JSON)
    (error,) = errors_of(r)
    assert error["type"] == "json_invalid" and "4300 digits" in error["msg"] and error["input"] is None


def test_a_1_mib_bad_body_gets_a_small_422(client):
    big = json.dumps({"user_id": "A" * 1_000_000})
    assert 1_000_000 < len(big) < 1_048_576  # under the body cap: this is validation, not the 413
    r = client.post("/predict", content=big, headers=JSON)
    (error,) = errors_of(r)
    assert len(r.content) < 4096
    assert error["loc"] == ["body", "user_id"] and error["type"] == "string_too_long"
    assert error["input"] == '"' + "A" * 78 + "…" and len(error["input"]) == 80


def test_a_10000_item_batch_is_not_echoed(client):
    r = client.post("/predict/batch", json={"items": [{"user_id": USERS[0]}] * 10_000})
    (error,) = errors_of(r)
    assert len(r.content) < 1024
    assert error["loc"] == ["body", "items"] and error["type"] == "too_long"
    assert len(error["input"]) == 80 and error["input"].endswith("…")


def test_many_errors_are_counted_but_only_the_first_listed(client):
    """500 bad items with long, escape-heavy keys and values: every error is counted, a few are listed,
    the answer stays under 4 KiB."""
    nasty = "\x01\u2028é" * 30
    item = {"user_id": nasty, nasty: nasty}
    r = client.post("/predict/batch", json={"items": [item] * 500})
    assert r.status_code == 422 and len(r.content) < 4096, len(r.content)
    body = r.json()
    assert body["error_count"] == 1_000  # per item: the user_id too long, and the unknown key
    assert 1 <= len(body["detail"]) < 20
    first = body["detail"][0]
    assert first["loc"][:3] == ["body", "items", 0] and len(first["input"]) <= 80
    assert all(len(str(part)) <= 80 for e in body["detail"] for part in e["loc"])


def test_the_schema_says_exactly_one_as_oneOf(client):
    """The OpenAPI schema describes what the server enforces: exactly one of user_id / features (and of
    prediction_id / user_id / items for /feedback) as a oneOf of closed objects."""
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]

    def body_schema(path):
        return doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]

    predict_one_of = [
        {"$ref": "#/components/schemas/PredictByUser"},
        {"$ref": "#/components/schemas/PredictByFeatures"},
    ]
    assert body_schema("/predict")["oneOf"] == predict_one_of
    assert schemas["BatchRequest"]["properties"]["items"]["items"]["oneOf"] == predict_one_of
    assert [r["$ref"].rsplit("/", 1)[1] for r in body_schema("/feedback")["oneOf"]] == [
        "FeedbackByPrediction",
        "FeedbackByUser",
        "FeedbackBatch",
    ]
    for name in ("PredictByUser", "PredictByFeatures", "FeedbackByPrediction", "FeedbackByUser", "FeedbackBatch"):
        assert schemas[name]["additionalProperties"] is False and len(schemas[name]["required"]) >= 1, name
    assert schemas["PredictByUser"]["required"] == ["user_id"]
    assert schemas["Features"]["properties"]["paperless_billing"] == {
        "type": "integer",
        "enum": [0, 1],
        "title": "Paperless Billing",
    }
    # Every route declares the 413 of the body cap; every route with a body its 415 and 422.
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert "413" in op["responses"], (method, path)
            if "requestBody" in op:
                assert {"415", "422"} <= op["responses"].keys(), (method, path)
                assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ValidationErrorBody"
                }
    assert {"200", "404", "413", "415", "422"} == doc["paths"]["/predict"]["post"]["responses"].keys()
    assert {"200", "413", "415", "422"} == doc["paths"]["/predict/batch"]["post"]["responses"].keys()


def test_every_row_the_store_serves_fits_the_response_schema():
    """features_used is validated against the strict Features model on the way out: no row of the bundled
    data may fail it (that would be a 500)."""
    from api.schemas import Features

    for month in sd.MONTHS:
        for row in sd.iter_rows(month):
            Features.model_validate({f: row[f] for f in FEATURES})


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
    assert client.post("/predict/batch", json={"items": []}).status_code == 422
    assert client.post("/predict/batch", json={"items": [{"user_id": USERS[0]}] * 1000}).status_code == 200
    # One invalid item (not unknown: invalid) is a 422 for the batch, naming the item; nothing is scored.
    r = client.post("/predict/batch", json={"items": [{"user_id": USERS[0]}, {"user_id": USERS[1], "features": {}}]})
    (error,) = errors_of(r)
    assert error["loc"] == ["body", "items", 1] and error["type"] == "exactly_one"


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
        assert c.post("/predict", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
        m = metrics(c)

    req = "api_requests_total"
    assert value(m, req, endpoint="/predict", status="success", code="200") == 8
    assert value(m, req, endpoint="/predict", status="error", code="404") == 1
    assert value(m, req, endpoint="/predict", status="error", code="422") == 1
    assert value(m, req, endpoint="/predict", status="error", code="405") == 1
    assert value(m, req, endpoint="/predict", status="error", code="415") == 1
    assert value(m, req, endpoint="unmatched", status="error", code="404") == 1
    assert value(m, req, endpoint="/predict/batch", status="success", code="200") == 1
    # The fixture's readiness probes hit /health; /metrics counts itself once it has answered.
    assert total(m, req) - total(m, req, endpoint="/health") == 14
    for (name, labels), _ in m.items():
        assert "user_id" not in dict(labels), name

    lat = "api_request_latency_seconds"
    assert value(m, lat + "_count", endpoint="/predict") == 12
    les = sorted(float(dict(ls)["le"]) for (n, ls) in m if n == lat + "_bucket" and ("endpoint", "/predict") in ls)
    assert les == [*LATENCY_BUCKETS, float("inf")]
    assert min(les) == 0.0005 and LATENCY_BUCKETS[-1] == 10.0
    assert value(m, lat + "_bucket", endpoint="/predict", le="+Inf") == 12
    assert 0 < value(m, lat + "_sum", endpoint="/predict") < 12 * 1.0

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
    assert value(m, "api_batch_items_total", outcome="ok") == 5
    assert value(m, "api_batch_items_total", outcome="not_found") == 0


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
