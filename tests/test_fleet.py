"""Model health across replicas (#24): three API processes share one PostgreSQL prediction log behind a
real round-robin balancer (haproxy), scraped by a real Prometheus at 5 s.

Every label joins its prediction whichever replica receives it, is counted once fleet-wide, and the
fleet's rows answer from any replica; the realised AUC Prometheus sums equals scikit-learn's on the
joined rows. The faults (database down at start, restarted mid-run, down under /feedback, a replica
killed with -9, bad settings) are a test each, below.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest
from fleet import Fleet, replica_env, running_fleet, start_replicas, stop
from haproxy_server import running_haproxy
from postgres_server import PASSWORD, running_postgres
from prometheus_server import query, running_prometheus, scrape_config
from sklearn.metrics import roc_auc_score
from waiting import wait_until

from streamflow_data import LATEST_MONTH


@pytest.fixture(scope="module")
def fleet():
    with running_postgres() as pg, running_fleet(pg, 3) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def balanced(fleet):
    with running_haproxy([r.url for r in fleet.replicas]) as url:
        yield url


def load(target: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "--url", target + "/predict", "--json", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_labels_sent_through_the_balancer_all_join_and_are_counted_once(fleet: Fleet, balanced: str):
    targets = [r.url.removeprefix("http://") for r in fleet.replicas]
    with running_prometheus(scrape_config(targets, interval="5s")) as prom:
        labelled_before = fleet.metric("api_labelled_predictions_total")
        served_before = [r.metric("api_requests_total", endpoint="/predict") for r in fleet.replicas]
        done = load(balanced, "--rate", "300", "-n", "1500", "--feedback-delay", "1")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["totals"]["ok"] == 1500
        feedback = report["feedback"]
        # The measurement before the shared log: 1,511 of 2,250 labels answered unknown.
        assert (feedback["sent"], feedback["unknown"], feedback["failed"], feedback["no_id"]) == (1500, 0, 0, 0)

        # haproxy spread the predictions (and so the labels) over every replica.
        served = [
            r.metric("api_requests_total", endpoint="/predict") - b for r, b in zip(fleet.replicas, served_before)
        ]
        assert all(n >= 300 for n in served), served
        # Each label counted once, fleet-wide: the sum Prometheus takes is exact.
        assert fleet.metric("api_labelled_predictions_total") - labelled_before == 1500

        # The fleet's rows, from whichever replica answers.
        for replica in fleet.replicas:
            recent = httpx.get(replica.url + "/monitoring/recent", timeout=30).json()
            labelled = httpx.get(replica.url + "/monitoring/labelled", timeout=30).json()
            assert recent["count"] == fleet.rows() and labelled["count"] == fleet.rows("actual IS NOT NULL")
        assert fleet.rows("actual IS NOT NULL") >= 1500

        # Realised AUC through Prometheus == scikit-learn's on the joined rows, to the bucket width (0.01).
        wait_until(
            lambda: (
                (r := query(prom, "sum(api_labelled_predictions_total)", time.time()))
                and float(r[0]["value"][1]) == fleet.metric("api_labelled_predictions_total")
            ),
            40,
            "Prometheus holding every replica's final label count",
        )
        once = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamflow_tui.cli",
                "--once",
                "--json",
                "--prometheus-url",
                prom,
                "--api-url",
                balanced,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert once.returncode in (0, 4), once.stderr
        performance = json.loads(once.stdout)["performance"]
        joined = [
            line.split("\t")
            for line in fleet.pg.psql("SELECT probability, actual FROM streamflow_predictions WHERE actual IS NOT NULL")
            .strip()
            .splitlines()
        ]
        assert performance["labels"] == len(joined)
        exact = roc_auc_score([int(a) for _, a in joined], [float(p) for p, _ in joined])
        assert performance["realized"]["roc_auc"] == pytest.approx(exact, abs=0.01)


def test_replicas_racing_on_the_same_labels_join_each_once(fleet: Fleet):
    answered = httpx.post(
        fleet.replicas[0].url + "/predict/batch",
        json={"items": [{"features": row} for row in _feature_rows(200)]},
        timeout=30,
    ).json()["predictions"]
    ids = [p["prediction_id"] for p in answered]
    items = [{"prediction_id": i, "actual": n % 2} for n, i in enumerate(ids)]
    before = fleet.metric("api_labelled_predictions_total")
    results: dict[int, list[str]] = {}
    start = threading.Barrier(len(fleet.replicas))

    def send(k: int) -> None:
        start.wait()
        body = httpx.post(fleet.replicas[k].url + "/feedback", json={"items": items}, timeout=60).json()
        results[k] = [item["status"] for item in body["items"]]

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(fleet.replicas))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for n in range(len(ids)):
        statuses = sorted(results[k][n] for k in results)
        assert statuses == ["already", "already", "labelled"], (n, statuses)
    assert fleet.metric("api_labelled_predictions_total") - before == len(ids)
    # A contradicting label is refused by whichever replica receives it.
    for replica in fleet.replicas:
        answer = httpx.post(replica.url + "/feedback", json={"prediction_id": ids[0], "actual": 1}, timeout=10)
        assert answer.status_code == 409


def test_a_replica_killed_with_sigkill_keeps_the_labels_of_what_it_had_written(fleet: Fleet):
    (victim,) = start_replicas(replica_env(fleet.pg), 1)
    try:
        ids = [
            p["prediction_id"]
            for p in httpx.post(
                victim.url + "/predict/batch", json={"items": [{"user_id": u} for u in _users(50)]}, timeout=30
            ).json()["predictions"]
        ]
        quoted = ",".join(f"'{i}'" for i in ids)
        wait_until(lambda: fleet.rows(f"prediction_id IN ({quoted})") == 50, 10, "the victim's writer flushing")
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
    finally:
        stop(victim)
    answer = httpx.post(
        fleet.replicas[1].url + "/feedback",
        json={"items": [{"prediction_id": i, "actual": 1} for i in ids]},
        timeout=30,
    ).json()
    assert answer["labelled"] == 50 and answer["unknown"] == 0


def test_load_labels_join_by_prediction_id_for_feature_payloads_too(fleet: Fleet):
    done = load(
        fleet.replicas[2].url, "--payload", "features", "--month", "month_001", "-n", "300", "--rate", "300",
        "--feedback-delay", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    feedback = json.loads(done.stdout)["feedback"]
    assert (feedback["sent"], feedback["unknown"], feedback["no_id"]) == (300, 0, 0)


def test_a_user_id_payload_of_another_month_than_served_is_refused(fleet: Fleet):
    done = load(fleet.replicas[0].url, "--month", "month_001", "-n", "10")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, no usage block
    assert f"the month the API serves ({LATEST_MONTH}" in lines[0] and f"--month {LATEST_MONTH}" in lines[0]


def test_the_password_shows_nowhere(fleet: Fleet):
    url_with_password = fleet.pg.url.replace("streamflow@", f"streamflow:{PASSWORD}@")
    env = {**replica_env(fleet.pg), "STREAMFLOW_API_PREDICTION_LOG": url_with_password}
    del env["STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE"]
    (replica,) = start_replicas(env, 1)
    try:
        health = httpx.get(replica.url + "/health", timeout=10).text
        assert PASSWORD not in health and "streamflow:***@" in health
        assert json.loads(health)["prediction_log"]["status"] == "ok"
    finally:
        stop(replica)
    assert PASSWORD not in replica.stderr
    helped = subprocess.run([sys.executable, "-m", "api.cli", "--help"], capture_output=True, text=True, env=env)
    assert PASSWORD not in helped.stdout + helped.stderr


@pytest.mark.parametrize(
    "url, password, says",
    [
        ("{url}", "wrong-password", "password authentication failed"),
        ("{url}", None, "no password supplied"),
        ("mysql://streamflow@127.0.0.1/streamflow", None, "or a postgresql:// URL"),
        ("postgresql://streamflow:{secret} x@127.0.0.1:{port}/streamflow", None, "is not valid"),
    ],
)
def test_a_bad_url_or_bad_credentials_is_one_line_and_exit_2(fleet: Fleet, tmp_path, url, password, says):
    env = {**os.environ, "PGPASSFILE": str(tmp_path / "none")}
    env["STREAMFLOW_API_PREDICTION_LOG"] = url.format(url=fleet.pg.url, secret=PASSWORD, port=fleet.pg.port)
    if password is not None:
        (tmp_path / "pw").write_text(password)
        env["STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE"] = str(tmp_path / "pw")
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "--port", "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2, done.stderr
    (line,) = [x for x in done.stderr.strip().splitlines() if not x.startswith("serving ")]
    assert "PREDICTION_LOG" in line and says in line  # the setting named, as flag or variable
    assert PASSWORD not in done.stderr and (password is None or password not in done.stderr)


def _users(n: int) -> list[str]:
    import streamflow_data as sd

    return [r["user_id"] for r in sd.iter_rows(LATEST_MONTH)][:n]


def _feature_rows(n: int) -> list[dict]:
    import streamflow_data as sd
    from streamflow_data.schema import FEATURES

    return [{f: r[f] for f in FEATURES} for r in sd.iter_rows("month_001")][:n]


def test_retention_by_rows_and_age_is_enforced_by_the_database(fleet: Fleet):
    """The newest `capacity` rows of all writers, none older than max_age_s: the database deletes them."""
    from api.prediction_log import open_prediction_log

    fleet.pg.psql("CREATE DATABASE retention OWNER streamflow")
    url = fleet.pg.url.rsplit("/", 1)[0] + "/retention"
    first = open_prediction_log(url, 100, password_file=fleet.pg.password_file)
    second = open_prediction_log(url, 100, password_file=fleet.pg.password_file, max_age_s=3600)
    try:
        for i in range(80):
            first.append(f"a{i}", "v1", None, 0.5, 1, (i,))
        first.flush()
        for i in range(80):
            second.append(f"b{i}", "v1", None, 0.5, 1, (i,))
        second.flush()  # its first write also trims the table to the newest 100
        count, rows = second.recent_json(1000)
        assert count == 100 and json.loads(rows)[0] == [60] and json.loads(rows)[-1] == [79]
        # Rows older than an hour go at the next write's retention pass.
        with psycopg.connect(url, password=fleet.pg.password_file.read_text().strip()) as conn:
            conn.execute("UPDATE streamflow_predictions SET at = at - 7200 WHERE prediction_id LIKE 'b%'")
        second._last_retention = 0.0  # the next write runs the pass (at most once a second otherwise)
        second.append("fresh", "v1", None, 0.5, 1, (999,))
        second.flush()
        count, rows = second.recent_json(1000)
        # The b rows aged out; the row bound moved on by the fresh row's one id (a60 went with it).
        assert count == 20 and [r[0] for r in json.loads(rows)] == [61 + i for i in range(19)] + [999]
    finally:
        first.close()
        second.close()
