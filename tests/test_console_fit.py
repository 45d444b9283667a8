"""#27 items 2, 8 and the issue's "every view keeps its main content at every size": at 80×24, 120×40 and
200×60, in every state a session reaches (fresh, after a check, a retrain, timed drift, a promotion, a failed
poll), each view's main table or figure keeps at least 5 visible rows. The states are reached by key presses
(d, r, t, the view keys); only the drift engine and the retrain command answer at once (their own tests run the
real ones), and the source is the deterministic one of the snapshot tests."""

from __future__ import annotations

import re
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import pytest
from fake_sources import T0, FakeSource
from screenshots import SCREENSHOTS_DIR, save_png
from test_console_help import screen_text
from test_console_snapshots import DECISION, DRIFT, fill, make_app, settled
from textual.widgets import DataTable

import streamflow_tui.controllers.drift as drift_controller
from streamflow_data.schema import FEATURES
from streamflow_tui.app import create_app
from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.performance import Reliability
from streamflow_tui.messages import SnapshotReady

MIN_ROWS = 5
SIZES = [(80, 24), (120, 40), (200, 60)]
# Each view's main content: the table or figure a user opens the view for.
MAIN = {
    "1": ("#ov-latency",),
    "2": ("#latency-plot",),
    "3": ("#score-histogram", "#churn-plot"),
    "4": ("#drift-table", "#drift-distribution"),
    "5": ("#load-rate-plot", "#load-latency-plot"),
}
WIDE_ONLY = {"#drift-distribution"}  # beside the table from 120 columns; below, the table takes the width

# Every feature, as a real check reports them: the table has more rows than fit at 80×24.
MONTHLY_FEE = DRIFT.columns[0]
COLUMNS = tuple(replace(MONTHLY_FEE, column=name, drifted=i % 3 == 0) for i, name in enumerate(FEATURES))
CHECK = replace(DRIFT, columns=COLUMNS, total_columns=len(COLUMNS))


class InstantEngine:
    """Answers a check at once with the full table: a check by hand as asked, a timed one against live."""

    def submit(self, request) -> Future:
        done: Future = Future()
        done.set_result(replace(CHECK, reference=request.reference, current=request.current))
        return done

    def close(self) -> None:
        pass


def visible_rows(app, selector: str) -> int:
    """Rows of the widget's content the user can see: its region clipped by every container above it."""
    widget = app.query_one(selector)
    geometry = app.screen._compositor.full_map.get(widget)
    if geometry is None or not widget.display:
        return 0
    seen = geometry.region.intersection(geometry.clip).height
    if isinstance(widget, DataTable):  # its rows, or all of them when there are fewer (none before a check)
        return min(seen - widget.header_height, widget.row_count) if widget.row_count else MIN_ROWS
    return seen - widget.styles.gutter.height


async def check_every_view(pilot, state: str, size) -> list[str]:
    short = []
    for key, selectors in MAIN.items():
        await pilot.press(key)
        await pilot.pause()
        if SCREENSHOTS_DIR:
            pilot.app.clear_notifications()
            await pilot.pause()
            name = f"{size[0]}x{size[1]}_{state.replace(' ', '_')}_view{key}.png"
            save_png(pilot.app, Path(SCREENSHOTS_DIR) / name)
        for selector in selectors:
            if selector in WIDE_ONLY and size[0] < 120:
                continue
            rows = visible_rows(pilot.app, selector)
            if rows < MIN_ROWS:
                short.append(f"{state}: view {key} {selector} shows {rows} rows")
    return short


def instant_app(tmp_path, source):
    """The console with the default history and chart pace, a drift engine that answers at once, no animations."""
    config = ConsoleConfig(api_url="http://127.0.0.1:8000", interval=3600, reports_dir=str(tmp_path))
    app = create_app(config, source=source, drift_engine=InstantEngine(), clock=lambda: T0.timestamp())
    app.animation_level = "none"
    return app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_view_keeps_five_rows_in_every_state(tmp_path, monkeypatch, size):
    monkeypatch.setattr(drift_controller, "run_retrain", lambda job: DECISION)
    source = FakeSource(start=20)
    app = make_app(tmp_path, source, drift_engine=InstantEngine())
    async with app.run_test(size=size) as pilot:
        await fill(pilot, 60)
        short = await check_every_view(pilot, "fresh", size)
        await pilot.press("4", "d")
        await settled(pilot, lambda: app.state.drift_result is not None, "the check by hand")
        short += await check_every_view(pilot, "after a check", size)
        await pilot.press("4", "r")
        await settled(pilot, lambda: app.state.retrain_decision is DECISION, "the retrain decision")
        short += await check_every_view(pilot, "after a retrain", size)
        await pilot.press("4", "t")
        await settled(pilot, lambda: len(app.state.drift_history.runs) == 1, "a timed run")
        short += await check_every_view(pilot, "after timed drift", size)
        source.switch_at = source.i + 1
        await fill(pilot, 20)
        await settled(pilot, lambda: app.state.versions.last is not None, "the promoted model served")
        short += await check_every_view(pilot, "after a promotion", size)
        source.down = True
        await fill(pilot, 2)
        short += await check_every_view(pilot, "after a failed poll", size)
        assert not short, "\n".join(short)


