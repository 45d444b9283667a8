"""Fleet drift from a metrics backend alone (#28): three real API processes behind a real round-robin
balancer (haproxy), month_003 rows sent through it, scraped by a real Prometheus at 5 s.

The core function's per-feature verdicts and decision agree with Evidently row level on the same rows (read
back from the replicas); the counts Prometheus sums equal one process's counts of the same rows exactly;
VictoriaMetrics answers the same; a Prometheus restart keeps the history window by window.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from binned_rows import collector_rows, counted_bins
from conftest import running_api
from foreign_servers import running_victoria_metrics
from haproxy_server import running_haproxy
from prometheus_server import query, running_prometheus, scrape_config
from waiting import wait_until

import streamflow_data as sd
from api.feature_bins import layout_of
from streamflow_data.schema import FEATURES, NUMERIC_FEATURES
from streamflow_tui.core.drift import DriftEngine, DriftRequest
from streamflow_tui.core.fleet_drift import drift_history, fleet_drift
from streamflow_tui.core.prometheus import PrometheusClient

ROWS = 2400  # 8 s at 300 req/s: over a scrape interval, so history has several windows


@dataclass
class Stack:
    apis: list[str]
    prom: str
    data_dir: Path
    stack: ExitStack
    rows: pd.DataFrame  # every row the replicas scored, read back from them

    def restart_prometheus(self) -> None:
        self.stack.close()  # only Prometheus lives on this stack
        self.stack = ExitStack()
        config = scrape_config([a.removeprefix("http://") for a in self.apis], interval="5s")
        rules = self.data_dir.parent / "rules.yml"
        if not rules.exists():
            from streamflow_tui.rules import main as write_rules

            assert write_rules(["-o", str(rules), "--window", "10m"]) == 0
        config += f"rule_files: [{str(rules)!r}]\n"
        self.prom = self.stack.enter_context(running_prometheus(config, data_dir=self.data_dir))


def fleet_total(apis: list[str]) -> float:
    from metrics_text import samples, total

    return sum(
        total(samples(httpx.get(a + "/metrics", timeout=10).text), "api_feature_missing_total", feature="months_active")
        + total(
            samples(httpx.get(a + "/metrics", timeout=10).text),
            "api_feature_values_total",
            feature="months_active",
            le="+Inf",
        )
        for a in apis
    )


def every_replica_scraped(url: str) -> bool:
    """All three replicas' latest scrapes are in and hold every row. A scrape that failed (a busy machine)
    marks a replica's series stale, and an instant query would then see two replicas: wait it out."""
    rows = query(url, 'count(count by (instance) (api_feature_values_total{feature="months_active"}))', time.time())
    return bool(rows) and float(rows[0]["value"][1]) == 3 and prometheus_total(url) == ROWS


