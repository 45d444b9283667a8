"""The drift engine: real Evidently runs on the bundled months, checked against scipy; bad input; reports."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_reference import column_drift
from scipy.stats import norm

import streamflow_data as sd
from streamflow_data.schema import LABEL, NUMERIC_FEATURES
from streamflow_tui.core.drift import DriftEngine, DriftError, DriftRequest


@pytest.fixture(scope="module")
def engine():
    e = DriftEngine()
    yield e
    e.close()


def run(engine, ref, cur, reports: Path | None, **kw):
    return engine.run(DriftRequest(ref, cur, reports_dir=str(reports) if reports else None, **kw))


def test_month_001_is_mild(engine, tmp_path):
    r = run(engine, "month_000", "month_001", tmp_path)
    assert r.decision == "NO_ACTION"
    assert 0 < r.drift_share < 0.30 and r.total_columns == 15
    assert r.target_drift < 0.01 and r.label_drift is False
    assert [c.column for c in r.columns if c.drifted] == ["watch_hours_30d"]


def test_month_003_triggers_retraining_on_the_documented_columns(engine, tmp_path):
    r = run(engine, "month_000", "month_003", tmp_path)
    assert r.decision == "RETRAINING_TRIGGERED" and r.drift_share >= 0.30
    assert {c.column for c in r.columns if c.drifted} == set(sd.DOCUMENTED_DRIFT["month_003"])
    drifted_first = [c.drifted for c in r.columns]
    assert drifted_first == sorted(drifted_first, reverse=True)
    html, js = Path(r.report_html), Path(r.report_json)
    assert (
        re.fullmatch(r"drift_2024-01-31_vs_2024-04-30_\d{8}T\d{6}Z-[0-9a-f]{6}\.html", html.name)
        and js.with_suffix(".html") == html
    )
    assert html.stat().st_size > 10_000 and "<html" in html.read_text()[:2000].lower()
    doc = json.loads(js.read_text())
    assert doc["streamflow"]["decision"] == "RETRAINING_TRIGGERED" and doc["evidently"]["metrics"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [html.name, js.name]  # no temporary files left


def test_month_004_label_drift(engine):
    r = run(engine, "month_000", "month_004", None)
    assert r.label_drift is True and r.target_drift >= 0.08
    assert r.label_test.stattest == "z" and r.label_test.score < 0.05
    assert r.report_html is None and r.report_json is None


@pytest.mark.parametrize("month", ["month_001", "month_003", "month_004", "month_005"])
def test_verdicts_equal_an_independent_scipy_computation(engine, month):
    r = run(engine, "month_000", month, None)
    ref, cur = sd.load_frame("month_000"), sd.load_frame(month)
    for c in r.columns:
        if c.column == LABEL:
            p1, p2 = ref[LABEL].mean(), cur[LABEL].mean()
            pooled = (ref[LABEL].sum() + cur[LABEL].sum()) / (len(ref) + len(cur))
            z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
            expected_score, expected_drift, test = 2 * (1 - norm.cdf(abs(z))), None, "z"
            expected_drift = expected_score < 0.05
        else:
            ours = column_drift(ref[c.column], cur[c.column], numeric=c.column in NUMERIC_FEATURES)
            expected_score, expected_drift, test = ours.score, ours.drifted, ours.stattest
        assert c.stattest == test, c
        assert c.score == pytest.approx(expected_score, rel=1e-9, abs=1e-12), c
        assert c.drifted == expected_drift, c


def test_overrides_by_type_and_column(engine):
    r = run(
        engine,
        "month_000",
        "month_001",
        None,
        num_method="ks",
        num_threshold=0.01,
        column_methods=(("net_service", "psi"),),
        column_thresholds=(("net_service", 0.2),),
    )
    by = {c.column: c for c in r.columns}
    assert by["watch_hours_30d"].stattest == "ks" and by["watch_hours_30d"].threshold == 0.01
    assert by["net_service"].stattest == "psi" and by["net_service"].threshold == 0.2
    assert by["paperless_billing"].stattest == "jensenshannon"


def _frame(month="month_000", n=None):
    frame = sd.load_frame(month)
    return frame.head(n) if n else frame


@pytest.mark.parametrize(
    "make_ref, make_cur, words",
    [
        (None, lambda d: "month_099", "unknown month 'month_099'"),
        (None, lambda d: str(d / "nope.csv"), "no such file"),
        (None, lambda d: "yesterday", "unknown dataset 'yesterday'"),
        (None, lambda d: _write(d / "garbage.parquet", b"\x00not parquet"), "cannot read"),
        (
            None,
            lambda d: _csv(d / "missing.csv", _frame().drop(columns=["skips_7d", "net_service"])),
            "current lacks column(s) net_service, skips_7d that the other dataset has",
        ),
        (None, lambda d: _csv(d / "empty.csv", _frame().head(0)), "is empty"),
        (None, lambda d: _csv(d / "one.csv", _frame(n=1)), "has 1 row(s)"),
        (None, lambda d: _csv(d / "nan.csv", _frame().assign(watch_hours_30d=np.nan)), "watch_hours_30d has no values"),
        (None, lambda d: _csv(d / "text.csv", _frame().assign(monthly_fee="cheap")), "non-numeric values"),
        (
            lambda d: _csv(d / "ref_missing.csv", _frame().drop(columns=["months_active"])),
            None,
            "reference lacks column(s) months_active",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(engine, tmp_path, make_ref, make_cur, words):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    ref = make_ref(inputs) if make_ref else "month_000"
    cur = make_cur(inputs) if make_cur else "month_001"
    reports = tmp_path / "reports"
    with pytest.raises(DriftError, match=".*".join(map(_re, words.split(" ")))):
        run(engine, ref, cur, reports)
    assert not reports.exists() or list(reports.iterdir()) == []


def test_a_constant_column_is_compared_not_refused(engine, tmp_path):
    cur = _csv(tmp_path / "const.csv", _frame("month_001").assign(unique_devices_30d=1, plan_stream_tv=0))
    r = run(engine, "month_000", cur, None)
    by = {c.column: c for c in r.columns}
    assert by["unique_devices_30d"].drifted and by["plan_stream_tv"].drifted
    assert r.current_as_of == "2024-02-29"


def test_live_without_an_api_is_a_clear_error(engine):
    with pytest.raises(DriftError, match="cannot fetch live rows"):
        run(engine, "month_000", "live", None, api_url="http://127.0.0.1:9")
    with pytest.raises(DriftError, match="needs the API's URL"):
        run(engine, "month_000", "live", None)


def test_report_names_are_sanitized(engine, tmp_path):
    weird = _csv(tmp_path / "my data (v2).csv", _frame("month_002").drop(columns=["as_of"]))
    r = run(engine, "month_000", weird, tmp_path / "reports")
    assert Path(r.report_html).name.startswith("drift_2024-01-31_vs_my_data_v2_")


def test_threshold_must_be_a_share():
    with pytest.raises(DriftError, match="threshold"):
        DriftRequest("month_000", "month_001", threshold=1.5)


def _re(word: str) -> str:
    import re

    return re.escape(word)


def _csv(path: Path, frame: pd.DataFrame) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
