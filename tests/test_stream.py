"""``streamflow-load --stream`` (#29) against the scripted SSE server (tests/sse_server.py): token timing
against a known schedule, a 5 s stall, lossless segments, flat memory over a million tokens, bad answers."""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from dataclasses import replace

import httpx
import numpy as np
import pytest
from conftest import free_port
from hdrh.histogram import HdrHistogram
from prometheus_client.parser import text_string_to_metric_families
from sse_server import Script, sse_server
from waiting import wait_until

from loadgen import LoadConfig, LoadRunner, cli, merge, metrics, report, segments
from loadgen.prompts import PromptError, StreamOptions, bodies, read_prompts
from loadgen.stats import LoadStats


def stream_config(url: str, api: str = "chat", max_tokens: int = 9, **load) -> LoadConfig:
    options = StreamOptions(api=api, max_tokens=max_tokens, prompt_tokens=16)
    path = "/v1/chat/completions" if api == "chat" else "/v1/completions"
    return LoadConfig(url=url + path, payload="none", stream=options, timeout=load.pop("timeout", 10.0), **load)


def run(config: LoadConfig) -> tuple[LoadStats, dict]:
    runner = LoadRunner(config).start()
    runner.wait(timeout=120)
    assert not runner.running, "the run stops by itself"
    return runner.stats, report.build(config, runner.stats)


def ms(seconds: float | None) -> float:
    assert seconds is not None
    return seconds * 1e3


# --- token timing against the schedule -----------------------------------------------------------------

# Token k+1 comes GAPS[k % 3] after token k: of 9 tokens' 8 gaps, 2 are 20 ms and 6 are 60 ms. Wide apart,
# so that a few ms of scheduling noise on a busy machine (two processes' timers) cannot blur the two groups.
GAPS = (0.020, 0.060, 0.060)


@pytest.fixture(scope="module")
def scheduled():
    with sse_server(Script(ttft=0.1, gaps=GAPS, timings="vllm")) as url:
        yield url


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_ttft_and_itl_follow_the_servers_schedule(scheduled, api):
    stats, r = run(stream_config(scheduled, api, concurrency=8, requests=16, duration=60))
    st = r["stream"]
    assert r["totals"]["ok"] == 16 and r["error_kinds"] == {}
    assert st["streams"] == 16 and st["tokens"] == 16 * 9  # the role and finish chunks are not tokens
    assert st["completion_tokens"] == 16 * 9 and st["usage_reported"] == 16
    assert st["tokens_per_request"]["p50"] == 9 and st["tokens_per_request"]["max"] == 9
    ttft = st["ttft_seconds"]["uncorrected"]
    # 100 ms, plus the loopback and the timers; less by at most a tick: uvloop's timers run on a clock read in ms
    assert 98.5 <= ms(ttft["min"]) and ms(ttft["p50"]) <= 115, ttft
    itl = stats.stream.hist["itl"]
    assert itl.get_total_count() == 16 * 8
    # A quarter of the gaps are 20 ms, the rest 60 ms: the 15th percentile is in the first group, the 40th in
    # the second (not the 25th/26th: a token a few ms late on a busy machine shortens the gap after it).
    assert 15 <= itl.get_value_at_percentile(15) / 1e3 <= 30, itl.get_value_at_percentile(15)
    assert 45 <= itl.get_value_at_percentile(40) / 1e3 <= 75, itl.get_value_at_percentile(40)
    assert 55 <= ms(st["itl_seconds"]["uncorrected"]["p50"]) <= 66
    # e2e: the TTFT and eight gaps (6 × 60 + 2 × 20 = 400 ms), to the end of the stream.
    e2e = st["e2e_seconds"]["uncorrected"]
    assert 498 <= ms(e2e["p50"]) <= 525, e2e
    # The server's split (vLLM's metrics: queue 30 %, prefill 50 % of the 100 ms): network is what remains.
    split = st["ttft_split"]
    assert split["available"] and split["sources"] == {"vllm metrics": 16}
    assert ms(split["queue_seconds"]["p50"]) == pytest.approx(30, rel=1e-3)
    assert ms(split["prefill_seconds"]["p50"]) == pytest.approx(50, rel=1e-3)
    assert 19.5 <= ms(split["network_seconds"]["p50"]) <= 30
    text = report.render(r)
    assert "TTFT corr" in text and "vllm metrics: 16" in text


