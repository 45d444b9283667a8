"""The console's model-health surfaces driven by Pilot against the real API: delayed labels from the Load
view, realised and estimated AUC over time, the score distribution against the reference month, and the
Drift view's reference vs current distribution of the selected feature."""

from __future__ import annotations

import pytest
from conftest import running_api
from reference_scores import reference_shares, shares_of
from test_console import console, wait_for
from textual.widgets import DataTable, Input, Select

from streamflow_data import load_frame
from streamflow_tui.app import create_app


@pytest.fixture(scope="module")
def api_month_004():
    with running_api("--month", "month_004") as url:
        yield url


async def test_the_load_view_refuses_user_ids_of_another_month_than_served(api_month_004, tmp_path):
    """The panel's month is month_005 and the API serves month_004: user ids would be scored with month_004's
    features and labelled with month_005's churn, so `l` says why and starts nothing (#24)."""
    app = create_app(console(tmp_path, api_url=api_month_004))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(
            pilot, lambda: app.state.snapshot and app.state.snapshot.model and app.state.snapshot.model.served_month
        )
        await pilot.press("5", "l")
        stats = lambda: str(app.query_one("#load-stats").render())  # noqa: E731
        await wait_for(pilot, lambda: "not the month the API serves (month_004" in stats())
        assert "--month month_004" in stats() and app.loads.runner is None
        await app.action_quit()


async def test_labels_from_the_load_view_feed_quality_over_time(api_month_004, tmp_path):
    app = create_app(console(tmp_path, api_url=api_month_004))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("5")
        app.query_one("#load-month", Select).value = "month_004"
        app.query_one("#load-rate", Input).value = "100"
        app.query_one("#load-feedback", Input).value = "soon"
        await pilot.press("l")
        stats = lambda: str(app.query_one("#load-stats").render())  # noqa: E731
        await wait_for(pilot, lambda: "not a number of seconds" in stats())
        assert app.loads.runner is None  # nothing started on a bad field

        app.query_one("#load-feedback", Input).value = "0.5"
        await pilot.press("l")
        await wait_for(
            pilot,
            lambda: (
                app.state.snapshot
                and app.state.snapshot.performance
                and (app.state.snapshot.performance.labels or 0) > 100
            ),
        )
        await wait_for(pilot, lambda: "taken by /feedback" in stats())
        feedback = app.loads.runner.feedback()
        assert feedback["delay_s"] == 0.5 and feedback["sent"] > 0 and feedback["failed"] == 0

        await pilot.press("3")
        await wait_for(pilot, lambda: sum(v is not None for v in app.state.timeline.column("auc_realised")) >= 3)
        perf = app.state.snapshot.performance
        assert 0.6 < perf.realized.roc_auc <= 1 and 0.6 < perf.estimated.roc_auc <= 1 and 0 < perf.coverage <= 1
        assert any(v is not None for v in app.state.timeline.column("label_coverage"))
        # The reference month's scores, as the API serves them, equal the model's scores of month_000's rows.
        served = shares_of(app.state.snapshot.model.reference_histogram)
        expected = reference_shares("month_000")
        assert all(served[le] == pytest.approx(expected[le], abs=1e-9) for le in expected)
        shown = str(app.query_one("#score-histogram").render())
        assert "window vs reference" in shown and f"{expected[0.05] * 100:4.1f}%" in shown
        assert "AUC (left), label coverage % (right) · last" in str(app.query_one("#quality-plot").border_title)
        await pilot.press("l")
        await wait_for(pilot, lambda: not app.loads.runner.running)
        await app.action_quit()


async def test_the_selected_feature_shows_both_distributions(api_month_004, tmp_path):
    app = create_app(console(tmp_path, api_url=api_month_004))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("d")  # month_000 vs month_003
        await wait_for(pilot, lambda: app.state.drift_result is not None, timeout=90)
        panel = lambda: str(app.query_one("#drift-distribution").render())  # noqa: E731
        first = app.state.drift_result.columns[0]
        await wait_for(pilot, lambda: f"{first.column}: reference vs current" in panel())
        table = app.query_one("#drift-table", DataTable)
        row = [c.column for c in app.state.drift_result.columns].index("net_service")
        table.focus()
        table.move_cursor(row=row)
        await wait_for(pilot, lambda: "net_service: reference vs current (no drift" in panel())
        ref, cur = load_frame("month_000"), load_frame("month_003")
        for category in ("DSL", "Fiber optic", "No"):
            line = next(line for line in panel().splitlines() if line.strip().startswith(category))
            assert f"{(ref['net_service'] == category).mean() * 100:.1f}%" in line
            assert f"{(cur['net_service'] == category).mean() * 100:.1f}%" in line
        await pilot.press("up")  # the keyboard moves the selection too
        await wait_for(
            pilot, lambda: f"{app.state.drift_result.columns[row - 1].column}: reference vs current" in panel()
        )
        await app.action_quit()