async def test_distribution_bars_keep_their_width_after_a_timed_check_in_another_view(tmp_path):
    """Item 8: a timed check that lands while another view is shown draws the bars at the box's width."""
    source = FakeSource(start=20)
    app = instant_app(tmp_path, source)
    async with app.run_test(size=(160, 48)) as pilot:
        await fill(pilot, 3)
        await pilot.press("1", "t")  # the timed run's first check at once, while another view is shown
        await settled(pilot, lambda: len(app.state.drift_history.runs) == 1, "a timed run")
        await pilot.press("4")
        await pilot.pause()
        region = app.query_one("#drift-distribution").content_region
        lines = screen_text(app).splitlines()[region.y : region.bottom]
        in_box = [line[region.x : region.right] for line in lines]
        widest = max(max((len(run) for run in line.split(" ") if set(run) == {"█"}), default=0) for line in in_box)
        assert widest >= 10, "\n".join(in_box)


TEN_BANDS = tuple(Reliability(k / 10, (k + 1) / 10, 100 + k, (5 + 9 * k) / 100) for k in range(10))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_model_view_fits_its_width_after_a_promotion(tmp_path, size):
    """Item 9: with the old model's scores beside the window and the reference, no score row wraps; the
    reliability line shows every band, at 80 and at 120 columns."""
    source = FakeSource(start=20)
    app = instant_app(tmp_path, source)
    async with app.run_test(size=size) as pilot:
        await fill(pilot, 30)
        source.switch_at = source.i + 1
        await fill(pilot, 10)
        last = source.snapshot(5)
        polls = app.state.polls
        app.post_message(SnapshotReady(replace(last, performance=replace(last.performance, reliability=TEN_BANDS))))
        await settled(pilot, lambda: app.state.polls > polls, "the snapshot with ten bands")
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "≤1.0 86%" in text and "≤0.1 5%" in text, text
        box = app.query_one("#score-histogram").content_region
        rows = [line[box.x : box.right].rstrip() for line in text.splitlines()[box.y : box.bottom]]
        bands = [row for row in rows if row[:1].isdigit()]
        assert bands and all(row.count("%") == 3 for row in bands), "\n".join(rows)
        assert not any(row.strip().endswith("%") and row.count("%") == 1 for row in rows), "\n".join(rows)


async def test_the_drift_details_scroll_by_keyboard_at_80x24(tmp_path, monkeypatch):
    """Item 2: what does not fit above the table (the retrain decision, the heatmap) is reached by tab, then
    PageDown and End, with the table still in view."""
    monkeypatch.setattr(drift_controller, "run_retrain", lambda job: DECISION)
    app = instant_app(tmp_path, FakeSource(start=20))
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, 3)
        await pilot.press("4", "d", "r", "t")
        await settled(pilot, lambda: len(app.state.drift_history.runs) == 1, "a check, a retrain and a timed run")
        details = app.query_one("#drift-details")
        assert details.max_scroll_y > 0
        for _ in range(12):
            await pilot.press("tab")
            await pilot.pause()
            if app.focused is details:
                break
        assert app.focused is details, app.focused
        await pilot.press("pagedown")
        await settled(pilot, lambda: details.scroll_y > 0, "PageDown scrolled the details")
        await pilot.press("end")
        await settled(pilot, lambda: details.scroll_y == details.max_scroll_y, "End reached their last line")
        assert re.search(r"drift share {10,}", screen_text(app))  # the heatmap's last line, now in view
        assert visible_rows(app, "#drift-table") >= MIN_ROWS
