"""Drift as a time series: scheduled live checks kept run by run and drawn as features × time."""

from __future__ import annotations

import pytest
from conftest import running_api
from waiting import wait_until_async

from loadgen import LoadConfig, LoadRunner
from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.drift import ColumnDrift, DriftResult
from streamflow_tui.core.drift_history import DriftHistory, strength
from streamflow_tui.widgets.drift_view import heatmap_text


def result(share: float, drifted: set[str]) -> DriftResult:
    def score(c: str) -> float:  # a distance above its threshold, or a p-value below it, when drifted
        if c == "monthly_fee":
            return 0.5 if c in drifted else 0.01
        return 0.001 if c in drifted else 0.5

    columns = tuple(
        ColumnDrift(
            c,
            "num",
            "wasserstein" if c == "monthly_fee" else "ks",
            score(c),
            0.1 if c == "monthly_fee" else 0.05,
            c in drifted,
        )
        for c in ("monthly_fee", "skips_7d")
    )
    return DriftResult(
        "month_000",
        "live",
        "2024-01-31",
        "live",
        100,
        100,
        share,
        len(drifted),
        2,
        0.3,
        "RETRAINING_TRIGGERED" if share >= 0.3 else "NO_ACTION",
        None,
        None,
        None,
        None,
        None,
        columns,
    )


def test_strength_reads_distances_and_p_values_the_right_way_round():
    assert strength(0.2, 0.1, "wasserstein") == pytest.approx(2.0)  # a distance twice its threshold
    assert strength(0.01, 0.05, "ks") == pytest.approx(5.0)  # a p-value five times below its threshold
    assert strength(0.5, 0.05, "ks") == pytest.approx(0.1) and strength(None, 0.05, "ks") is None


def test_history_is_bounded_and_drawn_oldest_first():
    history = DriftHistory(capacity=3)
    for i, drifted in enumerate(({"monthly_fee"}, set(), {"monthly_fee"}, {"monthly_fee", "skips_7d"})):
        history.add(result(len(drifted) / 2, drifted), 1000.0 + i)
    assert [r.at for r in history.runs] == [1001.0, 1002.0, 1003.0]
    names, rows = history.matrix(10)
    assert names == ["monthly_fee", "skips_7d"]
    assert [c.drifted for c in rows[0]] == [False, True, True] and [c.drifted for c in rows[1]] == [False, False, True]
    text = heatmap_text(history, 80).plain
    header, *rows_text = text.splitlines()
    assert "3 runs" in header and rows_text[0].startswith("monthly_fee")
    assert rows_text[0].endswith("■■") and rows_text[1].endswith("■") and "".join(rows_text).count("■") == 3


async def test_scheduled_live_drift_fills_the_heatmap(tmp_path):
    with running_api() as api:
        s = (
            LoadRunner(
                LoadConfig(
                    url=api + "/predict", rate=1000, requests=800, duration=30, month="month_003", payload="features"
                )
            )
            .start()
            .wait()
        )
        assert s.ok == 800
        app = create_app(
            ConsoleConfig(
                api_url=api, interval=0.5, drift_every=1.0, reports_dir=str(tmp_path), export_dir=str(tmp_path)
            )
        )
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until_async(
                lambda: len(app.state.drift_history.runs) >= 2,
                90,
                "two scheduled runs",
                interval=0.2,
                pause=pilot.pause,
            )
            runs = list(app.state.drift_history.runs)
            assert len(runs) >= 2, "two scheduled runs"
            assert all(r.current == "live" and r.decision == "RETRAINING_TRIGGERED" for r in runs)  # month_003 drifts
            assert list(tmp_path.glob("drift_*")) == []  # scheduled runs write no report files
            await pilot.press("4")
            heatmap = str(app.query_one("#drift-heatmap").render())
            assert "■" in heatmap and "monthly_fee" in heatmap
            await pilot.press("t")  # stops the schedule
            await wait_until_async(  # the check already running, if one is, ends
                lambda: app.drift.started is None, 90, "the running check done", interval=0.2, pause=pilot.pause
            )
            n = len(app.state.drift_history.runs)
            await pilot.pause(2.5)  # deliberately: more than two of the stopped schedule's 1 s periods pass
            assert len(app.state.drift_history.runs) == n  # and no check starts
            await app.action_quit()
