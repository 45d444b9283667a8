"""#27 item 7, "charts that mislead", function by function: value ticks that are round and on evenly spaced
rows, time labels that are always clock times, each chart's span in words, and each model version's
reference over the time that version served. The console test (test_console_charts.py) reads them on screen."""

from __future__ import annotations

import json
import math
import re
import time
import zlib

import pytest
from fake_sources import snapshot
from hypothesis import given
from hypothesis import strategies as st

from streamflow_tui.core.compute import reference_churn_rate
from streamflow_tui.core.recording import decode, encode
from streamflow_tui.core.scale import nice_ceil, value_axis
from streamflow_tui.core.timeaxis import axis_ticks, span_text
from streamflow_tui.core.versions import ReferenceSpan, VersionChange, VersionTracker, reference_spans

CLOCK = re.compile(r"^\d\d:\d\d(:\d\d)?$")


def plotext_row(value: float, low: float, high: float, rows: int) -> int:
    """The row plotext puts ``value`` on (plotext._utility.get_matrix_data, which the axis is built for)."""
    return math.floor(round(0.5 + (rows - 1) * (value - low) / (high - low), 8))


# What the console charts: ms, requests/s, percent, AUC; shown to a few decimals at most.
VALUES = st.one_of(st.just(0.0), st.floats(1e-4, 1e6), st.floats(-1e6, -1e-4))


@given(
    lowest=VALUES,
    spread=st.one_of(st.just(0.0), st.floats(1e-4, 1e6)),
    rows=st.integers(2, 60),
    from_zero=st.booleans(),
)
def test_value_ticks_are_round_and_on_evenly_spaced_rows(lowest, spread, rows, from_zero):
    lowest = abs(lowest) if from_zero else lowest
    highest = lowest + spread
    axis = value_axis(lowest, highest, rows, from_zero=from_zero)
    step = axis.ticks[1] - axis.ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5)), axis
    assert all(math.isclose(b - a, step, rel_tol=1e-6, abs_tol=step * 1e-6) for a, b in zip(axis.ticks, axis.ticks[1:]))
    # Every tick exactly ``gap`` rows above the one below: the labels are evenly spaced on screen.
    assert [plotext_row(t, axis.low, axis.high, rows) for t in axis.ticks] == [
        k * axis.gap for k in range(len(axis.ticks))
    ]
    assert axis.low <= lowest and axis.high >= highest - abs(highest) * 1e-9  # the data is on the chart
    assert axis.ticks[0] == axis.low and axis.ticks[-1] <= axis.high + step * 1e-6
    assert len({len(label) for label in axis.labels}) == 1  # one width: the y axis does not wobble
    assert not from_zero or axis.low == 0
    if rows >= 5:
        assert len(axis.ticks) >= 3, axis  # two labels say little of a scale


def test_value_ticks_read_as_the_issue_wants():
    # plotext's own split 0.37–2.42 into 7 labels (2.42, 2.08 … 0.37) on rows 1 or 2 apart.
    assert value_axis(0.37, 2.42, 10).labels == ("0", "1", "2", "3")
    assert value_axis(0, 201.3, 9, from_zero=True).labels == ("  0", "100", "200")
    assert value_axis(0.5, 1.0, 9).labels == ("0.50", "0.75", "1.00")
    assert "-0" not in value_axis(-0.3, 0.0, 4).labels[-1]  # 0, never "-0.0"
    assert nice_ceil(1.01) == 2 and nice_ceil(2.1) == 2.5 and nice_ceil(0) == 1


def test_time_labels_are_clock_times_even_when_no_round_time_fits():
    t0 = 1_800_000_000.0 + 21  # 21 s past a round minute in every whole-hour time zone
    # 29 s on 27 columns: no round minute in the span (plotext would print -29.0 … 0.0): the start and the end.
    ticks = axis_ticks(t0, t0 + 29, 27, label_width=14)
    assert [t for t, _ in ticks] == [t0, t0 + 29]
    assert [label for _, label in ticks] == [time.strftime("%H:%M:%S", time.localtime(t)) for t in (t0, t0 + 29)]
    # One round time only (12:01:00 in 21–80 s): still the start and the end, not a lone label.
    assert [t for t, _ in axis_ticks(t0, t0 + 59, 27, label_width=14)] == [t0, t0 + 59]
    # Room for round ones: those, as before.
    assert [t % 30 for t, _ in axis_ticks(t0, t0 + 120, 70, label_width=14)] == [0] * 4
    assert [t for t, _ in axis_ticks(t0, t0 + 29, 12)] == [t0 + 29]  # no room for two: the end alone
    assert axis_ticks(t0, t0, 40) == [(t0, time.strftime("%H:%M:%S", time.localtime(t0)))]
    for width in range(8, 120, 7):
        for span in (1, 29, 59, 61, 300, 599, 3600):
            labels = [label for _, label in axis_ticks(t0, t0 + span, width, label_width=14)]
            assert labels and all(CLOCK.match(label) for label in labels), (width, span, labels)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(29, "last 29 s"), (49.6, "last 50 s"), (119, "last 119 s"), (599, "last 10 min"), (9000, "last 2.5 h")],
)
def test_the_span_in_words(seconds, text):
    assert span_text(seconds) == text


def test_each_version_keeps_its_own_reference():
    """The tracker notes the old model's reference at a change; each version's line spans its own time."""
    tracker = VersionTracker()
    for i in range(20, 40):
        tracker.observe(snapshot(i, switch_at=30))
    old = reference_churn_rate(snapshot(20).model.reference_histogram)
    new = reference_churn_rate(snapshot(30, switch_at=30).model.reference_histogram)
    assert old is not None and new is not None and new > old * 2  # the fake's models differ, as real ones do
    change = tracker.last
    assert change is not None and change.old_reference == old
    at, t0, t_end = change.at, snapshot(20).taken_at.timestamp(), snapshot(39).taken_at.timestamp()
    assert reference_spans(tracker.changes, t0, t_end, new) == [
        ReferenceSpan(t0, at, old),
        ReferenceSpan(at, t_end, new),
    ]
    # A chart that starts after the change: the new version's only.
    assert reference_spans(tracker.changes, at + 1, t_end, new) == [ReferenceSpan(at + 1, t_end, new)]
    # A change whose old reference is unknown (a recording made before it was kept): no line for that time.
    unknown = VersionChange(at, change.old, change.new, change.old_scores)
    assert reference_spans([unknown], t0, t_end, new) == [ReferenceSpan(at, t_end, new)]


def test_a_version_change_recorded_before_references_were_kept_still_reads():
    old = {"at": 1.0, "old": "a", "new": "b", "old_scores": []}
    assert decode(zlib.compress(json.dumps(old).encode()), VersionChange) == VersionChange(1.0, "a", "b", ())
    change = VersionChange(1.0, "a", "b", (), old_reference=0.0772)
    assert decode(encode(change), VersionChange) == change
