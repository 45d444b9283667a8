"""#27 item 7, "charts that mislead", as the user reads them: the console's time charts on screen, in every view
that has one, at 80×24 and 200×60. Round y labels on evenly spaced rows, clock times on the x axis (never a
chart library's -29.0 … 0.0), each chart's span in its title, the legend off the data, and after a promotion
each model version's reference line over its own time only. Driven as the snapshot tests drive the console:
the deterministic source (one poll a second), key presses, the rendered screen."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
from fake_sources import FakeSource
from test_console_help import screen_text
from test_console_snapshots import fill, make_app, show

CLOCK = re.compile(r"^\d\d:\d\d(:\d\d)?$")
SIZES = [(80, 24), (200, 60)]
# The plotext time charts of each view; the quality chart only where the Model view has room (≥ 32 rows).
CHARTS = {
    "1": ("#ov-latency",),
    "2": ("#latency-plot",),
    "3": ("#churn-plot", "#quality-plot"),
    "5": ("#load-rate-plot", "#load-latency-plot"),
}


def box(app, selector: str) -> list[str]:
    """The widget's lines as on screen, its border included."""
    region = app.query_one(selector).region
    return [line[region.x : region.right] for line in screen_text(app).splitlines()[region.y : region.bottom]]


def plot_parts(lines: list[str]) -> tuple[list[str], int, int, str]:
    """A plotext chart's canvas rows (top first), the columns of its left and right y axis, and its x labels."""
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[top + 1 : bottom], lines[top].index("┌"), lines[top].index("┐"), lines[bottom + 1]


def y_labels(rows: list[str], axis: int, right: bool = False) -> list[tuple[int, float]]:
    """(row from the bottom, value) of each labelled row of the left (or right) axis."""
    labelled = []
    for y, row in enumerate(reversed(rows)):
        if row[axis] in ("├" if right else "┤"):
            text = row[axis + 1 :] if right else row[:axis]
            labelled.append((y, float(text.strip(" │").replace(",", ""))))
    return labelled


def assert_even(labels: list[tuple[int, float]], what: str) -> None:
    assert len(labels) >= 2, f"{what}: {labels}"
    rows = [b[0] - a[0] for a, b in zip(labels, labels[1:])]
    steps = [b[1] - a[1] for a, b in zip(labels, labels[1:])]
    assert len(set(rows)) == 1, f"{what}: labels on rows {[y for y, _ in labels]}, not evenly spaced"
    assert all(math.isclose(s, steps[0], rel_tol=1e-6) for s in steps), f"{what}: values {labels}"
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]) + 1e-9)
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5)), f"{what}: a step of {steps[0]} is not round"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_time_chart_has_even_ticks_clock_times_and_its_span(tmp_path, size):
    # 25 polls (the first from the mount): 24 s of history, 12:00:31–12:00:55, no round half minute in it:
    # at 80 columns the Load view's charts had no clock time to show, and plotext printed -24.0 … 0.0.
    app = make_app(tmp_path, FakeSource(start=30))
    async with app.run_test(size=size) as pilot:
        await fill(pilot, 24)
        for key, selectors in CHARTS.items():
            await show(pilot, key)
            for selector in selectors:
                if not app.query_one(selector).display:
                    continue
                what = f"view {key} {selector} at {size[0]}×{size[1]}"
                lines = box(app, selector)
                shown = "\n".join(lines)
                rows, left, right, xlabels = plot_parts(lines)
                assert_even(y_labels(rows, left), what + " left axis\n" + shown)
                if selector == "#quality-plot":
                    assert_even(y_labels(rows, right, right=True), what + " right axis\n" + shown)
                labels = xlabels.strip(" │").split()
                assert len(labels) >= 2 and all(CLOCK.match(label) for label in labels), f"{what}\n{shown}"
                assert "· last 24 s" in lines[0], f"{what}: the span in the title\n{shown}"
                # The legend is in the bottom border, not over the data (at 80×24 it covered all three rows).
                assert not any(re.search("[a-z]", row[left + 1 : right]) for row in rows), f"{what}\n{shown}"
        # The requests/s bars: one column a poll, said in their title (the overview's border, the traffic
        # view's first line) beside a latency chart that may span ten minutes.
        await show(pilot, "1")
        assert "requests/s · last 24 s" in box(app, "#ov-rps")[0]
        await show(pilot, "2")
        assert box(app, "#rps-chart")[0].split()[:3] == ["last", "24", "s"]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_each_model_version_has_its_reference_line_over_its_own_time(tmp_path, size):
    """The promoted model's reference (23 %) only from the promotion on; the old model's (7.7 %) only before."""
    app = make_app(tmp_path, FakeSource(start=20, switch_at=50))
    async with app.run_test(size=size) as pilot:
        await fill(pilot, 60)
        assert app.state.versions.last is not None and app.state.versions.last.old_reference is not None
        await show(pilot, "3")
        lines = box(app, "#churn-plot")
        shown = "\n".join(lines)
        rows, left, right, _ = plot_parts(lines)
        canvas = [row[left + 1 : right] for row in rows]
        # The promotion's mark: the column of the vertical line through the canvas.
        mark = Counter(x for row in canvas for x, c in enumerate(row) if c == "│").most_common(1)[0][0]
        dashes = {y: [x for x, c in enumerate(row) if c == "─"] for y, row in enumerate(canvas)}
        lines_drawn = [xs for xs in dashes.values() if xs]
        assert len(lines_drawn) == 2, f"two references, one a model:\n{shown}"
        new, old = lines_drawn  # top first: the new model's reference is the higher
        assert min(new) >= mark and len(new) >= 3, f"the new model's reference starts at the promotion:\n{shown}"
        assert max(old) <= mark and len(old) >= 3, f"the old model's reference ends at the promotion:\n{shown}"
        assert "─ reference" in lines[-1] and "│ model change" in lines[-1], shown
