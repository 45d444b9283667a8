"""#27 item 11: quality figures need a minimum sample (core/performance.MIN_SAMPLE); below it `–`/null and why."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
from conftest import running_api

import streamflow_data as sd
from streamflow_tui.core.performance import MIN_SAMPLE


def once(api: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--api-url", api, "--window", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_one_prediction_gives_no_quality_figures_and_says_why():
    rows = [r for _, r in zip(range(MIN_SAMPLE + 10), sd.iter_rows("month_005"))]
    with running_api() as api, httpx.Client(base_url=api, timeout=60) as c:
        first = c.post("/predict", json={"user_id": rows[0]["user_id"]}).json()
        c.post("/feedback", json={"items": [{"prediction_id": first["prediction_id"], "actual": 0}]})
        proc = once(api, "--json")
        assert proc.returncode == 0, proc.stderr
        perf = json.loads(proc.stdout)["performance"]
        assert perf["min_sample"] == MIN_SAMPLE
        assert perf["estimated"] is None and perf["realized"] is None
        assert perf["estimated_reason"] == f"only 1 of the {MIN_SAMPLE} scored predictions needed"
        assert perf["realized_reason"] == f"only 1 of the {MIN_SAMPLE} labels needed"
        text = once(api).stdout
        assert "accuracy" not in text and "AUC" not in text, text
        assert f"estimated – (only 1 of the {MIN_SAMPLE} scored predictions needed)" in text
        assert f"realised – (only 1 of the {MIN_SAMPLE} labels needed)" in text
        # At the minimum, the estimate is given (the labels still fall short).
        c.post("/predict/batch", json={"items": [{"user_id": r["user_id"]} for r in rows[1:]]})
        perf = json.loads(once(api, "--json").stdout)["performance"]
        assert perf["estimated"]["roc_auc"] is not None and perf["estimated_reason"] is None
        assert perf["realized"] is None and perf["realized_reason"] == f"only 1 of the {MIN_SAMPLE} labels needed"


def test_the_views_show_a_dash_and_the_reason():
    from dataclasses import replace

    from fake_sources import snapshot

    from streamflow_tui.core.performance import performance_of
    from streamflow_tui.widgets.model_view import quality_text
    from streamflow_tui.widgets.overview import model_card

    one = [(0.01, 1.0), (float("inf"), 1.0)]  # one scored prediction, at p ≤ 0.01
    p = performance_of({("0", "0"): 1.0}, [], one, one, 1.0)
    assert p is not None and p.estimated is None and p.realized is None
    for width in (78, 200):
        text = quality_text(p, width).plain
        assert f"realised – (only 1 of the {MIN_SAMPLE} labels needed)" in text, text
        assert f"estimated – (only 1 of the {MIN_SAMPLE} scored predictions needed)" in text, text
        assert "AUC" not in text
    card = model_card(replace(snapshot(0), performance=p)).plain
    assert f"AUC – <{MIN_SAMPLE} rows" in card, card
