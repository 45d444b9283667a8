"""``streamflow-api --workers 2``: metrics stay exact across processes."""

from __future__ import annotations

import httpx
from conftest import running_api
from metrics_text import samples, total, value

import streamflow_data as sd

K = 300


def test_counts_are_exact_across_workers():
    users = [row["user_id"] for row in sd.iter_rows("month_002")][:K]
    with running_api("--workers", "2", "--month", "month_002") as url:
        pids = set()
        # No keep-alive: a new connection per request lets the kernel spread them over both workers.
        with httpx.Client(base_url=url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as c:
            for i, user in enumerate(users):
                assert c.post("/predict", json={"user_id": user}).status_code == 200
                if i % 10 == 0:
                    pids.add(c.get("/health").json()["pid"])
        assert len(pids) == 2, "requests never reached the second worker"
        m = samples(httpx.get(url + "/metrics", timeout=10).text)
    assert value(m, "api_requests_total", endpoint="/predict", status="success", code="200") == K
    assert value(m, "api_request_latency_seconds_count", endpoint="/predict") == K
    assert value(m, "api_prediction_probability_count") == K
    assert total(m, "api_predictions_total") == K
    info = [dict(ls) for (n, ls), v in m.items() if n == "api_model_info" and v == 1]
    assert len(info) == 1 and info[0]["served_month"] == "month_002"
