"""Is the model still good: the prediction log, feedback, realised performance from bucket counts,
and the CBPE estimate before labels — against exact computations on the same rows."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import httpx
import numpy as np
import pytest
from conftest import running_api
from sklearn.metrics import roc_auc_score

import streamflow_data as sd
from streamflow_tui.core.performance import binned_auc, cbpe, per_bucket

EDGES = [round(0.01 * i, 2) for i in range(1, 101)] + [float("inf")]


def cumulative(scores: list[float]) -> list[tuple[float, float]]:
    """Prometheus-style cumulative buckets of ``scores`` (le, count), as the API serves them."""
    values = np.asarray(scores)
    return [(le, float(np.sum(values <= le))) for le in EDGES]


def exact_cbpe_auc(p: np.ndarray) -> float:
    """Expected ROC AUC when each score p is a positive with probability p (NannyML's CBPE), from raw scores."""
    order = np.argsort(-p)
    tp = np.concatenate([[0], np.cumsum(p[order])]) / p.sum()
    fp = np.concatenate([[0], np.cumsum(1 - p[order])]) / (1 - p).sum()
    return float(np.trapezoid(tp, fp))


def test_binned_auc_is_within_0_01_of_the_exact_one():
    rng = random.Random(3)
    for _ in range(20):
        labels = [rng.random() < 0.2 for _ in range(3000)]
        scores = [min(1.0, max(0.0, rng.gauss(0.35 if y else 0.2, 0.15))) for y in labels]
        pos = per_bucket(cumulative([s for s, y in zip(scores, labels) if y]))
        neg = per_bucket(cumulative([s for s, y in zip(scores, labels) if not y]))
        assert binned_auc([c for *_, c in pos], [c for *_, c in neg]) == pytest.approx(
            roc_auc_score(labels, scores), abs=0.01
        )


def test_cbpe_from_buckets_matches_the_exact_expectation():
    rng = np.random.default_rng(5)
    p = np.clip(rng.beta(1.2, 6, 5000), 0, 1)
    estimate = cbpe(cumulative(list(p)), 0.5)
    predicted = p >= 0.5
    assert estimate.roc_auc == pytest.approx(exact_cbpe_auc(p), abs=0.01)
    tp, fp = p[predicted].sum(), (1 - p[predicted]).sum()
    fn, tn = p[~predicted].sum(), (1 - p[~predicted]).sum()
    assert estimate.precision == pytest.approx(tp / (tp + fp), abs=0.01)
    assert estimate.recall == pytest.approx(tp / (tp + fn), abs=0.01)
    assert estimate.accuracy == pytest.approx((tp + tn) / len(p), abs=0.01)


def once(api: str, *args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", api, "--window", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def month_001_scored_and_labelled():
    """The API serving month_001; every user scored once; the true labels fed back by prediction id."""
    rows = list(sd.iter_rows("month_001"))
    with running_api("--month", "month_001") as api:
        with httpx.Client(base_url=api, timeout=60) as c:
            predictions = []
            for start in range(0, len(rows), 1000):
                batch = c.post(
                    "/predict/batch", json={"items": [{"user_id": r["user_id"]} for r in rows[start : start + 1000]]}
                ).json()
                predictions += batch["predictions"]
            code, before = once(api)
            feedback = [
                {"prediction_id": p["prediction_id"], "actual": int(r["churn_label"])}
                for p, r in zip(predictions, rows)
            ]
            answer = c.post("/feedback", json={"items": feedback}).json()
            model = c.get("/model").json()
            yield api, c, rows, predictions, before, answer, model


def test_before_labels_only_the_estimate(month_001_scored_and_labelled):
    _, _, rows, predictions, before, _, _ = month_001_scored_and_labelled
    perf = before["performance"]
    assert perf["realized"] is None and perf["labels"] == 0 and perf["coverage"] == 0
    p = np.array([x["churn_probability"] for x in predictions])
    assert perf["estimated"]["roc_auc"] == pytest.approx(exact_cbpe_auc(p), abs=0.01)


def test_realised_matches_the_exact_auc_and_the_estimate_holds_on_month_001(month_001_scored_and_labelled):
    api, _, rows, predictions, _, answer, model = month_001_scored_and_labelled
    assert answer["labelled"] == len(rows) and answer["unknown"] == 0
    code, doc = once(api)
    perf = doc["performance"]
    labels = [int(r["churn_label"]) for r in rows]
    exact = roc_auc_score(labels, [p["churn_probability"] for p in predictions])
    assert perf["labels"] == len(rows) and perf["coverage"] == 1.0
    assert perf["realized"]["roc_auc"] == pytest.approx(exact, abs=0.01)  # binning error, documented
    assert perf["realized"]["roc_auc"] == pytest.approx(model["metrics"]["auc_next_month"], abs=0.01)
    # No concept change in month_001: the calibrated estimate and the realised AUC agree.
    assert perf["estimated"]["roc_auc"] == pytest.approx(perf["realized"]["roc_auc"], abs=0.03)
    predicted = [p["prediction"] for p in predictions]
    tp = sum(1 for y, q in zip(labels, predicted) if y and q)
    assert perf["realized"]["precision"] == pytest.approx(tp / sum(predicted))
    assert perf["realized"]["recall"] == pytest.approx(tp / sum(labels))
    # --slo-min-auc: met below the realised AUC, breached above it (exit 4).
    assert once(api, "--slo-min-auc", "0.5")[0] == 0
    code, doc = once(api, "--slo-min-auc", "0.99")
    assert code == 4 and doc["slo"]["min_auc"]["breached"] is True and doc["slo"]["min_auc"]["source"] == "realized"


def test_feedback_edge_cases(month_001_scored_and_labelled):
    _, c, rows, predictions, _, _, _ = month_001_scored_and_labelled
    first = predictions[0]["prediction_id"]
    label = int(rows[0]["churn_label"])
    assert (
        c.post("/feedback", json={"prediction_id": first, "actual": label}).json()["status"] == "already"
    )  # idempotent
    assert c.post("/feedback", json={"prediction_id": first, "actual": 1 - label}).status_code == 409
    r = c.post("/feedback", json={"prediction_id": "no-such-id", "actual": 1})
    assert r.status_code == 404 and "no-such-id" in r.json()["detail"]
    for bad in (
        {"prediction_id": first, "actual": 2},
        {"prediction_id": first, "actual": True},
        {"prediction_id": first, "actual": "1"},
        {"actual": 1},
        {"prediction_id": first, "user_id": "x", "actual": 1},
    ):
        assert c.post("/feedback", json=bad).status_code == 422, bad
    batch = c.post(
        "/feedback", json={"items": [{"prediction_id": "nope", "actual": 0}, {"prediction_id": first, "actual": label}]}
    ).json()
    assert [i["status"] for i in batch["items"]] == ["unknown", "already"]
    # /predict keeps answering after all of it.
    assert c.post("/predict", json={"user_id": rows[1]["user_id"]}).status_code == 200


def test_feedback_by_user_id_and_the_labelled_metrics():
    rows = list(sd.iter_rows("month_001"))[:50]
    with running_api("--month", "month_001") as api, httpx.Client(base_url=api) as c:
        for r in rows:
            assert c.post("/predict", json={"user_id": r["user_id"]}).status_code == 200
        answer = c.post(
            "/feedback", json={"items": [{"user_id": r["user_id"], "actual": int(r["churn_label"])} for r in rows]}
        ).json()
        metrics = c.get("/metrics").text
    assert answer["labelled"] == 50
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("api_labelled_predictions_total{")
    )
    assert counted == 50


def test_the_load_generator_feeds_delayed_labels():
    """streamflow-load replays month_001 and sends each answered row's true label 1 s later."""
    import time

    with running_api("--month", "month_001") as api:
        start = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "loadgen.cli",
                "--url",
                api,
                "--month",
                "month_001",
                "--payload",
                "user_id",
                "--rate",
                "400",
                "--requests",
                "2000",
                "--feedback-delay",
                "1",
                "--json",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - start
        report = json.loads(done.stdout)
        code, doc = once(api)
    assert report["totals"]["ok"] == 2000
    f = report["feedback"]
    assert f["sent"] == 2000 and f["unknown"] == 0 and f["failed"] == 0 and f["delay_s"] == 1
    assert elapsed >= 5 + 1  # 2,000 at 400/s, and the last labels waited their second
    perf = doc["performance"]
    assert perf["labels"] == 2000 and perf["coverage"] == 1.0
    assert perf["realized"]["roc_auc"] == pytest.approx(perf["estimated"]["roc_auc"], abs=0.03)


def test_feedback_needs_a_payload_of_rows():
    done = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "--payload", "none", "--feedback-delay", "1", "-n", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "needs a payload of rows" in done.stderr


def test_recent_rows_include_the_batch_the_writer_thread_is_writing(tmp_path):
    """``recent_json`` flushes first. When the writer thread has just taken the queue and is still writing it,
    the read must wait for that batch too (the live-drift test once read 2,987 of 3,000 answered rows)."""
    import sqlite3
    import threading

    from waiting import wait_until

    from api.prediction_log.sqlite import SqliteLog

    log = SqliteLog(tmp_path / "p.sqlite", capacity=100)
    other = sqlite3.connect(tmp_path / "p.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the writer thread's next write waits on this lock (busy timeout 5 s)
    for i in range(10):
        log.append(f"id{i}", "v1", f"u{i}", 0.2, 0, (i,))
    wait_until(lambda: not log._pending, 5, "the writer thread taking the queued rows")
    result: list[tuple[int, str]] = []
    reader = threading.Thread(target=lambda: result.append(log.recent_json(100)))
    reader.start()
    reader.join(0.3)  # a reader that does not wait for the writer's batch has answered by now
    other.execute("COMMIT")
    reader.join(10)
    log.close()
    assert result and result[0][0] == 10, result


def test_the_log_is_bounded_and_says_what_it_could_not_write(tmp_path):
    import sqlite3

    from api.prediction_log import PredictionLogError
    from api.prediction_log.sqlite import SqliteLog

    log = SqliteLog(tmp_path / "p.sqlite", capacity=100)
    for i in range(150):
        log.append(f"id{i}", "v1", f"u{i}", 0.2, 0, (i,))
    count, rows = log.recent_json(1000)
    assert count == 100 and json.loads(rows)[0] == [50] and json.loads(rows)[-1] == [149]  # the newest 100
    statuses, _ = log.label([("id10", None, 1), ("id120", None, 1)])
    assert statuses == ["unknown", "labelled"]  # id10 expired with the rows the bound let go
    # Another process holds the write lock: rows queued meanwhile are counted as dropped, never silently lost,
    # and the API's request path (append) keeps working.
    other = sqlite3.connect(tmp_path / "p.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    log._connect().execute("PRAGMA busy_timeout = 100")
    log.append("late", "v1", None, 0.1, 0, (0,))
    log.flush()
    assert log.dropped == 1 and "could not be written" in log.error
    other.execute("ROLLBACK")
    log.close()
    (tmp_path / "bad.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(PredictionLogError, match="cannot be opened"):
        SqliteLog(tmp_path / "bad.sqlite", capacity=10)