def test_open_model_streams_and_the_split_is_said_unavailable(bad_server):
    stats, r = run(stream_config(bad_server, "completions", rate=20, duration=1.5, max_tokens=5))
    st = r["stream"]
    assert r["totals"]["sent"] == r["totals"]["ok"] == 30 and st["tokens"] == 150
    assert st["tokens_per_s"] == pytest.approx(150 / r["elapsed_s"])
    assert st["ttft_split"] == {"available": False, "note": st["ttft_split"]["note"]}
    assert "not available" in st["ttft_split"]["note"] and "not available" in report.render(r)


# --- a 5 s stall: corrected TTFT against the analytic value --------------------------------------------


def hdr_p(values: list[float], p: float) -> float:
    """The value at percentile p of ``values`` by HDR's rank rule (hdr_read.percentiles)."""
    ordered = sorted(values)
    return ordered[max(1, int(p * len(ordered) / 100 + 0.5)) - 1]


def test_a_five_second_stall_shows_in_corrected_ttft_as_the_schedule_predicts():
    rate, duration, ttft, stall_at, stall = 20.0, 8.0, 0.02, 1.0, 5.0
    with sse_server(Script(ttft=ttft, gaps=(0.002,), stall_at=stall_at, stall_for=stall)) as url:
        # Two requests in flight at most: the ones due in the stall wait for a slot, and go out late.
        stats, r = run(stream_config(url, rate=rate, duration=duration, max_in_flight=2, max_tokens=4, timeout=30))
    # Analytic: request i is due at i/R; the server holds every token due in [1 s, 6 s) (from its first
    # request) until 6 s, so a first token due then comes at 6 s + (TTFT for those sent after the stall).
    end = stall_at + stall
    analytic = [
        end + ttft - i / rate if stall_at <= i / rate + ttft < end else ttft for i in range(int(rate * duration))
    ]
    expected = hdr_p(analytic, 99)
    assert expected == pytest.approx(4.92)
    st = r["stream"]
    assert r["totals"]["ok"] == int(rate * duration) and st["streams"] == int(rate * duration)
    assert st["ttft_seconds"]["corrected"]["p99"] == pytest.approx(expected, rel=0.05)
    # Measured from the actual send, the stall hides: only the two requests caught in it saw it.
    assert st["ttft_seconds"]["uncorrected"]["p99"] < 0.5
    assert r["totals"]["late"] >= 90 and r["fell_behind"]


# --- segments and merge ----------------------------------------------------------------------------------


def test_segments_merge_the_stream_histograms_without_loss(scheduled, tmp_path):
    start_at = float(math.ceil(time.time() + 1))
    base = stream_config(scheduled, rate=16, duration=2, max_tokens=6)
    runners = [LoadRunner(replace(base, segment_index=k, segment_count=2, start_at=start_at)).start() for k in range(2)]
    files = []
    for k, runner in enumerate(runners):
        runner.wait(timeout=60)
        doc = segments.document(runner.config, runner.stats, run_id="stream-run")
        path = tmp_path / f"seg{k}.json"
        segments.write_atomic(path, doc)
        files.append((str(path), merge.load(str(path))))  # through JSON, as from disk
    merged = merge.merge(files)
    st = merged["stream"]
    for name, encoded in st["histograms"].items():
        one = HdrHistogram.decode(files[0][1]["raw"]["stream"]["histograms"][name])
        one.add(HdrHistogram.decode(files[1][1]["raw"]["stream"]["histograms"][name]))
        h = HdrHistogram.decode(encoded)
        assert np.array_equal(np.ctypeslib.as_array(h.counts), np.ctypeslib.as_array(one.counts)), name
        assert h.get_total_count() == one.get_total_count()
    itl = HdrHistogram.decode(st["histograms"]["itl"])
    assert itl.get_total_count() == 32 * 5 and st["tokens"] == 32 * 6
    assert st["streams"] == sum(f[1]["stream"]["streams"] for f in files) == 32
    assert st["ttft_seconds"]["corrected"]["p99"] == pytest.approx(
        HdrHistogram.decode(st["histograms"]["ttft_corrected"]).get_value_at_percentile(99) / 1e6, rel=1e-9
    )
    assert st["settings"]["max_tokens"] == 6
    # A plain run's segment is not the same run: refused, with the stream settings named.
    plain = json.loads(json.dumps(files[1][1]))
    del plain["stream"]
    with pytest.raises(merge.MergeRefused, match="stream settings"):
        merge.merge([files[0], ("plain.json", plain)])


