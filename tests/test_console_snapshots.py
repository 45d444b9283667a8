"""The console's look, pinned with deterministic sources: the overview at 80×24, 120×40, 160×48 and 200×60,
the detail views at the smallest and largest of those (and 160×48)."""

from __future__ import annotations

import pytest
from fake_sources import T0, FakeSource
from textual.widgets import TabbedContent
from waiting import wait_until_async

from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.distribution import Distribution
from streamflow_tui.core.drift import ColumnDrift, DriftEngine, DriftResult
from streamflow_tui.core.retraining import parse_decision

SIZES = [(80, 24), (160, 48), (200, 60)]
ALL_SIZES = [(80, 24), (120, 40), (160, 48), (200, 60)]


def make_app(tmp_path, source=None, drift_engine=None):
    # A poll interval of an hour: only the test feeds snapshots; history keeps 200 of them.
    # Charts redrawn on every poll: the 5 s throttle would make the frames depend on timing.
    config = ConsoleConfig(
        api_url="http://127.0.0.1:8000",
        interval=3600,
        history=3600 * 200,
        chart_interval=0,
        reports_dir=str(tmp_path),
        export_dir=str(tmp_path),
    )
    return still(
        create_app(
            config,
            source=source or FakeSource(start=20),
            drift_engine=drift_engine or DriftEngine(warm=False),
            clock=lambda: T0.timestamp(),
        )
    )


def still(app):
    """No animations (the tabs' underline slides): a frame must not depend on when it is taken."""
    app.animation_level = "none"
    return app


async def settled(pilot, condition, what: str) -> None:
    """Until the app has done what the test asked (a message handled, a view laid out), then one more
    refresh: the frame is taken from a known state, not after a guessed time."""
    await wait_until_async(condition, 30, what, interval=0.01, pause=pilot.pause)
    await pilot.pause()


async def fill(pilot, polls: int = 30) -> None:
    """Feed the deterministic source as polls would: points straight into the timeline, the last as a message."""
    app = pilot.app
    from streamflow_tui.messages import SnapshotReady

    # The first poll, from on_mount, lands before ours: a fixed order.
    await wait_until_async(lambda: app.state.polls >= 1, 30, "the first poll", interval=0.01, pause=pilot.pause)
    source = app.poller.source
    for _ in range(polls - 1):
        source.poll()
        app.state.versions.observe(source.snapshot(5))
        app.state.timeline.add_snapshot(source.snapshot(5))
    source.poll()
    polls = app.state.polls
    app.post_message(SnapshotReady(source.snapshot(5)))
    await settled(pilot, lambda: app.state.polls > polls, "the last snapshot taken")


DRIFT = DriftResult(
    reference="month_000",
    current="month_003",
    reference_as_of="2024-01-31",
    current_as_of="2024-04-30",
    rows_reference=7000,
    rows_current=7000,
    drift_share=8 / 15,
    drifted_columns=8,
    total_columns=15,
    threshold=0.3,
    decision="RETRAINING_TRIGGERED",
    target_drift=0.211,
    churn_rate_reference=0.105,
    churn_rate_current=0.316,
    label_drift=True,
    label_test=None,
    columns=(
        ColumnDrift(
            "monthly_fee",
            "num",
            "wasserstein",
            0.7768,
            0.1,
            True,
            Distribution(
                (
                    "≤7.64",
                    "7.64–8.81",
                    "8.81–9.97",
                    "9.97–11.1",
                    "11.1–12.3",
                    "12.3–13.5",
                    "13.5–14.6",
                    "14.6–15.8",
                    "15.8–17",
                    ">17",
                ),
                (0.130, 0.167, 0.130, 0.171, 0.158, 0.106, 0.077, 0.034, 0.019, 0.008),
                (0.002, 0.036, 0.148, 0.156, 0.139, 0.186, 0.128, 0.096, 0.063, 0.046),
                0.0,
                0.0,
                "equal-width bins over the 1st–99th percentiles, tails in the end ones",
            ),
        ),
        ColumnDrift("rebuffer_events_7d", "num", "wasserstein", 1.63, 0.1, True),
        ColumnDrift("churn_label", "cat", "z", 0.0, 0.05, True),
        ColumnDrift("months_active", "num", "wasserstein", 0.021, 0.1, False),
        ColumnDrift("net_service", "cat", "jensenshannon", 0.004, 0.1, False),
    ),
    report_json="reports/evidently/drift_2024-01-31_vs_2024-04-30.json",
)


async def fill_history(pilot) -> None:
    await fill(pilot, 120)  # two minutes at one poll a second: time labels, the heatmap's columns


async def show(pilot, key: str) -> None:
    """Switch views, then draw once more after the layout has settled: the frame must not depend on
    whether the view's first draw or its resize came first."""
    tabs = pilot.app.query_one(TabbedContent)
    await pilot.press(key)
    await settled(
        pilot, lambda: tabs.active_pane is not None and tabs.active_pane.size.area > 0, f"view {key} laid out"
    )
    pilot.app._show_views(force_charts=True)
    await pilot.pause()


@pytest.mark.parametrize("size", ALL_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview(snap_compare, tmp_path, size):
    """The first screen: traffic, latency, the model and drift at a glance, at every size."""
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=fill_history)


def test_overview_after_a_drift_check(snap_compare, tmp_path):
    async def before(pilot):
        await fill_history(pilot)
        from streamflow_tui.messages import DriftDone

        pilot.app.post_message(DriftDone(DRIFT))
        await pilot.press("4", "1")
        await settled(pilot, lambda: pilot.app.state.drift_result is DRIFT, "the drift result taken")

    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_traffic_view(snap_compare, tmp_path, size):
    async def before(pilot):
        await fill_history(pilot)
        await show(pilot, "2")

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_model_view(snap_compare, tmp_path, size):
    async def before(pilot):
        await fill_history(pilot)
        await show(pilot, "3")

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=before)


