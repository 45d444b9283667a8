"""The contracts in docs/schemas/ (#26) hold for what the programs really print: ``streamflow-tui --once --json``
(scrape and Prometheus sources, a drift check and a retrain decision), ``streamflow-load --json``, a segment's
``--output`` file (a plain run and a ``--stream`` one), ``streamflow-load merge --json``, ``streamflow-retrain``
(a decision and its failure form) and a recording's bodies. Real servers only, started once for the module and
run side by side: the bundled API, a Prometheus 2.x scraping it and two load segments, the scripted SSE server."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
import zlib
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, running_api
from jsonschema import Draft202012Validator
from prometheus_server import query, running_prometheus
from referencing import Registry, Resource
from sse_server import Script, sse_server
from test_remote_load import config as prometheus_config  # the API and the load segments, scraped at 1 s
from waiting import wait_until

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"
NAMES = ("snapshot", "load", "retrain", "recording")
PY = sys.executable


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def registry() -> Registry:
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in (schema(n) for n in NAMES))


def validator(name: str, ref: str | None = None) -> Draft202012Validator:
    """The validator of ``name``'s schema, or of one of its $defs (``ref``), resolving the cross-file $refs."""
    root = schema(name)
    target = {"$ref": f"{root['$id']}#/$defs/{ref}"} if ref else root
    return Draft202012Validator(target, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(name: str, document: Any, ref: str | None = None) -> None:
    errors = sorted(validator(name, ref).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])


def run_json(args: list[str], timeout: float = 120, expect: int = 0) -> dict[str, Any]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == expect, (done.returncode, done.stderr[-2000:])
    return json.loads(done.stdout)


