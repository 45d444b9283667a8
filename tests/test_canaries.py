"""Canaries: every third-party internal the code relies on, exercised on a tiny real input.

When an upgrade moves one, the test that fails names the package, its installed version and what moved,
instead of a wrong number or a slow console somewhere downstream. Textual's ``Strip.render_ansi`` (and the
Rich style privates it reads) have their own canary in test_textual_patches.py. plotext is used through its
public ``plt`` API only (streamflow_tui/widgets/charts.py): nothing to watch there.

Evidently takes ~4 s to import: it is imported once, by the module-scoped fixture below.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import numpy as np
import pytest
from fake_targets import Reply, fake_target

# -- Textual and friends: what the SVG snapshots were drawn with --------------------------------------

# tests/__snapshots__/test_console_snapshots/*.svg were last made (commit 669d40f) with these. Every one of
# them decides pixels of those frames: Textual lays out and paints, Rich renders text and styles,
# textual-plotext and plotext draw the charts.
SNAPSHOTS_MADE_WITH = {"textual": "8.2.8", "rich": "15.0.0", "textual-plotext": "1.0.1", "plotext": "5.3.2"}


@pytest.mark.parametrize("package", sorted(SNAPSHOTS_MADE_WITH))
def test_the_snapshots_were_made_with_the_installed_renderers(package):
    made, installed = SNAPSHOTS_MADE_WITH[package], version(package)
    assert installed == made, (
        f"the console's SVG snapshots were made with {package} {made}, installed is {installed}: regenerate "
        "them with `pytest tests/test_console_snapshots.py --snapshot-update`, look at every changed frame "
        "(git diff, or the report of a run without --snapshot-update) before committing them, then set "
        f"SNAPSHOTS_MADE_WITH[{package!r}] in tests/test_canaries.py to {installed!r}"
    )


def test_textual_static_leaves_room_for_the_consoles_own_marker():
    """widgets/quiet.py keeps what a Static shows in ``widget._shown`` and calls ``update(..., layout=)``."""
    from textual.widgets import Static

    from streamflow_tui.widgets.quiet import set_if_changed

    where = f"textual {version('textual')}"
    assert "_shown" not in dir(Static) and "_shown" not in vars(Static("x")), (
        f"{where}: Static now has an attribute _shown of its own; set_if_changed (widgets/quiet.py) would "
        "overwrite it: rename the console's marker"
    )
    assert "layout" in inspect.signature(Static.update).parameters, (
        f"{where}: Static.update no longer takes layout=; set_if_changed (widgets/quiet.py) passes it"
    )

    class Recording(Static):
        def update(self, content="", *, layout=True):
            self.updates = [*getattr(self, "updates", []), (content, layout)]

    widget = Recording("x")
    set_if_changed(widget, "a")
    set_if_changed(widget, "a")  # the same again: skipped
    set_if_changed(widget, "b", layout=True)
    assert widget.updates == [("a", False), ("b", True)]


# -- hdrhistogram: the load generator's numpy readers (loadgen/hdr_read.py) ------------------------------


def test_hdrh_counts_are_a_flat_array_indexed_as_get_value_from_index_says():
    from loadgen import hdr_read
    from loadgen.stats import new_histogram

    where = f"hdrhistogram {version('hdrhistogram')}"
    h = new_histogram()
    values = [1, 7, 999, 1_000, 1_001, 123_456, 123_456, 45_000_000, 299_999_999]
    for v in values:
        h.record_value(v)
    assert hasattr(h, "counts") and hasattr(h, "counts_len"), (
        f"{where}: HdrHistogram lost .counts/.counts_len, which hdr_read.counts() copies the counts from"
    )
    c = hdr_read.counts(h)
    assert c.shape == (h.counts_len,) and c.dtype == np.int64, (
        f"{where}: .counts no longer reads as a flat array of counts_len numbers ({c.shape}, {c.dtype})"
    )
    assert int(c.sum()) == h.get_total_count() == len(values), f"{where}: .counts does not hold every recorded value"
    # The layout hdr_read._layout builds: count index i holds the values equivalent to get_value_from_index(i).
    for i in np.flatnonzero(c):
        at = h.get_value_from_index(int(i))
        expected = sum(h.values_are_equivalent(v, at) for v in values)
        assert c[i] == expected, (
            f"{where}: counts[{i}] is {c[i]} but {expected} recorded values are equivalent to "
            f"get_value_from_index({i}) = {at}: the counts array is no longer indexed the way hdr_read reads it"
        )
    key = (h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)
    assert key == (1, 300_000_000, 3), f"{where}: the trackable range / significant figures read back as {key}"


def test_hdrh_median_equivalent_value_is_what_its_mean_uses():
    from loadgen import hdr_read
    from loadgen.stats import new_histogram

    where = f"hdrhistogram {version('hdrhistogram')}"
    h = new_histogram()
    assert callable(getattr(h, "_hdr_median_equiv_value", None)), (
        f"{where}: HdrHistogram._hdr_median_equiv_value is gone; hdr_read._layout uses it for each bucket's mean"
    )
    for v in (3, 2_049, 777_777):
        h.record_value(v)
        lo, hi = h.get_lowest_equivalent_value(v), h.get_highest_equivalent_value(v)
        median = h._hdr_median_equiv_value(v)
        assert lo <= median <= hi, f"{where}: _hdr_median_equiv_value({v}) = {median} is outside [{lo}, {hi}]"
    mean, stddev = hdr_read.mean_stddev(h, hdr_read.counts(h))
    assert mean == pytest.approx(h.get_mean_value(), rel=1e-12) and stddev == pytest.approx(h.get_stddev(), rel=1e-9), (
        f"{where}: get_mean_value/get_stddev no longer weigh each bucket by _hdr_median_equiv_value"
    )


def test_hdrh_decoded_histograms_read_the_same():
    """loadgen/processes.py merges the workers' histograms through encode()/decode(); hdr_read reads them."""
    from hdrh.histogram import HdrHistogram

    from loadgen import hdr_read
    from loadgen.stats import new_histogram

    h = new_histogram()
    for v in (5, 5, 640, 70_000, 8_000_000):
        h.record_value(v)
    decoded = HdrHistogram.decode(h.encode())
    assert np.array_equal(hdr_read.counts(decoded), hdr_read.counts(h)), (
        f"hdrhistogram {version('hdrhistogram')}: a decoded histogram's .counts no longer match the encoded one's"
    )