# --- memory -------------------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def test_memory_stays_flat_over_a_million_tokens():
    # 10,000 tokens a stream, written 100 to a write (reads split events anywhere: the tail code runs).
    with sse_server(Script(ttft=0.001, gaps=(0.0005,), batch=100, tokens=10_000)) as url:
        run(stream_config(url, concurrency=4, requests=8, duration=60))  # warm: allocator pools, imports
        config = stream_config(url, concurrency=4, requests=100, duration=120, max_tokens=10_000)
        runner = LoadRunner(config).start()
        wait_until(lambda: runner.stats.stream.tokens >= 200_000 or not runner.running, 60, "200,000 tokens")
        early = rss_mb()
        runner.wait(timeout=120)
        late = rss_mb()
    st = report.build(config, runner.stats)["stream"]
    assert st["tokens"] == 1_000_000 and st["streams"] == 100
    assert runner.stats.stream.hist["itl"].get_total_count() == 100 * 9_999
    # A list of a float per token would be ~25 MB for the last 800,000; the bound leaves room for noise.
    assert late - early < 8, (early, late)


# --- bad answers ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_server():
    with sse_server(Script(ttft=0.005, gaps=(0.002,))) as url:
        yield url


@pytest.mark.parametrize(
    "prefix, kind, status, tokens",
    [
        ("not-sse", "not_sse", "200", 0),
        ("status-503", "http_5xx", "503", 0),
        ("status-429", "http_4xx", "429", 0),
        ("cut-3", "stream_cut", "200", 3),  # the connection closes mid-stream
        ("nodone-4", "stream_cut", "200", 4),  # the body ends without data: [DONE]
        ("error-2", "stream_error", "200", 2),
    ],
)
def test_bad_answers_are_counted_by_kind(bad_server, prefix, kind, status, tokens):
    stats, r = run(stream_config(f"{bad_server}/{prefix}", "completions", concurrency=2, requests=6, duration=30))
    assert r["totals"] == {**r["totals"], "sent": 6, "ok": 0, "errors": 6, "cancelled": 0, "no_answer": 0}
    assert r["error_kinds"] == {kind: 6} and r["status_codes"] == {status: 6}
    st = r["stream"]
    assert st["streams"] == 0 and st["tokens"] == 6 * tokens
    assert st["ttft_seconds"]["uncorrected"]["count"] == (6 if tokens else 0)
    assert st["e2e_seconds"]["uncorrected"]["count"] == 0
    assert f"{kind}: 6" in report.render(r)
    said = [w for w in r["warnings"] if "not an event stream" in w]
    assert len(said) == (1 if kind == "not_sse" else 0), r["warnings"]


def test_streams_without_tokens_are_warned_about(bad_server):
    stats, r = run(stream_config(f"{bad_server}/tokens-0", concurrency=2, requests=4, duration=30))
    assert r["totals"]["ok"] == 4 and r["stream"]["tokens"] == 0 and r["stream"]["streams"] == 4
    assert r["stream"]["ttft_seconds"]["corrected"]["count"] == 0  # no token: no TTFT, not a TTFT of 0
    assert any("no token" in w for w in r["warnings"]), r["warnings"]
    stats, r = run(stream_config(f"{bad_server}/tokens-3", concurrency=2, requests=4, duration=30))
    assert r["stream"]["tokens"] == 12 and not r["warnings"]


