"""The PostgreSQL prediction log under faults (#24), each its own test against a real server that is
really stopped and started: the API keeps serving predictions, says what is wrong, keeps its queue
bounded and its drops counted, and writes what it kept once the database is back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import httpx
import pytest
from fleet import running_fleet
from postgres_server import running_postgres
from waiting import wait_until


@pytest.fixture
def pg():
    with running_postgres() as server:
        yield server


def test_database_down_at_start_serves_predictions_degraded_then_writes_what_it_kept(pg):
    pg.stop()
    with running_fleet(pg, 1, prediction_log_queue_rows="500") as fleet:
        (api,) = fleet.replicas
        health = httpx.get(api.url + "/health", timeout=10).json()
        assert health["status"] == "degraded" and health["prediction_log"]["status"] == "unavailable"
        assert "cannot be reached" in health["prediction_log"]["error"]
        with httpx.Client(base_url=api.url, timeout=10) as c:
            answers = [c.post("/predict", json={"user_id": "4369-PFYCS"}).status_code for _ in range(700)]
        assert answers == [200] * 700
        # The queue holds 500 rows; the 200 past it are dropped and counted, in /health and in a metric.
        assert wait_until(lambda: api.metric("api_prediction_log_dropped_total") == 200, 10, "200 drops counted")
        assert httpx.get(api.url + "/health", timeout=10).json()["prediction_log"]["dropped"] == 200
        assert api.metric("api_prediction_log_up") == 0
        pg.start()
        wait_until(lambda: fleet.rows() == 500, 30, "the 500 queued rows written once the database is up")
        health = httpx.get(api.url + "/health", timeout=10).json()
        assert health["status"] == "ok" and health["prediction_log"]["pending"] == 0
        assert api.metric("api_prediction_log_up") == 1


def test_database_restarted_mid_run_loses_no_row_and_no_prediction_fails(pg):
    with running_fleet(pg, 1) as fleet:
        (api,) = fleet.replicas
        run = subprocess.Popen(
            [sys.executable, "-m", "loadgen.cli", "--url", api.url + "/predict", "--rate", "100", "--duration", "8"]
            + ["--json", "--no-progress"],
            stdout=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: fleet.rows() > 100, 20, "rows written before the restart")
        pg.stop("fast")
        down = wait_until(
            lambda: httpx.get(api.url + "/health", timeout=5).json()["status"] == "degraded", 10, "the API seeing it"
        )
        assert down
        pg.start()
        out, _ = run.communicate(timeout=60)
        report = json.loads(out)
        assert report["totals"]["errors"] == 0 and report["totals"]["ok"] == report["totals"]["sent"] == 800
        wait_until(lambda: fleet.rows() == 800, 30, "every answered prediction in the database", seen=fleet.rows)
        assert httpx.get(api.url + "/health", timeout=10).json()["prediction_log"]["dropped"] == 0


def test_feedback_while_the_database_is_down_is_a_clear_503(pg):
    with running_fleet(pg, 1) as fleet:
        (api,) = fleet.replicas
        prediction = httpx.post(api.url + "/predict", json={"user_id": "4369-PFYCS"}, timeout=10).json()
        wait_until(lambda: fleet.rows() == 1, 10, "the prediction written")
        pg.stop("fast")
        results: list[httpx.Response] = []
        worker = threading.Thread(
            target=lambda: results.append(
                httpx.post(
                    api.url + "/feedback", json={"prediction_id": prediction["prediction_id"], "actual": 1}, timeout=30
                )
            )
        )
        worker.start()
        worker.join(30)
        (answer,) = results
        assert answer.status_code == 503, answer.text
        detail = answer.json()["detail"]
        assert "cannot be reached" in detail and "not recorded" in detail
        assert answer.headers["retry-after"] == "1"
        for path in ("/monitoring/recent", "/monitoring/labelled"):
            assert httpx.get(api.url + path, timeout=30).status_code == 503
        assert httpx.post(api.url + "/predict", json={"user_id": "4369-PFYCS"}, timeout=10).status_code == 200
        pg.start()
        again = httpx.post(
            api.url + "/feedback", json={"prediction_id": prediction["prediction_id"], "actual": 1}, timeout=30
        )
        assert again.status_code == 200 and again.json()["status"] == "labelled"