# -- Evidently: the drift worker's three internals (streamflow_tui/core/drift_worker.py) -------------------


@pytest.fixture(scope="module")
def evidently_runs():
    """One tiny report, run the way the drift worker runs it (widgets skipped) and the way its HTML job does
    (widgets drawn), counting calls to ``ValueDriftCalculation._render``."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    from streamflow_tui.core import drift_worker

    where = f"evidently {version('evidently')}"
    try:
        from evidently.metrics.column_statistics import ValueDriftCalculation
    except ImportError as exc:
        pytest.fail(f"{where}: evidently.metrics.column_statistics.ValueDriftCalculation moved ({exc})")
    rng = np.random.default_rng(7)
    n = 80  # more than drift_worker.MIN_ROWS, few enough to run in a blink
    reference = pd.DataFrame({"x": rng.normal(0, 1, n), "c": rng.choice(["a", "b"], n), "y": [0, 1] * (n // 2)})
    current = pd.DataFrame(
        {"x": rng.normal(3, 1, n), "c": rng.choice(["a", "b"], n, p=[0.95, 0.05]), "y": [0, 1] * (n // 2)}
    )
    definition = DataDefinition(numerical_columns=["x"], categorical_columns=["c", "y"])
    data = {
        "current_data": Dataset.from_pandas(current, data_definition=definition),
        "reference_data": Dataset.from_pandas(reference, data_definition=definition),
    }
    metrics = [ValueDrift(column="x"), ValueDrift(column="c"), ValueDrift(column="y", method="z", threshold=0.05)]

    original = ValueDriftCalculation.__dict__.get("_render")
    if not inspect.isfunction(original):
        pytest.fail(f"{where}: ValueDriftCalculation no longer defines _render itself; _without_widgets() patches it")
    calls = []

    def counting(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)

    ValueDriftCalculation._render = counting
    try:
        full = Report(metrics, include_tests=True).run(**data)
        drawn = len(calls)
        with drift_worker._without_widgets():
            fast = Report(metrics, include_tests=True).run(**data)
        skipped = len(calls) - drawn
    finally:
        ValueDriftCalculation._render = original
    return {
        "where": where,
        "drawn": drawn,
        "skipped": skipped,
        "full": full,
        "fast": fast,
        "metrics": len(metrics),
        "run": lambda ms: Report(ms, include_tests=True).run(**data),
    }


def test_evidently_value_drift_renders_its_widgets_in_render(evidently_runs):
    """_without_widgets() replaces ValueDriftCalculation._render: the widgets must be drawn there and only
    there, or the drift check silently pays for plotly again (~85 % of a run) or loses its numbers."""
    r = evidently_runs
    assert r["drawn"] == r["metrics"], (
        f"{r['where']}: a report of {r['metrics']} ValueDrift metrics called ValueDriftCalculation._render "
        f"{r['drawn']} times (expected once each): the widgets are drawn elsewhere now, so skipping _render "
        "no longer skips them"
    )
    assert r["skipped"] == 0, f"{r['where']}: _render still ran {r['skipped']} times inside _without_widgets()"
    full, fast = r["full"].dict(), r["fast"].dict()
    assert [(m["config"], float(m["value"])) for m in fast["metrics"]] == [
        (m["config"], float(m["value"])) for m in full["metrics"]
    ], f"{r['where']}: without its widgets ValueDrift computes other scores"
    assert [str(t["status"]) for t in fast["tests"]] == [str(t["status"]) for t in full["tests"]]


def test_evidently_snapshot_dict_has_the_layout_the_drift_worker_reads(evidently_runs):
    from streamflow_tui.core import drift_worker

    where = evidently_runs["where"]
    data = evidently_runs["fast"].dict()
    assert {"metrics", "tests"} <= set(data), f"{where}: snapshot.dict() keys are {sorted(data)}"
    for m in data["metrics"]:
        assert {"id", "config", "value"} <= set(m), f"{where}: a metric in snapshot.dict() has keys {sorted(m)}"
        assert {"column", "method", "threshold"} <= set(m["config"]), (
            f"{where}: a ValueDrift's config in snapshot.dict() has keys {sorted(m['config'])}"
        )
    ids = {m["id"] for m in data["metrics"]}
    for t in data["tests"]:
        assert t.get("metric_config", {}).get("metric_id") in ids, (
            f"{where}: a test no longer names its metric as metric_config.metric_id: {sorted(t)}"
        )
        assert t["status"] in ("FAIL", "SUCCESS"), f"{where}: a test's status reads {t['status']!r}, not FAIL/SUCCESS"
    columns = drift_worker._column_results(evidently_runs["fast"], ["x"])
    assert sorted(columns) == ["c", "x", "y"], f"{where}: _column_results read {sorted(columns)} of x, c, y"
    # x moved by three standard deviations and c from 50/50 to 95/5: drifted; y is the same in both.
    assert {k: c.drifted for k, c in columns.items()} == {"x": True, "c": True, "y": False}, columns
    assert columns["y"].stattest == "z" and columns["y"].threshold == 0.05 and columns["x"].type == "num"
    assert all(c.score is not None for c in columns.values()), columns


def test_evidently_stat_test_registry_names_the_tests_reports_use(evidently_runs):
    from streamflow_tui.core import drift_worker
    from streamflow_tui.core.drift import LABEL_METHOD

    where = evidently_runs["where"]
    try:
        from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
    except ImportError as exc:
        pytest.fail(f"{where}: evidently.legacy.calculations.stattests.registry._registered_stat_tests moved ({exc})")
    assert isinstance(_registered_stat_tests, dict) and _registered_stat_tests, (
        f"{where}: _registered_stat_tests is a {type(_registered_stat_tests).__name__}, not a filled dict"
    )
    for name, by_type in _registered_stat_tests.items():
        for test in by_type.values():
            assert isinstance(test.name, str) and isinstance(test.display_name, str), (
                f"{where}: the registry's {name!r} entry has no name/display_name strings: {test!r}"
            )
    names = drift_worker._stattest_names()
    # The methods a report writes into its config when it chooses the test itself (display names), back to
    # the registry names the console shows and the heatmap classifies.
    chosen = {m["config"]["column"]: str(m["config"]["method"]) for m in evidently_runs["fast"].dict()["metrics"]}
    for column in ("x", "c"):
        assert chosen[column] in names, (
            f"{where}: the report calls the test it chose for {column} {chosen[column]!r}, which no registry "
            f"display name matches ({sorted(names)})"
        )
    assert LABEL_METHOD in _registered_stat_tests, f"{where}: the label's test {LABEL_METHOD!r} is not registered"


@pytest.mark.parametrize("method, distance", [("wasserstein", True), ("jensenshannon", True), ("ks", False)])
def test_evidently_scores_point_the_way_the_heatmap_assumes(evidently_runs, method, distance):
    """drift_history.strength(): a distance drifts above its threshold, a p-value below it."""
    from evidently.metrics import ValueDrift

    from streamflow_tui.core.drift_history import DISTANCE_TESTS, strength

    where = evidently_runs["where"]
    column = "c" if method == "jensenshannon" else "x"
    data = evidently_runs["run"]([ValueDrift(column=column, method=method)]).dict()
    (metric,) = data["metrics"]
    (test,) = data["tests"]
    score, threshold = float(metric["value"]), float(metric["config"]["threshold"])
    assert test["status"] == "FAIL", f"{where}: {method} does not see a drift this large ({score} vs {threshold})"
    assert (method in DISTANCE_TESTS) is distance, f"drift_history.DISTANCE_TESTS classifies {method} the other way"
    assert (score >= threshold) is distance, (
        f"{where}: {method} drifted with score {score} {'below' if distance else 'above'} its threshold "
        f"{threshold}: drift_history.DISTANCE_TESTS classifies it the other way"
    )
    assert strength(score, threshold, method) > 1, "a drifted column is past its threshold on the heatmap"


# -- Prometheus: the version the live tests assume (tests/prometheus_server.py) ----------------------------


@pytest.mark.parametrize("served, ok", [("2.42.0+ds", True), ("2.53.1", True), ("3.1.0", False)])
def test_the_prometheus_version_check(served, ok):
    import prometheus_server

    body = f'{{"status":"success","data":{{"version":"{served}","revision":"x"}}}}'.encode()
    with fake_target() as t:
        t.reply = Reply(body=body, content_type="application/json")
        if ok:
            assert prometheus_server.check_version(t.url) == served
        else:
            with pytest.raises(pytest.fail.Exception) as failed:
                prometheus_server.check_version(t.url)
            assert f"is Prometheus {served}" in str(failed.value) and "2.x" in str(failed.value)