def test_model_view_after_a_version_change(snap_compare, tmp_path):
    """The status line flags the new model, the charts mark the moment, the scores show the old model's too."""

    async def before(pilot):
        await fill(pilot)
        await show(pilot, "3")

    assert snap_compare(
        make_app(tmp_path, FakeSource(start=20, switch_at=35)), terminal_size=(160, 48), run_before=before
    )


# A streamflow.retrain/1 decision as streamflow-retrain --data month_004 printed it (rounded).
DECISION_DOCUMENT = {
    "schema": "streamflow.retrain/1",
    "decision": "PROMOTED",
    "reason": "log loss +5.9% better (needs ≥ 3.0%) and ROC AUC -0.0001 (may fall by ≤ 0.005)",
    "data": {
        "source": "month_004",
        "labelled_rows": 7000,
        "train_rows": 4900,
        "holdout_rows": 2100,
        "churn_rate": 0.196,
    },
    "champion": {
        "version": "month_000-2b3f3733a2e6",
        "data": "month_000",
        "metrics": {
            "log_loss": 0.4006,
            "roc_auc": 0.8282,
            "brier": 0.1256,
            "mean_predicted": 0.1248,
            "observed_rate": 0.1962,
            "calibration_error": 0.0714,
        },
    },
    "challenger": {
        "version": "month_004-5715c455fef8",
        "data": "month_004",
        "parent": "month_000-2b3f3733a2e6",
        "metrics": {
            "log_loss": 0.3769,
            "roc_auc": 0.8281,
            "brier": 0.1172,
            "mean_predicted": 0.1977,
            "observed_rate": 0.1962,
            "calibration_error": 0.012,
        },
    },
    "serving": "month_004-5715c455fef8",
}
DECISION = parse_decision(DECISION_DOCUMENT)


def test_drift_view_with_a_retrain_decision(snap_compare, tmp_path):
    """r's result: the decision, its reason, champion and challenger side by side on the held-out rows."""

    async def before(pilot):
        await fill(pilot, 3)
        from streamflow_tui.messages import DriftDone, RetrainDone

        await pilot.press("4")
        pilot.app.post_message(DriftDone(DRIFT))
        pilot.app.post_message(RetrainDone(DECISION))
        await settled(pilot, lambda: pilot.app.state.retrain_decision is DECISION, "the decision taken")
        pilot.app.clear_notifications()  # the decision's toast: whether it is still up depends on timing
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(160, 48), run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_drift_view(snap_compare, tmp_path, size):
    async def before(pilot):
        await fill(pilot, 3)
        from streamflow_tui.messages import DriftDone

        await pilot.press("4")
        pilot.app.post_message(DriftDone(DRIFT))
        await settled(pilot, lambda: pilot.app.state.drift_result is DRIFT, "the drift result taken")

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_target_down_banner(snap_compare, tmp_path, size):
    source = FakeSource(start=20)

    async def before(pilot):
        await fill(pilot, 10)
        source.down = True
        await fill(pilot, 1)
        await show(pilot, "2")

    assert snap_compare(make_app(tmp_path, source), terminal_size=size, run_before=before)


def test_help_screen(snap_compare, tmp_path):
    async def before(pilot):
        await fill(pilot, 3)
        await pilot.press("question_mark")

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=before)


def test_drift_view_after_a_failed_check(snap_compare, tmp_path):
    """The previous result stays, dimmed and labelled as the previous check's, beside the failure's reason."""

    async def before(pilot):
        await fill(pilot, 3)
        from streamflow_tui.messages import DriftDone, DriftFailed

        await pilot.press("4")
        pilot.app.post_message(DriftDone(DRIFT))
        await settled(pilot, lambda: pilot.app.state.drift_result is DRIFT, "the drift result taken")
        pilot.app.post_message(
            DriftFailed("cannot read live rows: http://127.0.0.1:8000/monitoring/recent: connection refused")
        )
        await settled(pilot, lambda: pilot.app._notifications, "the failure's toast")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=before)


def test_replay_status_line(snap_compare, tmp_path):
    """A replay says so, with the moment shown, the speed and the position, paused at the first poll."""
    from fake_sources import snapshot as fake_snapshot

    from streamflow_tui.core.recording import Recorder, Recording
    from streamflow_tui.core.replay import Replay
    from streamflow_tui.core.timeline import point_of

    with Recorder(tmp_path / "r.db", interval=1, source="scrape", api_url="http://127.0.0.1:8000") as rec:
        for i in range(20, 140):
            s = fake_snapshot(i)
            rec.add_poll(s, point_of(s))
        rec.add_event(fake_snapshot(100).taken_at.timestamp(), "drift", DRIFT)
    replay = Replay(Recording.open(tmp_path / "r.db"), 600)
    replay.playing = False
    config = ConsoleConfig(api_url="http://127.0.0.1:8000", interval=1, chart_interval=0, export_dir=str(tmp_path))
    app = still(create_app(config, replay=replay, clock=lambda: T0.timestamp()))

    async def before(pilot):
        await settled(pilot, lambda: pilot.app.state.frame is not None, "the first frame of the replay")
        await pilot.press("end")
        await settled(pilot, lambda: pilot.app.state.frame.index == 119, "the last frame of the replay")

    assert snap_compare(app, terminal_size=(120, 40), run_before=before)
