"""The bundled months: deterministic, realistic, and with their documented drift."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_reference import frame_drift

import streamflow_data as sd
from streamflow_data import generate
from streamflow_data.schema import COLUMNS, FEATURE_KINDS, FEATURES, LABEL, NET_SERVICES, NUMERIC_FEATURES


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {m: sd.load_frame(m) for m in sd.MONTHS}


def test_files_are_what_the_seeded_generator_writes():
    rendered = generate.render()
    assert list(rendered) == list(sd.MONTHS)
    for month, text in rendered.items():
        assert sd.month_path(month).read_text() == text, f"{month} differs from the generator's output"


def test_schema_and_shape(frames):
    for month, frame in frames.items():
        assert tuple(frame.columns) == COLUMNS
        assert 6_500 <= len(frame) <= 7_500
        assert frame["user_id"].is_unique
        assert frame["user_id"].str.fullmatch(r"\d{4}-[A-Z]{5}").all()
        assert (frame["as_of"] == sd.MONTH_AS_OF[month].isoformat()).all()
        assert set(frame["net_service"]) <= set(NET_SERVICES)
        assert set(frame[LABEL]) == {0, 1}


def test_values_are_plausible(frames):
    for frame in frames.values():
        for column, kind in FEATURE_KINDS.items():
            values = frame[column]
            if kind in ("int", "flag"):
                assert values.notna().all() and (values == values.round()).all(), column
            if kind == "flag":
                assert set(values) <= {0, 1}
            if kind != "category":
                assert (values.dropna() >= 0).all(), column
        assert frame["monthly_fee"].between(4.99, 40).all()
        assert frame["watch_hours_30d"].max() <= 720
        assert frame["unique_devices_30d"].between(1, 8).all()


def test_missing_resolution_means_no_tickets_and_is_rare(frames):
    for frame in frames.values():
        missing = frame["ticket_avg_resolution_hrs_90d"].isna()
        assert (missing == (frame["support_tickets_90d"] == 0)).all()
        assert 0.02 <= missing.mean() <= 0.15
        assert frame[[f for f in FEATURES if f != "ticket_avg_resolution_hrs_90d"]].notna().all().all()


def test_users_persist_and_evolve(frames):
    ids = [set(f["user_id"]) for f in frames.values()]
    for before, after in zip(ids, ids[1:]):
        assert len(before & after) / len(before) > 0.6
    a = frames["month_000"].set_index("user_id")
    b = frames["month_001"].set_index("user_id")
    common = a.index.intersection(b.index)
    assert (b.loc[common, "months_active"] == a.loc[common, "months_active"] + 1).all()
    assert (b.loc[common, "watch_hours_30d"] != a.loc[common, "watch_hours_30d"]).mean() > 0.9
    # Those who churned in one month are gone the next.
    churned = set(a.index[a[LABEL] == 1])
    assert churned and not churned & set(b.index)


def _drift(frames, month):
    results = frame_drift(frames["month_000"], frames[month], set(NUMERIC_FEATURES), [*FEATURES, LABEL])
    assert len(results) == 15
    return results, {r.column for r in results if r.drifted}


def _churn_delta(frames, month) -> float:
    return frames[month][LABEL].mean() - frames["month_000"][LABEL].mean()


def test_month_001_mild_single_column(frames):
    results, drifted = _drift(frames, "month_001")
    assert drifted == {"watch_hours_30d"}
    assert len(drifted) / len(results) == pytest.approx(1 / 15)
    assert abs(_churn_delta(frames, "month_001")) < 0.01


def test_month_002_no_drift(frames):
    _, drifted = _drift(frames, "month_002")
    assert drifted == set()


def test_month_003_price_rise_and_quality_incident(frames):
    results, drifted = _drift(frames, "month_003")
    assert len(drifted) >= 5
    assert len(drifted) / len(results) >= 0.30  # RETRAINING_TRIGGERED
    assert {"monthly_fee", "rebuffer_events_7d"} <= drifted


def test_month_004_target_drift_with_few_feature_changes(frames):
    _, drifted = _drift(frames, "month_004")
    assert _churn_delta(frames, "month_004") >= 0.08
    assert len(drifted - {LABEL}) <= 2


def test_month_005_plan_and_network_mix(frames):
    _, drifted = _drift(frames, "month_005")
    assert {"net_service", "plan_stream_tv", "plan_stream_movies"} <= drifted


@pytest.mark.parametrize("month", sd.MONTHS[1:])
def test_drift_is_as_documented(frames, month):
    _, drifted = _drift(frames, month)
    assert drifted == set(sd.DOCUMENTED_DRIFT[month])
    doc = (Path(__file__).parents[1] / "docs" / "DATA.md").read_text()
    section = re.search(rf"### {month}.*?(?=\n### |\Z)", doc, re.S)
    assert section, f"docs/DATA.md has no section for {month}"
    for column in sd.DOCUMENTED_DRIFT[month]:
        assert f"`{column}`" in section.group(0), f"docs/DATA.md does not name {column} under {month}"


def test_unknown_month_is_a_clear_error():
    with pytest.raises(sd.UnknownMonthError, match="bundled months are month_000"):
        sd.month_path("month_042")
    with pytest.raises(sd.UnknownMonthError):
        sd.month_path("../etc/passwd")


def test_stdlib_reader_agrees_with_pandas(frames):
    rows = list(sd.iter_rows("month_003"))
    frame = frames["month_003"]
    assert len(rows) == len(frame)
    first = rows[0]
    for column in COLUMNS:
        expected = frame.iloc[0][column]
        if isinstance(expected, float) and np.isnan(expected):
            assert first[column] is None
        else:
            assert first[column] == expected, column