def test_a_refused_port_is_no_answer():
    with sse_server(Script()) as url:
        pass  # the server is gone: its port refuses
    stats, r = run(stream_config(url, concurrency=1, requests=3, duration=10))
    assert r["error_kinds"] == {"connect_refused": 3} and r["totals"]["no_answer"] == 3
    assert r["stream"]["tokens"] == 0


# --- prompts and the command line --------------------------------------------------------------------------


def test_prompts_from_jsonl_and_generated(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "hi there"}\n\n{"messages": [{"role": "user", "content": "yo"}]}\n')
    chat = read_prompts(str(path), "chat")
    assert chat == [
        {"messages": [{"role": "user", "content": "hi there"}]},
        {"messages": [{"role": "user", "content": "yo"}]},
    ]
    with pytest.raises(PromptError, match="line 3: messages need the chat endpoint"):
        read_prompts(str(path), "completions")
    path.write_text('{"prompt": "a"}\n{"text": 1}\n')
    with pytest.raises(PromptError, match="line 2"):
        read_prompts(str(path), "completions")
    options = StreamOptions(api="completions", max_tokens=33, model="m", prompt_tokens=50, prompt_tokens_stddev=10)
    docs = [json.loads(b) for b in bodies(options, seed=3)]
    assert all(d["max_tokens"] == 33 and d["stream"] is True and d["model"] == "m" for d in docs)
    lengths = [len(d["prompt"].split()) for d in docs]
    assert 48 <= np.mean(lengths) <= 52 and 8 <= np.std(lengths) <= 12 and min(lengths) >= 1
    assert bodies(options, seed=3) == bodies(options, seed=3) != bodies(options, seed=4)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--prompts", "x.jsonl"], "only apply with --stream"),
        (["--stream", "--url", "http://127.0.0.1:9/predict"], "/v1/completions or /v1/chat/completions"),
        (["--stream", "--payload", "features"], "--payload"),
        (["--stream", "--prompt-tokens", "ten"], "MEAN or MEAN:STDDEV"),
        (["--stream", "--max-tokens", "0"], "--max-tokens"),
    ],
)
def test_cli_stream_usage_errors(args, words):
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", *args, "--requests", "1"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr


def test_cli_stream_json(bad_server):
    args = cli.build_parser().parse_args(["--url", bad_server, "--stream", "--requests", "4", "-c", "2"])
    config = cli.config_from_args(args)
    assert config.url.endswith("/v1/chat/completions") and config.timeout == 60 and config.method == "POST"
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "--url", bad_server, "--stream", "--requests", "4", "-c", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "streamflow.load/1" and doc["stream"]["streams"] == 4
    assert doc["stream"]["settings"]["prompts"] == {"generated_tokens_mean": 64.0, "generated_tokens_stddev": 0.0}


def test_the_metrics_port_serves_tokens_ttft_and_itl(bad_server):
    config = stream_config(bad_server, concurrency=2, requests=6, duration=30, max_tokens=5)
    runner = LoadRunner(config)
    port = free_port()
    server = metrics.serve(
        runner.stats, port=port, host="127.0.0.1", segment="0/1", run_id="r", hostname="h", rate=None
    )
    try:
        runner.start().wait(timeout=60)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    seg = (("segment", "0/1"),)
    assert values[("streamflow_load_tokens_total", seg)] == 30
    assert values[("streamflow_load_streams_total", seg)] == 6
    assert values[("streamflow_load_ttft_seconds_count", (("kind", "corrected"), *seg))] == 6
    assert values[("streamflow_load_itl_seconds_count", seg)] == 6 * 4
    # The scripted gaps are 2 ms: every one is under the 250 ms bucket's bound (room for a busy machine).
    assert values[("streamflow_load_itl_seconds_bucket", (("le", "0.25"), *seg))] == 24