def started(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def finished(proc: subprocess.Popen, timeout: float = 120, expect: int = 0) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == expect, (proc.args, proc.returncode, err[-2000:])
    return json.loads(out)


def recorded_bodies(api: str, path: Path, retrain: dict[str, Any], drift) -> list[tuple[str, dict[str, Any]]]:
    """A recording written by the Recorder from real results, read back raw: (kind, decoded JSON body)."""
    import sqlite3

    from loadgen.config import LoadConfig
    from loadgen.runner import LoadRunner
    from streamflow_tui.core.naming import MetricNames
    from streamflow_tui.core.recording import Recorder
    from streamflow_tui.core.retraining import parse_decision
    from streamflow_tui.core.scrape import ScrapeSource
    from streamflow_tui.core.timeline import point_of
    from streamflow_tui.core.versions import VersionChange

    runner = LoadRunner(LoadConfig(url=api + "/predict", concurrency=2, requests=40))
    runner.start()
    source = ScrapeSource(api, MetricNames(), history_points=10)
    try:
        source.poll()
        runner.wait()
        time.sleep(0.3)
        source.poll()
        snapshot = source.snapshot(source.span_seconds())
    finally:
        source.close()
    load = runner.snapshot()
    t = snapshot.taken_at.timestamp()
    scores = snapshot.model.score_histogram if snapshot.model else ()
    with Recorder(path, interval=1.0, source="scrape", api_url=api) as recorder:
        recorder.add_poll(snapshot, point_of(snapshot, load))
        recorder.add_event(t, "load", load)
        recorder.add_event(t, "drift", drift)
        recorder.add_event(t, "retrain", parse_decision(retrain))
        recorder.add_event(t, "version", VersionChange(at=t, old="a", new="b", old_scores=scores))
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        assert meta["format"] == "streamflow.recording/1"
        bodies = []
        for point, snap in db.execute("SELECT point, snapshot FROM polls"):
            bodies += [("point", json.loads(zlib.decompress(point))), ("snapshot", json.loads(zlib.decompress(snap)))]
        bodies += [
            (kind, json.loads(zlib.decompress(body))) for kind, body in db.execute("SELECT kind, body FROM events")
        ]
    return bodies


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Any]:
    """Every output, made once: the slow ones (the drift check, the load segments) run side by side."""
    tmp = tmp_path_factory.mktemp("schemas")
    out: dict[str, Any] = {}
    with ExitStack() as stack:
        api = stack.enter_context(running_api())
        sse = stack.enter_context(sse_server(Script(ttft=0.01, gaps=(0.002,), timings="vllm")))
        ports = [free_port(), free_port()]

        # The segments hold their metrics ports before Prometheus picks its own free port: no collision.
        start_at = int(time.time()) + 3
        segments = [
            started(
                [PY, "-m", "loadgen.cli", "--url", api + "/predict", "--rate", "20", "--duration", "20"]
                + ["--segment", f"{i}/2", "--start-at", str(start_at), "--run-id", "schemas", "--json", "--no-progress"]
                + ["--output", str(tmp / f"seg{i}.json"), "--metrics-port", str(port), "--feedback-delay", "0.2"]
            )
            for i, port in enumerate(ports)
        ]

        def serving() -> bool:
            assert all(p.poll() is None for p in segments), [p.communicate()[1][-500:] for p in segments]
            try:
                return all(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).is_success for port in ports)
            except httpx.HTTPError:
                return False

        wait_until(serving, 30, "both segments serving their metrics")
        prometheus = stack.enter_context(running_prometheus(prometheus_config(api, ports)))

        # The drift check in a thread of this process (a DriftResult for the recording), and --once --drift
        # --retrain as a process: the two ~10 s runs overlap with each other and with the load below.
        from streamflow_tui.core.drift import DriftEngine
        from streamflow_tui.core.drift_types import DriftRequest

        drift_result: list[Any] = []

        def drift_in_process() -> None:
            engine = DriftEngine(warm=False)
            try:
                drift_result.append(
                    engine.run(DriftRequest("month_000", "month_003", reports_dir=None), with_html=False)
                )
            finally:
                engine.close()

        drift_thread = threading.Thread(target=drift_in_process)
        drift_thread.start()
        once_drift = started(
            [PY, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", api, "--window", "1"]
            + ["--drift", "month_000", "month_003", "--retrain", "--reports-dir", str(tmp / "reports")]
        )
        retrain = started([PY, "-m", "api.retrain_cli", "--data", "month_003", "--cache-dir", str(tmp / "cache")])
        retrain_failed = started(
            [PY, "-m", "api.retrain_cli", "--data", "live", "--api-url", f"http://127.0.0.1:{free_port()}"]
        )

        stream = started(
            [PY, "-m", "loadgen.cli", "--url", sse, "--stream", "--rate", "10", "--duration", "2", "--max-tokens", "8"]
            + ["--segment", "0/1", "--output", str(tmp / "stream.json"), "--json", "--no-progress"]
        )

        # Prometheus-mode snapshot while both segments run and have been scraped for a window (4 × 1 s).
        def scraped() -> bool:
            assert all(p.poll() is None for p in segments), [p.communicate()[1][-500:] for p in segments]
            rows = query(prometheus, "count_over_time(streamflow_load_sent_total[6s])", time.time())
            return len(rows) == 2 and all(float(r["value"][1]) >= 4 for r in rows)

        wait_until(scraped, 40, "both load segments scraped for 4 s")
        out["prometheus_snapshot"] = run_json(
            [PY, "-m", "streamflow_tui.cli", "--once", "--json", "--prometheus-url", prometheus]
            + ["--api-url", api, "--window", "2"]
        )
        out["segment_reports"] = [finished(p) for p in segments]
        out["stream_report"] = finished(stream)
        out["segment_files"] = [json.loads((tmp / f"seg{i}.json").read_text()) for i in range(2)]
        out["stream_file"] = json.loads((tmp / "stream.json").read_text())
        load_cmd = [PY, "-m", "loadgen.cli"]
        out["merged"] = run_json(load_cmd + ["merge", str(tmp / "seg0.json"), str(tmp / "seg1.json"), "--json"])
        out["merged_stream"] = run_json(load_cmd + ["merge", str(tmp / "stream.json"), "--json"])
        out["plain_load"] = run_json(
            load_cmd + ["--url", api + "/predict", "--concurrency", "2", "--requests", "40", "--json", "--no-progress"]
        )
        out["scrape_snapshot"] = run_json(
            [PY, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", api, "--window", "1"]
        )
        out["retrain"] = finished(retrain)
        out["retrain_failed"] = finished(retrain_failed, expect=1)
        out["drift_snapshot"] = finished(once_drift)
        drift_thread.join(timeout=120)
        assert drift_result, "the in-process drift check did not finish"
        out["recording"] = recorded_bodies(api, tmp / "session.db", out["retrain"], drift_result[0])
        assert httpx.get(api + "/health", timeout=5).status_code == 200
    return out


# -- the schemas themselves ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12_with_id_title_and_descriptions(name):
    s = schema(name)
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"].endswith(f"/{name}.schema.json") and s["title"] and s["description"]


# -- --once --json ---------------------------------------------------------------------------------------------


def test_scrape_snapshot_matches(outputs):
    doc = outputs["scrape_snapshot"]
    assert_valid("snapshot", doc)
    assert doc["source"] == "scrape" and doc["remote_load"] is None
    assert doc["performance"]["realized"] is not None  # the segments' feedback labelled predictions


def test_drift_and_retrain_snapshot_matches(outputs):
    doc = outputs["drift_snapshot"]
    assert_valid("snapshot", doc)
    assert doc["drift"]["decision"] == "RETRAINING_TRIGGERED" and doc["drift"]["columns"]
    assert doc["retrain"]["schema"] == "streamflow.retrain/1" and doc["retrain"]["decision"] in ("PROMOTED", "KEPT")


def test_prometheus_snapshot_matches_with_its_remote_load(outputs):
    doc = outputs["prometheus_snapshot"]
    assert_valid("snapshot", doc)
    assert doc["source"] == "prometheus" and doc["api"]["instances"]
    remote = doc["remote_load"]
    assert remote is not None and remote["segments"] == 2 and remote["run_ids"] == ["schemas"]


def test_retrain_not_run_forms_match():
    from streamflow_tui.core.retraining import RetrainNotRun

    v = validator("snapshot")
    for block in (
        RetrainNotRun(skipped="no retraining triggered (NO_ACTION)").to_json(),
        RetrainNotRun(error="x").to_json(),
    ):
        v.validate({**minimal_snapshot(), "retrain": block})


def minimal_snapshot() -> dict[str, Any]:
    """A snapshot of a target that is down, as to_json writes it."""
    from datetime import UTC, datetime

    from streamflow_tui.core.report import to_json
    from streamflow_tui.core.results import EMPTY_LATENCY, EMPTY_REQUESTS, Snapshot, TargetStatus

    return to_json(
        Snapshot(
            taken_at=datetime.now(UTC),
            source="scrape",
            api=TargetStatus("http://127.0.0.1:1", False, "connection refused"),
            prometheus=TargetStatus(None, None),
            window_seconds=0,
            requests=EMPTY_REQUESTS,
            latency=EMPTY_LATENCY,
            latency_histogram=(),
            model=None,
            metrics=None,
        )
    )


def test_a_down_target_and_a_failed_drift_match():
    assert_valid("snapshot", minimal_snapshot())
    assert_valid("snapshot", {**minimal_snapshot(), "drift": {"error": "month_009 is not a dataset"}})


# -- streamflow-load -------------------------------------------------------------------------------------------


def test_load_reports_match(outputs):
    assert_valid("load", outputs["plain_load"])
    for doc in outputs["segment_reports"]:
        assert_valid("load", doc)
        assert doc["segment"]["run_id"] == "schemas" and doc["feedback"]["sent"] > 0


def test_segment_files_match(outputs):
    for doc in outputs["segment_files"]:
        assert_valid("load", doc)
        assert doc["raw"]["histograms"]["corrected"].startswith("HISTF")
    stream = outputs["stream_file"]
    assert_valid("load", stream)
    assert stream["stream"]["tokens"] > 0 and stream["stream"]["ttft_split"]["available"]
    assert set(stream["raw"]["stream"]["histograms"]) >= {"ttft_corrected", "itl", "network"}
    assert_valid("load", outputs["stream_report"])


def test_merged_reports_match(outputs):
    merged = outputs["merged"]
    assert_valid("load", merged)
    assert merged["segments"]["merged"] == 2 and merged["partial"] is False
    assert_valid("load", outputs["merged_stream"])
    assert "histograms" in outputs["merged_stream"]["stream"]


# -- streamflow-retrain ----------------------------------------------------------------------------------------


def test_retrain_outputs_match(outputs):
    assert_valid("retrain", outputs["retrain"])
    assert outputs["retrain"]["decision"] in ("PROMOTED", "KEPT")
    failed = outputs["retrain_failed"]
    assert_valid("retrain", failed)
    assert failed["decision"] is None and failed["error"]


# -- recordings ------------------------------------------------------------------------------------------------


def test_recording_bodies_match(outputs):
    kinds = [kind for kind, _ in outputs["recording"]]
    assert sorted(kinds) == ["drift", "load", "point", "retrain", "snapshot", "version"]
    for kind, body in outputs["recording"]:
        assert_valid("recording", body, kind)
        assert_valid("recording", body)


# -- the schemas can fail --------------------------------------------------------------------------------------


def without(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    broken = copy.deepcopy(doc)
    node = broken
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return broken


def test_each_schema_refuses_a_broken_document(outputs):
    cases = [
        ("snapshot", None, without(outputs["scrape_snapshot"], "remote_load")),
        ("snapshot", None, without(outputs["drift_snapshot"], "drift", "decision")),
        ("snapshot", None, {**outputs["scrape_snapshot"], "source": "carrier pigeon"}),
        ("load", None, without(outputs["plain_load"], "totals")),
        ("load", None, without(outputs["segment_files"][0], "raw", "histograms")),
        ("load", None, without(outputs["stream_file"], "stream", "ttft_seconds")),
        ("retrain", None, without(outputs["retrain"], "serving")),
        ("retrain", None, without(outputs["retrain_failed"], "error")),
    ]
    bodies = dict(outputs["recording"])
    cases += [
        ("recording", kind, without(bodies[kind], key))
        for kind, key in (
            ("snapshot", "taken_at"),
            ("point", "t"),
            ("drift", "columns"),
            ("load", "sent"),
            ("version", "new"),
            ("retrain", "decision"),
        )
    ]
    for name, ref, doc in cases:
        assert not validator(name, ref).is_valid(doc), (name, ref)
