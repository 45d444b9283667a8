"""Segments (#17): one run split over processes, result files merged without loss, client metrics in
Prometheus format. Unit tests of the schedule partition and the merge, then real segment processes
against the bundled API."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import free_port, running_api
from hdrh.histogram import HdrHistogram
from metrics_text import samples, total, value
from prometheus_client.parser import text_string_to_metric_families
from waiting import wait_until

from loadgen import cli, merge, segments
from loadgen.config import LoadConfig, LoadConfigError
from loadgen.payloads import bodies
from loadgen.schedule import Schedule, payload_slice
from loadgen.stats import LoadStats, new_histogram

URL = "http://127.0.0.1:9/predict"


# --- the segment spec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0/1", (0, 1)),
        ("2/4", (2, 4)),
        ("0:0.25", (0, 4)),
        ("0.25:0.5", (1, 4)),
        ("1/4:2/4", (1, 4)),
        ("2/3:1", (2, 3)),
    ],
)
def test_segment_specs(text, expected):
    assert segments.parse_segment(text) == expected


@pytest.mark.parametrize(
    "text, words", [("4/4", "below N"), ("0:0.3", "equal segments"), ("0.1:0.35", "equal"), ("x", "expected i/N")]
)
def test_bad_segment_specs(text, words):
    with pytest.raises(segments.SegmentError, match=words):
        segments.parse_segment(text)


def test_the_index_comes_from_an_indexed_job():
    assert segments.index_from_env(4, {"JOB_COMPLETION_INDEX": "3"}) == 3
    with pytest.raises(segments.SegmentError, match="not below"):
        segments.index_from_env(4, {"JOB_COMPLETION_INDEX": "4"})
    with pytest.raises(segments.SegmentError, match="JOB_COMPLETION_INDEX"):
        segments.index_from_env(4, {})


def test_start_is_a_whole_second_in_the_future():
    assert segments.resolve_start(None, now=100.2) == 101
    assert segments.resolve_start(None, now=100.7) == 102  # at least START_MARGIN_S away
    assert segments.resolve_start(200, now=100.0) == 200
    with pytest.raises(segments.SegmentError, match="already passed"):
        segments.resolve_start(99, now=100.0)
    with pytest.raises(segments.SegmentError, match="whole"):
        segments.resolve_start(150.5, now=100.0)


# --- the schedule partition, without a network ------------------------------------------------------


def times(schedule: Schedule, deadline: float) -> list[float]:
    out = []
    while schedule.time() < deadline:
        out.append(schedule.time())
        schedule.advance()
    return out


@pytest.mark.parametrize("rate", [200.0, 1000 / 3, 7.5])
@pytest.mark.parametrize("ramp", [0.0, 2.0])
@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_the_segments_schedules_are_the_whole_schedule(rate, ramp, n):
    t0, duration = 1_000.0, 6.0
    whole = times(Schedule(rate, t0, ramp), t0 + duration)
    parts = [times(Schedule(rate, t0, ramp, index=k, count=n), t0 + duration) for k in range(n)]
    union = sorted(t for part in parts for t in part)
    assert union == whole  # exactly: the same float operations for the same request number
    assert len(set(union)) == len(union)
    for k, part in enumerate(parts):
        assert part == whole[k::n]  # every n-th send: no bursts at the joins
        assert all(b > a for a, b in zip(part, part[1:]))


def test_shares_of_workers_and_requests_add_up():
    for n in (1, 3, 4, 7):
        configs = [
            LoadConfig(url=URL, concurrency=10, requests=103, segment_index=k, segment_count=n) for k in range(n)
        ]
        assert sum(c.segment_concurrency for c in configs) == 10
        assert sum(c.segment_requests for c in configs) == 103
    rate = [LoadConfig(url=URL, rate=1000, duration=1, segment_index=k, segment_count=4) for k in range(4)]
    assert [c.segment_rate for c in rate] == [250.0] * 4
    with pytest.raises(LoadConfigError, match="at least as many workers"):
        LoadConfig(url=URL, concurrency=2, duration=1, segment_count=4)
    with pytest.raises(LoadConfigError, match="i/N"):
        LoadConfig(url=URL, rate=10, duration=1, segment_index=4, segment_count=4)


def test_payload_rows_are_disjoint_slices_of_the_same_order():
    rows = bodies("month_005", "user_id", seed=3)
    n = 4
    slices = [
        payload_slice(rows, LoadConfig(url=URL, rate=1, duration=1, segment_index=k, segment_count=n)) for k in range(n)
    ]
    assert sorted(b for s in slices for b in s) == sorted(rows)
    assert sum(len(s) for s in slices) == len(rows)  # disjoint
    if len(rows) % n == 0:  # then request i of the whole run carries the same body in either run
        for i in range(3 * len(rows)):
            assert slices[i % n][(i // n) % len(slices[i % n])] == rows[i % len(rows)]
    assert payload_slice([b""], LoadConfig(url=URL, rate=1, duration=1, segment_index=2, segment_count=4)) == [b""]


# --- merging result files ---------------------------------------------------------------------------


def segment_docs(
    n: int = 4, seed: int = 1, *, start_at: int = 1_800_000_000, per_segment: int = 2_000, **config_changes
) -> tuple[list[tuple[str, dict]], LoadStats]:
    """``n`` synthetic segment documents of one run, and one LoadStats holding every sample of them."""
    rng = random.Random(seed)
    base = LoadConfig(url=URL, rate=400, duration=20, start_at=start_at, segment_count=n)
    single = LoadStats(model="open")
    single.started = start_at
    files = []
    for k in range(n):
        config = replace(base, segment_index=k, **config_changes)
        stats = LoadStats(model="open", target_rate=config.rate)
        stats.wall_offset = 0.0
        stats.started = start_at
        for j in range(per_segment):
            sent = start_at + (k + n * j) / config.rate  # on the schedule (400 req/s, 20 s: 2,000 per segment)
            done = sent + rng.lognormvariate(-6, 1.2)
            status = 200 if rng.random() < 0.97 else 503
            for s in (stats, single):
                s.on_send(sent, sent)
                s.on_done(sent, sent, done, status, None if status == 200 else "http_5xx")
        stats.ended = start_at + 20.5
        files.append((f"seg{k}.json", segments.document(config, stats, run_id="run-a")))
    single.ended = start_at + 20.5
    return files, single


def counts(h: HdrHistogram) -> np.ndarray:
    return np.ctypeslib.as_array(h.counts).copy()


def test_merged_histograms_are_one_histogram_of_every_sample():
    files, single = segment_docs()
    files = [(path, json.loads(json.dumps(doc))) for path, doc in files]  # through JSON, as from disk
    merged = merge.merge(files)
    for kind in ("corrected", "uncorrected"):
        h = HdrHistogram.decode(merged["histograms"][kind])
        one = getattr(single, kind)
        assert np.array_equal(counts(h), counts(one))
        assert (h.get_total_count(), h.get_min_value(), h.get_max_value()) == (
            one.get_total_count(),
            one.get_min_value(),
            one.get_max_value(),
        )
        assert merged["latency_seconds"][kind] == {
            **single.latency_summary(kind == "corrected"),
            **getattr(single.snapshot(), kind),
        }
    assert merged["totals"]["sent"] == single.sent == 4 * 2_000
    assert merged["status_codes"] == dict(sorted(single.status_codes.items()))
    assert merged["segments"]["count"] == 4 and merged["segments"]["merged"] == 4
    assert merged["segments"]["hosts"] == [socket.gethostname()]
    assert merged["partial"] is False
    assert [r["at"] for r in merged["timeline"]] == [1_800_000_000 + s for s in range(len(merged["timeline"]))]
    assert sum(r["sent"] for r in merged["timeline"]) == single.sent
    assert not [w for w in merged["warnings"] if "segment" in w]


def test_timelines_align_by_absolute_second():
    files, _ = segment_docs(2, per_segment=200)
    later, _ = segment_docs(2, seed=2, start_at=1_800_000_003, per_segment=200)
    files = [files[0], later[1]]
    merged = merge.merge(files)
    by_at = {r["at"]: r["sent"] for r in merged["timeline"]}
    expected: dict[int, int] = {}
    for _, doc in files:
        for row in doc["timeline"]:
            expected[row["at"]] = expected.get(row["at"], 0) + row["sent"]
    assert by_at == expected and min(by_at) == 1_800_000_000 and max(by_at) >= 1_800_000_003
    assert any("different seconds (3 s apart)" in w for w in merged["warnings"])


def write(tmp_path: Path, files: list[tuple[str, dict]]) -> list[str]:
    out = []
    for name, doc in files:
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        out.append(str(path))
    return out


def run_merge(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["merge", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_merge_refuses_what_is_not_one_run(tmp_path, capsys):
    files, _ = segment_docs(per_segment=50)
    paths = write(tmp_path, files)

    code, out, err = run_merge(capsys, *paths[:3])
    assert code == 2 and "refused: segment 3/4 missing" in err and out == ""
    code, out, _ = run_merge(capsys, "--allow-missing", "--json", *paths[:3])
    assert code == 0 and "1 of 4 segments missing" in " ".join(json.loads(out)["warnings"])
    assert json.loads(out)["partial"] is True

    code, _, err = run_merge(capsys, *paths, paths[2])
    assert code == 2 and "segment 2/4 given more than once" in err

    other_run = json.loads(json.dumps(files[1][1]))
    other_run["segment"]["run_id"] = "run-b"
    other_target = json.loads(json.dumps(files[1][1]))
    other_target["target"]["url"] = "http://127.0.0.1:10/predict"
    other_rate = json.loads(json.dumps(files[1][1]))
    other_rate["rate"] = 800
    for doc, words in (
        (other_run, "files from different runs"),
        (other_target, "files from different targets"),
        (other_rate, "segments with different loads"),
    ):
        (tmp_path / "odd.json").write_text(json.dumps(doc))
        code, _, err = run_merge(capsys, paths[0], str(tmp_path / "odd.json"), *paths[2:])
        assert code == 2 and words in err, err
        assert len(err.strip().splitlines()) == 1  # one line per problem

    (tmp_path / "plain.json").write_text(json.dumps({k: v for k, v in files[0][1].items() if k != "raw"}))
    (tmp_path / "junk.json").write_text("{not json")
    code, _, err = run_merge(capsys, str(tmp_path / "plain.json"), str(tmp_path / "junk.json"), str(tmp_path / "nope"))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 3
    assert "without its histograms" in lines[0] and "not a readable JSON" in lines[1] and "no such file" in lines[2]


def test_a_checkpoint_says_the_same_in_its_report_as_in_its_raw_counts():
    """A checkpoint is written while requests still finish: its report must not count more than its ``raw``."""
    import threading

    config = LoadConfig(url=URL, rate=1000, duration=60)
    stats = LoadStats(model="open", target_rate=1000)
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            stats.on_send(t, t)
            stats.on_done(t, t, t + 0.001, 200, None)

    writer = threading.Thread(target=record)
    writer.start()
    try:
        docs = [segments.document(config, stats, run_id="r", partial=True, reason="checkpoint") for _ in range(30)]
    finally:
        stop.set()
        writer.join()
    for doc in docs:
        counters = doc["raw"]["counters"]
        assert {k: doc["totals"][k] for k in ("sent", "ok", "errors")} == {
            k: counters[k] for k in ("sent", "ok", "errors")
        }
        assert sum(row["ok"] for row in doc["timeline"]) == counters["ok"]


def test_merge_warns_about_partial_segments_and_prints_text(tmp_path, capsys):
    files, _ = segment_docs(per_segment=50)
    files[1][1]["partial"] = True
    files[1][1]["partial_reason"] = "stopped by SIGTERM 3.0 s into the run of 20 s"
    code, out, _ = run_merge(capsys, *write(tmp_path, files))
    assert code == 0
    assert "Merged      4 of 4 segments from 1 host" in out
    assert "segment 1/4" in out and "is partial: stopped by SIGTERM" in out


def test_client_latency_buckets_are_counted_from_the_hdr_histogram():
    from prometheus_client import CollectorRegistry, generate_latest

    from loadgen.metrics import LoadCollector

    stats = LoadStats(model="open", target_rate=100)
    for seconds, status, error in ((0.0004, 200, None), (0.003, 200, None), (0.02, 503, "http_5xx"), (12.0, 200, None)):
        stats.on_send(0.0, 0.0)
        stats.on_done(0.0, 0.0, seconds, status, error)
    stats.on_send(0.0, 0.0)
    stats.on_done(0.0, 0.0, 0.001, None, "connect_refused")
    stats.on_send(0.0, 0.0)  # in flight
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoadCollector(stats, "2/4", "run-a", "h", 25.0))
    parsed = samples(generate_latest(registry).decode())

    def bucket(le: str) -> float:
        return value(parsed, "streamflow_load_latency_seconds_bucket", segment="2/4", kind="corrected", le=le)

    assert [bucket(le) for le in ("0.0005", "0.001", "0.005", "0.01", "0.025", "10.0", "+Inf")] == [1, 1, 2, 2, 3, 3, 4]
    assert value(parsed, "streamflow_load_latency_seconds_sum", segment="2/4", kind="corrected") == pytest.approx(
        12.0234, rel=1e-3
    )
    assert total(parsed, "streamflow_load_requests_total", segment="2/4", status="success") == 3
    assert value(parsed, "streamflow_load_requests_total", segment="2/4", status="error", code="503") == 1
    assert value(parsed, "streamflow_load_requests_total", segment="2/4", status="error", code="connect_refused") == 1
    assert value(parsed, "streamflow_load_sent_total", segment="2/4") == 6
    assert value(parsed, "streamflow_load_in_flight", segment="2/4") == 1
    assert value(parsed, "streamflow_load_target_rate", segment="2/4") == 25


@pytest.mark.parametrize("layout", [(1, 300_000_000, 3), (1, 3_600_000_000, 2), (1000, 10**9, 3), (1, 10**6, 4)])
def test_the_vectorised_hdr_layout_is_hdrhs(layout):
    from loadgen import hdr_read

    h = HdrHistogram(*layout)
    values = [h.get_value_from_index(i) for i in range(h.counts_len)]
    high, median = hdr_read._layout(*layout)
    assert high.tolist() == [float(h.get_highest_equivalent_value(v)) for v in values]
    assert median.tolist() == [float(h._hdr_median_equiv_value(v)) for v in values]


# --- real segment processes against the bundled API --------------------------------------------------


@pytest.fixture(scope="module")
def api():
    with running_api() as url:
        yield url


def predict_count(api: str) -> float:
    return total(samples(httpx.get(api + "/metrics").text), "api_requests_total", endpoint="/predict")


def load_cmd(api: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "loadgen.cli", "--url", api, "--no-progress", *args]


def test_four_segment_processes_merge_to_the_apis_own_count(api, tmp_path, capsys):
    before = predict_count(api)
    start = math.ceil(time.time() + 5)  # a common start: time for four interpreters to come up
    # Four ways to say which segment: i/N, k6's start:end, and an Indexed Job's $JOB_COMPLETION_INDEX.
    which = [["--segment", "0/4"], ["--segment", "0.25:0.5"], ["--segment-count", "4"], ["--segment", "3/4"]]
    common = ["--rate", "200", "--duration", "3", "--start-at", str(start), "--json"]
    env = {**os.environ, "JOB_COMPLETION_INDEX": "2"}
    procs = [
        subprocess.Popen(
            load_cmd(api, *common, *which[k], "--output", str(tmp_path / f"seg{k}.json")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for k in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    docs = [json.loads((tmp_path / f"seg{k}.json").read_text()) for k in range(4)]
    code, out, err = run_merge(capsys, "--json", *(str(tmp_path / f"seg{k}.json") for k in range(4)))
    assert code == 0, err
    merged = json.loads(out)
    after = predict_count(api)

    for k, doc in enumerate(docs):
        assert doc["partial"] is False and doc["segment"]["index"] == k and doc["segment"]["start_at"] == start
        t = doc["totals"]
        assert t["sent"] + t["not_sent"] == 150  # every 4th of the 600 sends the schedule has in 3 s
        assert t["sent"] == t["ok"] + t["errors"] + t["cancelled"]
    t = merged["totals"]
    assert t["sent"] == sum(d["totals"]["sent"] for d in docs)
    assert t["sent"] + t["not_sent"] == 600
    assert t["ok"] == sum(d["totals"]["ok"] for d in docs)
    assert t["ok"] + t["errors"] - t["no_answer"] == after - before  # the API counted every answer, once
    assert merged["segments"]["merged"] == 4 and merged["segments"]["hosts"] == [socket.gethostname()]
    assert not [w for w in merged["warnings"] if "segment" in w or "seconds" in w], merged["warnings"]

    # The merged histogram is one histogram of every segment's samples.
    one = new_histogram()
    for doc in docs:
        one.add(HdrHistogram.decode(doc["raw"]["histograms"]["corrected"]))
    h = HdrHistogram.decode(merged["histograms"]["corrected"])
    assert np.array_equal(counts(h), counts(one)) and h.get_total_count() == t["ok"] + t["errors"] - t["no_answer"]
    single = LoadStats(model="open")
    single.corrected = one
    assert {k: merged["latency_seconds"]["corrected"][k] for k in ("p50", "p95", "p99")} == {
        k: single.snapshot().corrected[k] for k in ("p50", "p95", "p99")
    }

    # Timelines: absolute seconds from the common start, each second the sum of the segments' seconds.
    rows = merged["timeline"]
    assert rows[0]["at"] == start and [r["at"] for r in rows] == list(range(start, start + len(rows)))
    for row in rows:
        assert row["sent"] == sum(r["sent"] for d in docs for r in d["timeline"] if r["at"] == row["at"])
    assert sum(r["sent"] for r in rows) == t["sent"]


def test_processes_are_segments_of_one_schedule(api, tmp_path):
    out = tmp_path / "run.json"
    result = subprocess.run(
        load_cmd(api, "--rate", "100", "--duration", "2", "--processes", "2", "--output", str(out), "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    t = doc["totals"]
    assert t["sent"] + t["not_sent"] == 200 and t["sent"] == t["ok"] + t["errors"] + t["cancelled"]
    assert doc["segment"]["count"] == 1 and doc["partial"] is False
    assert doc["segment"]["start_at"] == doc["timeline"][0]["at"]  # the whole second both processes started on
    assert HdrHistogram.decode(doc["raw"]["histograms"]["corrected"]).get_total_count() == t["ok"] + t["errors"]


def test_a_segment_stopped_mid_run_leaves_a_partial_result(api, tmp_path):
    out = tmp_path / "seg1.json"
    proc = subprocess.Popen(
        load_cmd(api, "--rate", "40", "--duration", "60", "--segment", "1/2", "--output", str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The file is checkpointed while the run goes on: a SIGKILL would leave this one.
        checkpoint = wait_until(
            lambda: out.exists() and json.loads(out.read_text()), 30, "a checkpoint of the result file"
        )
        assert checkpoint["partial"] is True and "checkpoint" in checkpoint["partial_reason"]
        wait_until(lambda: json.loads(out.read_text())["totals"]["ok"] > 0, 30, "answers in the checkpoint")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = json.loads(out.read_text())
    t = doc["totals"]
    assert doc["partial"] is True and doc["partial_reason"].startswith("stopped by SIGTERM")
    assert "of 60 s" in doc["partial_reason"]
    assert t["sent"] == t["ok"] + t["errors"] + t["cancelled"] and t["ok"] > 0


def test_a_killed_segment_leaves_its_last_checkpoint_marked_partial(api, tmp_path, capsys):
    out = tmp_path / "seg0.json"
    proc = subprocess.Popen(
        load_cmd(api, "--rate", "40", "--duration", "60", "--segment", "0/2", "--output", str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: out.exists() and json.loads(out.read_text())["totals"]["ok"] > 0, 30, "answers in a checkpoint"
        )
        proc.kill()  # no handler runs: what is on disk is all that is left
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = json.loads(out.read_text())
    assert doc["partial"] is True and "ended before its final write" in doc["partial_reason"]
    assert HdrHistogram.decode(doc["raw"]["histograms"]["corrected"]).get_total_count() > 0
    code, text, _ = run_merge(capsys, "--allow-missing", "--json", str(out))
    report = json.loads(text)
    assert code == 0 and report["partial"] is True and report["segments"]["partial"] == ["0/2"]
    assert any("is partial" in w and "checkpoint" in w for w in report["warnings"])
    assert report["totals"]["ok"] == doc["totals"]["ok"]


def test_metrics_port_serves_the_segments_client_metrics(api, tmp_path):
    port = free_port()
    out = tmp_path / "seg.json"
    metrics = ["--metrics-port", str(port), "--metrics-linger", "60"]
    proc = subprocess.Popen(
        load_cmd(api, "--rate", "60", "--duration", "3", "--segment", "1/2", "--output", str(out), *metrics),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape() -> dict | None:
        try:
            return samples(httpx.get(url, timeout=2).text)
        except httpx.HTTPError:
            return None

    try:
        live = wait_until(
            lambda: (s := scrape()) and value(s, "streamflow_load_sent_total", segment="1/2") > 0 and s,
            30,
            "sends counted on the metrics port",
        )
        families = {f.name for f in text_string_to_metric_families(httpx.get(url).text)}
        assert {"streamflow_load_requests", "streamflow_load_latency_seconds", "streamflow_load_in_flight"} <= families
        assert (
            value(
                live, "streamflow_load_segment_info", segment="1/2", run_id=info_run_id(live), host=socket.gethostname()
            )
            == 1
        )
        wait_until(lambda: out.exists() and not json.loads(out.read_text())["partial"], 30, "the final result file")
        doc = json.loads(out.read_text())
        final = scrape()
        assert final is not None
        t = doc["totals"]
        assert value(final, "streamflow_load_sent_total", segment="1/2") == t["sent"]
        assert total(final, "streamflow_load_requests_total", segment="1/2") == t["ok"] + t["errors"]
        assert total(final, "streamflow_load_requests_total", segment="1/2", status="success", code="200") == t["ok"]
        assert value(final, "streamflow_load_late_sends_total", segment="1/2") == t["late"]
        answered = t["ok"] + t["errors"] - t["no_answer"]
        assert value(final, "streamflow_load_latency_seconds_count", segment="1/2", kind="corrected") == answered
        assert (
            value(final, "streamflow_load_latency_seconds_bucket", segment="1/2", kind="corrected", le="+Inf")
            == answered
        )
        assert value(final, "streamflow_load_in_flight", segment="1/2") == 0
        assert value(final, "streamflow_load_target_rate", segment="1/2") == 30
        proc.send_signal(signal.SIGTERM)  # ends the linger
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_processes_serve_one_metrics_port_each(api):
    """``--processes 2 --metrics-port P``: process i serves segment i/2 on P + i, and the two ports' final
    counts add up to the merged report."""
    port = free_port()
    while not port_is_free(port + 1):
        port = free_port()
    args = ["--rate", "60", "--duration", "3", "--processes", "2", "--json"]
    proc = subprocess.Popen(
        load_cmd(api, *args, "--metrics-port", str(port), "--metrics-linger", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def scrape(p: int) -> dict | None:
        try:
            return samples(httpx.get(f"http://127.0.0.1:{p}/metrics", timeout=2).text)
        except httpx.HTTPError:
            return None

    try:
        for k in (0, 1):
            wait_until(
                lambda k=k: (s := scrape(port + k)) and value(s, "streamflow_load_sent_total", segment=f"{k}/2") > 0,
                30,
                f"segment {k}/2 counting sends on port {port + k}",
            )
        assert proc.stdout is not None
        report = json.loads(read_json_document(proc.stdout))  # printed after the run, while the ports linger
        finals = [scrape(port + k) for k in (0, 1)]
        assert all(finals), "both ports still serve during the linger"
        sent = [value(f, "streamflow_load_sent_total", segment=f"{k}/2") for k, f in enumerate(finals)]
        assert sum(sent) == report["totals"]["sent"] == 180 and min(sent) == 90
        answered = sum(total(f, "streamflow_load_requests_total", segment=f"{k}/2") for k, f in enumerate(finals) if f)
        assert answered == report["totals"]["ok"] + report["totals"]["errors"]
        proc.send_signal(signal.SIGTERM)  # ends the linger, and the children's servers with it
        assert proc.wait(timeout=20) == 0
        wait_until(lambda: scrape(port) is None and scrape(port + 1) is None, 15, "both ports closed")
    finally:
        if proc.poll() is None:
            proc.kill()


def read_json_document(stream) -> str:
    """One indented JSON document from a stream that stays open: its lines up to the closing brace."""
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip("\n") == "}":
            break
    return "".join(lines)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_taken_metrics_port_is_a_clear_error(api):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for extra in ([], ["--processes", "2"]):
            result = subprocess.run(
                load_cmd(api, "--rate", "10", "--duration", "2", "--metrics-port", str(port), *extra),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 2, (extra, result.stderr)
            assert f"--metrics-port {port}" in result.stderr and "in use" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr


def info_run_id(parsed: dict) -> str:
    """The run id the info series carries (whatever it is)."""
    for (name, labels), _ in parsed.items():
        if name == "streamflow_load_segment_info":
            return dict(labels)["run_id"]
    return ""


def test_cli_segment_usage_errors():
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX"}
        return subprocess.run(load_cmd(URL, *args), capture_output=True, text=True, timeout=60, env=env)

    for args, words in (
        (["--rate", "10", "--segment", "5/4"], "below N"),
        (["--rate", "10", "--segment-count", "4"], "JOB_COMPLETION_INDEX"),
        (["--rate", "10", "--segment", "0/4", "--processes", "2"], "not both"),
        (["--rate", "10", "--processes", "4", "--metrics-port", "65534"], "room for 4 port(s)"),
        (["--rate", "10", "--start-at", "1000"], "already passed"),
        (["--concurrency", "2", "--segment", "0/4"], "at least as many workers"),
    ):
        result = run(*args)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
