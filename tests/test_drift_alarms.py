"""Drift alarms under a false-alarm budget (#28): the budget's arithmetic, the vectorised scores against the
scalar ones, and the calibration checked the honest way (1,000 no-drift runs of rows bootstrapped from month_000
must alarm, on average, after the budget's run time ±20 %; a month_003 replay alarms at once)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import drift_alarms as bench  # noqa: E402

import streamflow_data as sd  # noqa: E402
from api.feature_bins import layout_of  # noqa: E402
from streamflow_data.schema import FEATURES  # noqa: E402
from streamflow_tui.core import drift_alarms as da  # noqa: E402
from streamflow_tui.core.binned_drift import NumericCounts, jensen_shannon, wasserstein  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    layout = layout_of(sd.load_frame("month_000"), "month_000")
    return layout, bench.reference_for(layout)


def test_budget_reads_n_per_duration_and_refuses_anything_else():
    budget = da.FalseAlarmBudget.parse("1/30d")
    assert budget.seconds == 30 * 86400 and budget.run_length(60) == pytest.approx(43_200)
    assert da.FalseAlarmBudget.parse("2/h").run_length(60) == pytest.approx(30)
    for bad in ("30d", "0/1d", "1/30x", "one/30d", ""):
        with pytest.raises(da.AlarmError, match="N/DURATION"):
            da.FalseAlarmBudget.parse(bad)


def test_sidak_splits_the_run_length_over_detectors():
    each = da.sidak(120, 14)
    # F independent detectors with hazard 1/each alarm first after 1 / (1 - (1 - 1/each)^F) windows.
    assert 1 / (1 - (1 - 1 / each) ** 14) == pytest.approx(120)
    assert 14 * 120 - 14 < each < 14 * 120


def test_vectorised_scores_equal_the_scalar_ones(reference):
    layout, ref = reference
    rng = np.random.default_rng(1)
    for b in layout.numeric:
        counts = ref.numeric[b.name]
        p = np.asarray(counts.buckets()) / counts.total
        sample = rng.multinomial(200, p, size=5)
        vectorised = da.wasserstein_many(counts, sample, b.integral, b.std)
        for row, value in zip(sample, vectorised):
            cur = NumericCounts(counts.edges, tuple(np.cumsum(row).astype(float)))
            assert value == pytest.approx(wasserstein(counts, cur, b.integral) / max(b.std, 0.001), rel=1e-9)
    for c in layout.categorical:
        counts = ref.categorical[c.name]
        p = np.asarray(counts.counts) / counts.total
        sample = rng.multinomial(200, p, size=5)
        for row, value in zip(sample, da.js_many(p, sample)):
            assert value == pytest.approx(jensen_shannon(list(counts.counts), list(row.astype(float))), rel=1e-9)


def test_bootstrapped_no_drift_runs_meet_the_budget_and_month_003_alarms_at_once(reference):
    layout, ref = reference
    rows, target = 300, da.FalseAlarmBudget.parse("1/2h").run_length(60)  # 5 req/s, 1-minute windows
    calibrations = da.calibrate(ref, list(FEATURES), rows, target, seed=3)
    rng = np.random.default_rng(4)
    runs = bench.false_alarms(layout, ref, calibrations, rows, 1000, int(20 * target), rng)
    assert runs["censored"] == 0
    assert 0.8 * target <= runs["mean_windows"] <= 1.2 * target, runs["mean_windows"]
    drifted = bench.delay(layout, ref, calibrations, "month_003", rows, 10, rng)
    assert drifted["max_windows"] == 1, drifted


def test_detectors_raise_one_event_per_feature_and_say_how_far_they_are(reference):
    _, ref = reference
    alarms = da.DriftAlarms(ref, da.FalseAlarmBudget.parse("1/1d"), 60, ["monthly_fee", "net_service"])
    assert alarms.update({"monthly_fee": 0.0, "net_service": 0.0}, 3000, at=1.0) == []
    fee = alarms.detectors["monthly_fee"]
    assert fee.state is da.DetectorState.WATCHING and fee.windows_to_alarm() is None
    events = alarms.update({"monthly_fee": 0.8, "net_service": 0.0}, 3000, at=2.0)
    assert [e.feature for e in events] == ["monthly_fee"] and fee.state is da.DetectorState.ALARM
    assert alarms.update({"monthly_fee": 0.8, "net_service": 0.0}, 3000, at=3.0) == []  # raised once
    assert alarms.events == events and fee.windows_to_alarm() == 0.0
