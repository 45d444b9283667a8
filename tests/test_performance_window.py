"""Model quality over a window, through a real Prometheus scraping at 5 s (our compose's interval): the
labels that arrived in the last W seconds, not since the API started. A recent collapse (labels that
contradict the scores) shows in the window while the since-start figures still look healthy."""

from __future__ import annotations

import httpx
import pytest
import waiting
from conftest import running_api
from prometheus_server import running_prometheus, scrape_config
from sklearn.metrics import precision_score, recall_score, roc_auc_score

import streamflow_data as sd
from streamflow_tui.core.prometheus import PrometheusSource

WINDOW = 30.0  # >= 4 scrape intervals: increase() needs two samples inside it


def wait_until(condition, timeout: float, what: str):
    """Prometheus scrapes every 5 s: checking twice a second is often enough."""
    return waiting.wait_until(condition, timeout, what, interval=0.5)


def score_and_label(client: httpx.Client, rows: list[dict], flip: bool) -> tuple[list[float], list[int]]:
    answer = []
    for start in range(0, len(rows), 1000):  # the API's batch limit
        batch = [{"user_id": r["user_id"]} for r in rows[start : start + 1000]]
        answer += client.post("/predict/batch", json={"items": batch}).json()["predictions"]
    labels = [1 - int(r["churn_label"]) if flip else int(r["churn_label"]) for r in rows]
    items = [{"prediction_id": p["prediction_id"], "actual": y} for p, y in zip(answer, labels)]
    assert client.post("/feedback", json={"items": items}).json()["labelled"] == len(rows)
    return [p["churn_probability"] for p in answer], labels


def test_the_window_sees_a_recent_collapse_that_the_totals_hide():
    rows = list(sd.iter_rows("month_001"))
    early, late = rows[:3000], rows[3000:4000]
    with (
        running_api("--month", "month_001") as api,
        running_prometheus(scrape_config([api.removeprefix("http://")], "5s")) as prom,
    ):
        since_start = PrometheusSource(prom)
        windowed = PrometheusSource(prom, performance_window=WINDOW)
        try:
            with httpx.Client(base_url=api, timeout=60) as client:
                score_and_label(client, early, flip=False)
                wait_until(
                    lambda: (p := since_start.snapshot(5).performance) and p.labels == len(early),
                    60,
                    "the first labels scraped",
                )
                # Once the first labels are older than the window, the window holds none of them.
                wait_until(
                    lambda: (p := windowed.snapshot(5).performance) and p.labels == 0, 3 * WINDOW, "the window emptied"
                )
                scores, labels = score_and_label(client, late, flip=True)  # labels that contradict the scores
            total = wait_until(
                lambda: (p := since_start.snapshot(5).performance) and p.labels == len(early) + len(late) and p,
                60,
                "all labels scraped",
            )
            recent = windowed.snapshot(5).performance
        finally:
            since_start.close()
            windowed.close()
    assert total.window == "since the API started" and recent.window == f"last {WINDOW:g} s"
    assert total.realized.roc_auc > 0.6  # 3,000 true labels outweigh 1,000 contradicting ones
    # The window holds only the late batch, exactly (growth of the counters, not increase()'s extrapolation):
    # its figures are that batch's, computed here from the rows.
    assert recent.labels == len(late)
    predicted = [int(p >= 0.5) for p in scores]
    assert (
        recent.realized.roc_auc == pytest.approx(roc_auc_score(labels, scores), abs=0.01)
        and recent.realized.roc_auc < 0.4
    )
    assert recent.realized.precision == pytest.approx(precision_score(labels, predicted), abs=1e-6)
    assert recent.realized.recall == pytest.approx(recall_score(labels, predicted), abs=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--once", "--api-url", "http://127.0.0.1:9", "--performance-window", "60"], "needs --prometheus-url"),
        (
            ["--api-url", "http://127.0.0.1:9", "--history", "30", "--performance-window", "60"],
            "shorter than --performance-window",
        ),
    ],
)
def test_a_window_the_source_cannot_hold_is_a_usage_error(argv, message, capsys):
    from streamflow_tui.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