def prometheus_total(url: str) -> float:
    expr = (
        'sum(api_feature_values_total{feature="months_active",le="+Inf"})'
        ' + sum(api_feature_missing_total{feature="months_active"})'
    )
    rows = query(url, expr, time.time())
    return float(rows[0]["value"][1]) if rows else -1.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with ExitStack() as outer:
        apis = [outer.enter_context(running_api()) for _ in range(3)]
        balanced = outer.enter_context(running_haproxy(apis))
        s = Stack(apis, "", tmp_path_factory.mktemp("prom-data"), ExitStack(), pd.DataFrame())
        s.restart_prometheus()
        outer.callback(lambda: s.stack.close())
        sent = subprocess.run(
            [sys.executable, "-m", "loadgen.cli", "--url", balanced + "/predict", "--json", "--no-progress"]
            + ["--rate", "300", "-n", str(ROWS), "--month", "month_003", "--payload", "features"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        assert fleet_total(apis) == ROWS
        wait_until(lambda: prometheus_total(s.prom) == ROWS, 40, "Prometheus holds every replica's final count")
        frames = []
        for api in apis:
            body = httpx.get(api + "/monitoring/recent", timeout=30).json()
            frames.append(pd.DataFrame(body["rows"], columns=body["columns"]))
        assert all(len(f) >= ROWS // 4 for f in frames), [len(f) for f in frames]  # haproxy spread them
        s.rows = pd.concat(frames, ignore_index=True)
        assert len(s.rows) == ROWS
        yield s


def test_fleet_drift_agrees_with_evidently_on_the_same_rows(stack: Stack, tmp_path):
    client = PrometheusClient(stack.prom)
    started = time.perf_counter()
    fleet = fleet_drift(client, 0)
    seconds = time.perf_counter() - started
    assert fleet.replicas == 3 and fleet.drift.rows_current == ROWS
    assert fleet.to_json()["source"] == "prometheus" and fleet.to_json()["replicas"] == 3
    assert fleet.drift.total_columns == 14 and fleet.drift.decision == "RETRAINING_TRIGGERED"
    assert seconds < 2.0  # generous here; bench/fleet_drift.py measures it

    csv = tmp_path / "live_rows.csv"
    stack.rows.to_csv(csv, index=False)
    engine = DriftEngine()
    try:
        rows = engine.run(DriftRequest("month_000", str(csv), reports_dir=None), with_html=False)
    finally:
        engine.close()
    evidently = {c.column: c for c in rows.columns}
    binned = {c.column: c for c in fleet.drift.columns}
    assert set(binned) == set(evidently) == set(FEATURES)
    disagree = [(c, evidently[c].score, binned[c].score) for c in FEATURES if evidently[c].drifted != binned[c].drifted]
    assert not disagree, disagree
    assert fleet.drift.decision == rows.decision
    for column in FEATURES:  # Jensen-Shannon is exact; Wasserstein within its exact bounds
        if column in NUMERIC_FEATURES:
            extra = next(e for e in fleet.extras if e.column == column)
            assert extra.lower - 1e-9 <= evidently[column].score <= extra.upper + 1e-9, column
        else:
            assert binned[column].score == pytest.approx(evidently[column].score, abs=1e-12), column


def test_three_replicas_count_exactly_what_one_process_counts(stack: Stack):
    fleet = fleet_drift(PrometheusClient(stack.prom), 0)
    layout = layout_of(sd.load_frame("month_000"), fleet.version)
    one_process = counted_bins(layout, stack.rows[list(FEATURES)])
    live, _ = collector_rows(one_process)
    families = {"values": "le", "categories": "category", "missing": ""}

    def key(part: str, labels: dict) -> tuple[str, str, str]:
        return part, labels["feature"], labels.get(families[part], "")

    one = {key(m["streamflow_part"], m): v for m, v in live if m["streamflow_part"] in families}
    summed = {}
    for part, by in families.items():
        expr = f"sum by (feature{', ' + by if by else ''}) (api_feature_{part}_total)"
        for r in query(stack.prom, expr, time.time()):
            summed[key(part, r["metric"])] = float(r["value"][1])
    assert len(one) == len(summed) > 150 and one == summed  # every bin of every feature, exactly

    from binned_rows import binned_result

    single = binned_result(layout, stack.rows[list(FEATURES)], with_label=False)
    assert [(c.column, c.drifted) for c in single.drift.columns] == [(c.column, c.drifted) for c in fleet.drift.columns]
    for a, b in zip(single.drift.columns, fleet.drift.columns):
        assert a.score == pytest.approx(b.score, rel=1e-12, abs=1e-15), a.column  # outside sums: float order
    assert single.drift.decision == fleet.drift.decision and single.drift.drift_share == fleet.drift.drift_share


def test_a_window_counts_only_its_rows(stack: Stack):
    client = PrometheusClient(stack.prom)
    everything = fleet_drift(client, 0)
    wide = fleet_drift(client, 3600)  # the replicas started within it: all of their counts are in it
    assert wide.drift.rows_current == everything.drift.rows_current == ROWS
    from streamflow_tui.core.drift import DriftError

    def idle_window() -> str:
        """Once a 10 s window lies wholly after the load's last scrape: no rows in it, said so."""
        try:
            fleet_drift(client, 10)
        except DriftError as exc:
            return str(exc)
        return ""

    def empty_window() -> str:
        # A window that still holds the load's last rows says how few (e.g. 27 < 30): wait for the empty one.
        said = idle_window()
        return said if "scored 0 row(s)" in said else ""

    said = wait_until(empty_window, 40, "a window with no rows")
    assert "a drift check needs at least 30" in said, said


def test_victoria_metrics_answers_the_same(stack: Stack):
    targets = [a.removeprefix("http://") for a in stack.apis]
    with running_victoria_metrics(targets) as vm:
        client = PrometheusClient(vm)

        def held() -> bool:
            try:
                return fleet_drift(client, 0).drift.rows_current == ROWS
            except Exception:
                return False

        wait_until(held, 40, "VictoriaMetrics holds every replica's counts")
        via_vm = fleet_drift(client, 0)
        # --once through VictoriaMetrics: the same fleet drift block.
        import json

        done = once("--json", "--prometheus-url", vm, "--window", "3600", "--drift", "month_000", "live")
        assert done.returncode == 0, done.stderr
        block = json.loads(done.stdout)["drift"]
        assert block["source"] == "prometheus" and block["replicas"] == 3
        assert block["decision"] == via_vm.drift.decision and block["drift_share"] == via_vm.drift.drift_share
    via_prom = fleet_drift(PrometheusClient(stack.prom), 0)
    assert via_vm.replicas == 3
    # Counts are integers, equal; VictoriaMetrics keeps ~12 significant digits of the float sums beyond the
    # reference's range, which move a Wasserstein score in its 12th digit.
    assert [(c.column, c.drifted, c.distribution) for c in via_vm.drift.columns] == [
        (c.column, c.drifted, c.distribution) for c in via_prom.drift.columns
    ]
    for a, b in zip(via_vm.drift.columns, via_prom.drift.columns):
        assert a.score == pytest.approx(b.score, rel=1e-9), a.column
    assert via_vm.drift.decision == via_prom.drift.decision


def test_history_survives_a_prometheus_restart(stack: Stack):
    end = time.time()
    start = end - 300
    before = drift_history(PrometheusClient(stack.prom), start, end, 10)
    # Windows that do not overlap: each row in exactly one (a window under 30 rows is left out).
    assert before and ROWS - 30 * 30 <= sum(r.drift.rows_current for r in before) <= ROWS
    assert all(r.drift.decision == "RETRAINING_TRIGGERED" for r in before if r.drift.rows_current >= 1000)
    stack.restart_prometheus()
    after = drift_history(PrometheusClient(stack.prom), start, end, 10)
    assert [(r.at, r.drift.rows_current, [(c.column, c.score) for c in r.drift.columns]) for r in after] == [
        (r.at, r.drift.rows_current, [(c.column, c.score) for c in r.drift.columns]) for r in before
    ]


def test_the_alerting_rules_compute_the_same_drift(stack: Stack):
    """The PromQL of ``python -m streamflow_tui.rules`` (evaluated by Prometheus every 5 s) against the core
    function over the same 10 minutes: Jensen-Shannon equal, Wasserstein within the core's exact bounds and
    with the same verdict, the same share of drifted features."""
    client = PrometheusClient(stack.prom)
    wait_until(lambda: every_replica_scraped(stack.prom), 40, "every replica's latest scrape in")

    def recorded() -> dict[str, float]:
        rows = query(stack.prom, "version_feature:api_feature_drift:w10m", time.time())
        return {r["metric"]["feature"]: float(r["value"][1]) for r in rows}

    wait_until(lambda: len(recorded()) == 14, 40, "the rules recorded every feature's drift", seen=recorded)
    promql = recorded()
    core = fleet_drift(client, 600)
    extras = {e.column: e for e in core.extras}
    for c in core.drift.columns:
        if c.stattest == "jensenshannon":
            assert promql[c.column] == pytest.approx(c.score, rel=1e-9, abs=1e-12), c.column
        else:
            extra = extras[c.column]
            assert extra.lower - 1e-9 <= promql[c.column] <= extra.upper + 1e-9, c.column
            assert promql[c.column] == pytest.approx(c.score, rel=0.15), c.column
        assert (promql[c.column] >= 0.1) == c.drifted, c.column
    (share,) = query(stack.prom, "version:api_feature_drift_share:w10m", time.time())
    assert float(share["value"][1]) == pytest.approx(core.drift.drift_share)


# -- the console and --once (#28's hook-up), on the same stack ------------------------------------------------


def drift_text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


def once(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", *args], capture_output=True, text=True, timeout=60
    )


def test_once_reads_fleet_drift_from_prometheus(stack: Stack):
    import json

    # --window 3600: the replicas started within it, so the window holds every row they scored.
    wait_until(lambda: every_replica_scraped(stack.prom), 40, "every replica's latest scrape in")
    done = once("--json", "--prometheus-url", stack.prom, "--window", "3600", "--drift", "month_000", "live")
    assert done.returncode == 0, done.stderr
    drift = json.loads(done.stdout)["drift"]
    assert drift["source"] == "prometheus" and drift["replicas"] == 3 and drift["window_seconds"] == 3600
    assert drift["decision"] == "RETRAINING_TRIGGERED" and drift["model_version"].startswith("month_000")
    assert drift["current"] == "live" and drift["total_columns"] == len(drift["columns"]) == 14
    assert all("psi" in c and "score_lower" in c for c in drift["columns"])
    assert "note:" not in done.stderr  # month_000 is the served model's training month

    # Text and --fail-on-drift use the same result; another reference month is said to be not the one used.
    text = once("--prometheus-url", stack.prom, "--window", "3600", "--drift", "month_001", "live", "--fail-on-drift")
    assert text.returncode == 3, text.stderr
    assert "RETRAINING_TRIGGERED" in text.stdout and "source prometheus: 3 replica(s), window 3600 s" in text.stdout
    assert "compares with the served model's training rows (month_000" in text.stderr

    # A window the fleet scored nothing in: said as any failed drift check is, exit 1.
    from streamflow_tui.core.drift import DriftError

    def idle_now() -> bool:
        try:
            fleet_drift(PrometheusClient(stack.prom), 5)
        except DriftError:
            return True
        return False

    wait_until(idle_now, 40, "a 5 s window after the load's last scrape")
    idle = once("--json", "--prometheus-url", stack.prom, "--window", "5", "--drift", "month_000", "live")
    assert idle.returncode == 1
    assert "drift check failed: the fleet scored 0 row(s)" in idle.stderr
    assert "scored 0 row(s)" in json.loads(idle.stdout)["drift"]["error"]


async def test_console_backfills_fleet_drift_and_raises_alarms(stack: Stack, tmp_path):
    """At start the heatmap and the detectors fill from Prometheus's history (a restart loses nothing); the
    month_003 rows raise alarms, recorded and replayed; "live, fleet" is chosen and d checks it."""
    from waiting import wait_until_async

    from streamflow_tui.app import create_app
    from streamflow_tui.controllers.fleet import FLEET
    from streamflow_tui.core.config import ConsoleConfig
    from streamflow_tui.core.errors import RecordingError
    from streamflow_tui.core.recording import Recorder, Recording
    from streamflow_tui.core.replay import Replay

    wait_until(lambda: every_replica_scraped(stack.prom), 40, "every replica's latest scrape in")
    path = tmp_path / "rec.db"
    config = ConsoleConfig(
        api_url=None,
        prometheus_url=stack.prom,
        interval=1.0,
        drift_every=3600,  # one window holds the whole load
        drift_false_alarms="1/30d",
        reports_dir=str(tmp_path),
        export_dir=str(tmp_path),
    )
    recorder = Recorder(path, interval=1.0, source="prometheus", api_url=None)
    app = create_app(config, drift_engine=DriftEngine(warm=False), recorder=recorder)
    app.animation_level = "none"
    async with app.run_test(size=(160, 48)) as pilot:

        async def until(condition, what: str, timeout: float = 30.0):
            return await wait_until_async(condition, timeout, what, interval=0.1, pause=pilot.pause)

        await pilot.press("4")
        started = time.monotonic()
        await until(lambda: app.state.detectors, "the backfill and the detectors' calibration")
        print(f"backfill + calibration in the console: {time.monotonic() - started:.2f} s")
        run = app.state.drift_history.runs[-1]
        assert run.current == "live" and any(c.drifted for c in run.columns)
        assert "■" in drift_text(app, "#drift-heatmap")
        assert "from prometheus: 3 replica(s), 2,400 rows" in drift_text(app, "#drift-status")
        alarms = drift_text(app, "#drift-alarms")
        assert "14 detectors" in alarms and "ALARM" in alarms and "alarm(s), last:" in alarms
        assert app.state.alarms and {a.feature for a in app.state.alarms} <= set(FEATURES)
        assert any(d.state == "watching" for d in app.state.detectors)  # not every feature moved

        # The user's "live, fleet" is the current choice; d checks the last window now.
        assert app.query_one("#drift-current").value == FLEET
        before = app.state.drift_done_at
        started = time.monotonic()
        await pilot.press("d")
        await until(lambda: app.state.drift_done_at != before and app.drift.started is None, "the fleet check")
        print(f"fleet check in the console: {time.monotonic() - started:.2f} s")
        assert "3 replica(s), 2,400 rows in 3600 s" in drift_text(app, "#drift-status")
        assert "RETRAINING_TRIGGERED" in drift_text(app, "#drift-summary")
        raised = len(app.state.alarms)

        def polls() -> int:
            try:
                return len(Recording.open(path).times)
            except RecordingError:  # no poll written yet
                return 0

        await until(lambda: polls() >= 2, "two polls recorded")
        await pilot.press("q")
    recorder.close()

    recording = Recording.open(path)
    assert len(recording.events_between("alarm", 0, time.time())) == raised
    replayed = create_app(ConsoleConfig(api_url=None), replay=Replay(recording, 600))
    replayed.animation_level = "none"
    async with replayed.run_test(size=(160, 48)) as pilot:
        await pilot.press("4", "end")
        await wait_until_async(
            lambda: f"{raised} alarm(s), last:" in drift_text(replayed, "#drift-alarms"),
            20,
            "the replay shows the alarms",
            interval=0.1,
            pause=pilot.pause,
        )
        await pilot.press("q")
