"""LLM engines read with no flags (#29): vLLM's naming eras (1, 2, and a body with both), SGLang and TGI, served
gzipped by a real server, growing; their TTFT/ITL quantiles against a textbook interpolation and against a real
Prometheus's histogram_quantile on the same samples; the bounds against a known distribution; ``--once --json``."""

from __future__ import annotations

import functools
import io
import json
import math
import statistics
import threading
import time
from contextlib import ExitStack

import pytest
from exposition_server import exposition_server
from llm_fixtures import TPOT_BUCKETS, TTFT_BUCKETS, Sglang, Vllm
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_server import query, running_prometheus
from test_foreign_expositions import load, samples, textbook_quantile
from waiting import wait_until

from streamflow_tui import cli, once
from streamflow_tui.core.exposition import ParsedScrape
from streamflow_tui.core.llm import from_prometheus, goodput
from streamflow_tui.core.llm_presets import recognise
from streamflow_tui.core.llm_report import llm_json, naming_llm
from streamflow_tui.core.prometheus import PrometheusClient, PrometheusSource
from streamflow_tui.core.scrape import ScrapeSource

# case -> (engine, era, the ITL family read, the KV family read, deprecated duplicates left unread)
CASES = {
    "vllm_era1": ("vllm", "1", "vllm:time_per_output_token_seconds", "vllm:gpu_cache_usage_perc", []),
    "vllm_mixed": (
        "vllm",
        "mixed",
        "vllm:time_per_output_token_seconds",
        "vllm:kv_cache_usage_perc",
        ["vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache_hits_total", "vllm:gpu_prefix_cache_queries_total"],
    ),
    "vllm_era2": (
        "vllm",
        "2",
        "vllm:inter_token_latency_seconds",
        "vllm:kv_cache_usage_perc",
        ["vllm:time_per_output_token_seconds_bucket"],
    ),
    "vllm": ("vllm", "2", None, "vllm:kv_cache_usage_perc", []),  # 0.33's abridged fixture: no ITL family in it
    "sglang": ("sglang", None, "sglang:inter_token_latency_seconds", "sglang:token_usage", []),
    "tgi": ("tgi", None, "tgi_request_mean_time_per_token_duration", None, []),
    "triton_trtllm": ("trtllm", None, None, "nv_trt_llm_kv_cache_block_metrics", []),
}


@pytest.fixture(scope="module")
def server():
    with exposition_server(gzip=True) as s:
        yield s


def two_scrapes(server, case: str, first: str, second: str):
    server.set(case, first)
    source = ScrapeSource(server.target(case), history_points=10)
    try:
        assert source.poll().up, source.status.error
        time.sleep(0.05)
        server.set(case, second)
        assert source.poll().up, source.status.error
        span = source.span_seconds()
        return source.snapshot(span), span
    finally:
        source.close()


def delta_buckets(first: str, second: str, base: str, model: str | None) -> list[tuple[float, float]]:
    a, b = samples(first), samples(second)
    by_le: dict[float, float] = {}
    for (name, labels), value in b.items():
        lab = dict(labels)
        if name == base + "_bucket" and (model is None or lab.get("model_name") == model):
            le = float(lab["le"])
            by_le[le] = by_le.get(le, 0.0) + value - a.get((name, labels), 0.0)
    return sorted(by_le.items())


def delta_of(first: str, second: str, name: str) -> float:
    a, b = samples(first), samples(second)
    return sum(v - a.get(k, 0.0) for k, v in b.items() if k[0] == name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_and_era_recognised_with_no_flags(case, server):
    engine, era, itl, kv, ignored = CASES[case]
    _, first, second = load(case)
    snap, span = two_scrapes(server, case, first, second)
    llm = snap.llm
    assert llm is not None and llm.spec.engine == engine and (llm.spec.era or None) == era
    assert llm.spec.itl == itl and llm.spec.kv_usage == kv
    assert list(llm.spec.ignored) == ignored
    naming = naming_llm(llm)
    assert naming["engine"] == engine and naming["era"] == era
    assert server.encodings[-1] == "gzip"
    doc = llm_json(llm)
    assert doc is not None
    for m in llm.models:
        model = None if m.model in ("", "*") else m.model
        for role in ("ttft", "itl", "e2e", "queue"):
            base = llm.spec.metric(role)
            lat = m.of(role)
            if base is None:
                assert lat is None and llm.spec.reason(role)
                continue
            buckets = delta_buckets(first, second, base, model)
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                est = lat.quantile(key)
                want = textbook_quantile(q, buckets)
                assert est.value == pytest.approx(want, rel=1e-9), (role, key)
                assert est.lower <= est.value <= est.upper, (role, key, est)
        if model is None and m.model == "*":
            continue
        if llm.spec.generation_tokens:
            want = delta_of(first, second, llm.spec.generation_tokens) if model is None else None
            if want is not None:
                assert m.generation_tokens_per_s == pytest.approx(want / span, rel=1e-6)
        if llm.spec.prefix_hits and model is None:
            hits = delta_of(first, second, llm.spec.prefix_hits)
            queries = delta_of(first, second, llm.spec.prefix_queries)
            assert m.prefix_hit_ratio == pytest.approx(hits / queries, rel=1e-6)
    if engine == "tgi":
        row = doc["models"][0]
        # What TGI does not expose is null with the reason, never 0.
        assert row["ttft_seconds"]["p50"] is None and row["ttft_seconds"]["reason"].startswith("not exposed by TGI")
        assert row["kv_cache_usage"] == {
            "value": None,
            "metric": None,
            "reason": "not exposed by TGI (no KV-cache gauge)",
        }
        assert row["preemptions_per_s"]["value"] is None and "TGI" in row["preemptions_per_s"]["reason"]
        assert row["itl_seconds"]["kind"] == "tpot" and row["itl_seconds"]["p95"]["value"] > 0
    if engine == "trtllm":
        # Gauges only: the active requests, and KV usage as used / max blocks, of the second body.
        row = next(r for r in doc["models"] if r["model"] == "tensorrt_llm")
        assert row["requests_running"]["value"] == 17 and row["requests_running"]["note"] == "request_type=active"
        assert row["kv_cache_usage"]["value"] == pytest.approx(3427 / 6200)
        assert row["requests_waiting"] == {
            "value": None,
            "metric": "nv_trt_llm_request_metrics",
            "reason": "no data in the window",
            "note": "request_type=waiting (newer backends; else no data)",
        }
        assert row["ttft_seconds"]["reason"].startswith("not exposed by Triton's TensorRT-LLM backend")


def test_vllm_eras_read_the_same_numbers():
    """One stream of requests rendered in each naming era: the same quantiles and ratios whatever the names."""
    seen = {}
    for era in ("1", "mixed", "2"):
        engine = Vllm(era)
        engine.serve(50)
        first = engine.body()
        engine.serve(80)
        second = engine.body()
        source = ScrapeSource("http://unused", history_points=5)
        source.ingest(ParsedScrape.from_text(1_000_000, first))
        source.ingest(ParsedScrape.from_text(1_010_000, second))
        m = source.snapshot(10).llm.models[0]
        seen[era] = (
            m.of("ttft").p95.value,
            m.of("itl").p99.value,
            m.generation_tokens_per_s,
            m.kv_usage,
            m.running,
        )
    assert seen["1"] == seen["mixed"] == seen["2"]


def known_stream(n: int = 20000):
    """Deterministic observations at the quantiles of lognormal distributions: their exact quantiles are known."""
    ttft = statistics.NormalDist(math.log(0.15), 0.9)
    itl = statistics.NormalDist(math.log(0.035), 0.4)
    ttft_values = [math.exp(ttft.inv_cdf((i + 0.5) / n)) for i in range(n)]
    itl_values = [math.exp(itl.inv_cdf((i + 0.5) / n)) for i in range(n)]
    return ttft, itl, ttft_values, itl_values


def test_bounds_contain_the_exact_quantiles_of_a_known_distribution(server):
    ttft, itl, ttft_values, itl_values = known_stream()
    reg = CollectorRegistry()
    ln = ["model_name", "engine"]
    h_ttft = Histogram("vllm:time_to_first_token_seconds", "TTFT", ln, buckets=TTFT_BUCKETS, registry=reg)
    h_itl = Histogram("vllm:inter_token_latency_seconds", "ITL", ln, buckets=TPOT_BUCKETS, registry=reg)
    h_ttft.labels("m", "0"), h_itl.labels("m", "0")
    first = generate_latest(reg).decode()
    for v in ttft_values:
        h_ttft.labels("m", "0").observe(v)
    for v in itl_values:
        h_itl.labels("m", "0").observe(v)
    snap, _ = two_scrapes(server, "known", first, generate_latest(reg).decode())
    m = snap.llm.models[0]
    for role, dist in (("ttft", ttft), ("itl", itl)):
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = math.exp(dist.inv_cdf(q))
            est = m.of(role).quantile(key)
            assert est.lower <= exact <= est.upper, (role, key, exact, est)
    # vLLM's TTFT buckets jump from 1 s to 2.5 s: there the p99 is a range, not a number.
    p99 = m.of("ttft").p99
    assert (p99.lower, p99.upper) == (1.0, 2.5) and p99.coarse
    # Goodput against a TTFT objective alone: the exact share lies within its bounds.
    for slo in (0.1, 0.3, 0.9):
        g = goodput(m, snap.llm.spec, slo, None)
        assert g.share.lower <= ttft.cdf(math.log(slo)) <= g.share.upper, (slo, g)
    both = goodput(m, snap.llm.spec, 0.3, 0.05)
    exact_both = ttft.cdf(math.log(0.3)) * itl.cdf(math.log(0.05))  # independent by construction
    assert both.share.lower <= exact_both <= both.share.upper


class Growing:
    """Engines that serve requests in a thread and publish their bodies as they grow."""

    def __init__(self, server, engines: dict):
        self.server, self.engines = server, engines
        self.stop = threading.Event()
        for name, e in engines.items():
            e.serve(20)
            server.set(name, e.body())
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for name, e in self.engines.items():
                e.serve(5)
                self.server.set(name, e.body())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def run_once(*argv: str) -> tuple[int, str]:
    """``streamflow-tui --once …`` in this process, its output kept (run's default stream is bound at import)."""
    out, err = io.StringIO(), io.StringIO()
    run = once.run
    once.run = functools.partial(run, out=out, err=err)  # type: ignore[assignment]
    try:
        rc = cli.main(["--once", *argv])
    finally:
        once.run = run  # type: ignore[assignment]
    return rc, out.getvalue()


def test_quantiles_equal_prometheus_histogram_quantile():
    """Two replicas of a vLLM (era 2, two engines each) scraped by a real Prometheus while they grow: the Prometheus
    source's quantiles are Prometheus's own histogram_quantile over the same rates, summed over the replicas; and
    the scrape source's, on a replica's final samples, are histogram_quantile on the samples Prometheus holds."""
    with ExitStack() as stack:
        servers = [stack.enter_context(exposition_server(gzip=True)) for _ in range(2)]
        engines = [Vllm("2", engines=("0", "1"), seed=s) for s in (3, 4)]
        hosts = [s.url.removeprefix("http://") for s in servers]
        config = f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vllm
    metrics_path: /llm/metrics
    static_configs:
      - targets: [{", ".join(f'"{h}"' for h in hosts)}]
"""
        growing = [Growing(s, {"llm": e}) for s, e in zip(servers, engines)]
        url = stack.enter_context(running_prometheus(config))
        for g in growing:
            g.__enter__()
        wait_until(lambda: all(s.hits.get("llm", 0) >= 6 for s in servers), 30, "six scrapes of each replica")
        for g in growing:
            g.__exit__(None, None, None)
        at = time.time()
        client = PrometheusClient(url)
        stack.callback(client.close)
        spec = recognise(client.metric_names())
        assert spec is not None and spec.engine == "vllm"
        llm = from_prometheus(spec, client.query, "5000ms", at)
        model = llm.models[0]
        compared, worst = 0, 0.0
        for role, base in (("ttft", "vllm:time_to_first_token_seconds"), ("itl", "vllm:inter_token_latency_seconds")):
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                rows = query(url, f"histogram_quantile({q}, sum by (le, model_name) (rate({base}_bucket[5000ms])))", at)
                theirs = float(rows[0]["value"][1])
                ours = model.of(role).quantile(key).value
                assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), (role, key)
                worst = max(worst, abs(ours - theirs) / theirs)
                compared += 1
        assert compared == 6
        # The source itself, through the same wiring, recognises the engine and era.
        snap = PrometheusSource(url).snapshot(5)
        assert snap.llm is not None and snap.llm.spec.era == "2" and snap.llm.total.running is not None
        # The scrape source on one replica's final body, cumulative: Prometheus's histogram_quantile on it.
        before = servers[0].hits.get("llm", 0)
        wait_until(lambda: servers[0].hits.get("llm", 0) >= before + 2, 10, "two scrapes of the final body")
        time.sleep(0.5)
        at = time.time()
        source = ScrapeSource(servers[0].target("llm"), history_points=5)
        stack.callback(source.close)
        assert source.poll().up
        mine = source.snapshot(0).llm.models[0]
        for role, base in (("ttft", "vllm:time_to_first_token_seconds"), ("itl", "vllm:inter_token_latency_seconds")):
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                expr = f'histogram_quantile({q}, sum by (le) ({base}_bucket{{instance="{hosts[0]}"}}))'
                theirs = float(query(url, expr, at)[0]["value"][1])
                assert mine.of(role).quantile(key).value == pytest.approx(theirs, rel=1e-12), (role, key)
                worst = max(worst, abs(mine.of(role).quantile(key).value - theirs) / theirs)
        print(f"12 quantiles against Prometheus's histogram_quantile: largest relative difference {worst:.1e}")


ONCE_CASES = ["vllm_era1", "vllm_era2", "tgi", "sglang"]


@pytest.mark.parametrize("case", ONCE_CASES)
def test_once_json_gives_the_llm_block_with_no_flags(case, server):
    window = "1"
    if case == "tgi":
        # One body, read since the router started (--window 0): a single jump between two bodies would look
        # like counters published in steps, and --once would wait for a second step.
        server.set("once-tgi", load("tgi")[2])
        target, grow, window = server.target("once-tgi"), None, "0"
    else:
        engine = Sglang() if case == "sglang" else Vllm("1" if case == "vllm_era1" else "2", engines=("0", "1"))
        grow = Growing(server, {f"once-{case}": engine}).__enter__()
        target = server.target(f"once-{case}")
    try:
        rc, out = run_once("--json", "--api-url", target, "--window", window, "--slo-ttft", "0.5")
    finally:
        if grow:
            grow.__exit__(None, None, None)
    doc = json.loads(out)
    assert rc == 0, doc["api"]
    llm = doc["llm"]
    assert llm["engine"] == CASES[case][0] and doc["naming"]["llm"]["era"] == CASES[case][1]
    row = llm["models"][0]
    assert row["itl_seconds"]["p95"]["value"] > 0
    assert row["itl_seconds"]["p95"]["lower"] <= row["itl_seconds"]["p95"]["value"]
    assert row["requests_running"]["value"] is not None
    if case == "tgi":
        assert row["ttft_seconds"]["reason"].startswith("not exposed by TGI") and llm["goodput"]["share"] is None
    else:
        assert row["ttft_seconds"]["p99"]["upper"] >= row["ttft_seconds"]["p99"]["value"] > 0
        assert row["generation_tokens_per_s"]["value"] > 0 and 0 < row["kv_cache_usage"]["value"] < 1
        g = llm["goodput"]["share"]
        assert g["lower"] <= g["value"] <= g["upper"]
    for key in ("schema", "requests", "latency_seconds", "naming", "latency_bounds_seconds"):
        assert key in doc  # every existing key kept


def test_once_exits_4_below_the_goodput_objective(server):
    grow = Growing(server, {"once-goodput": Vllm("2")}).__enter__()
    try:
        rc, out = run_once(
            *("--json", "--api-url", server.target("once-goodput"), "--window", "1"),
            *("--slo-ttft", "0.002", "--slo-itl", "0.01", "--slo-goodput", "0.9"),
        )
    finally:
        grow.__exit__(None, None, None)
    doc = json.loads(out)
    assert rc == 4 and doc["slo"]["goodput"]["breached"] is True and doc["slo"]["goodput"]["value"] < 0.9
    rc, text = run_once("--api-url", server.target("once-goodput"), "--window", "0")
    assert rc == 0 and "llm         vLLM, era 2" in text and "TTFT" in text


async def test_the_console_shows_the_llm_view_for_an_llm_engine(server, tmp_path):
    """Pilot: a growing vLLM's console grows a sixth tab (6 LLM); a wide bucket's quantile reads as a range."""
    from textual.widgets import Static, TabbedContent

    from streamflow_tui.app import create_app
    from streamflow_tui.core.config import ConsoleConfig

    grow = Growing(server, {"console-llm": Vllm("2", engines=("0", "1"))}).__enter__()
    config = ConsoleConfig(
        api_url=server.target("console-llm"),
        interval=0.3,
        window=1.0,
        reports_dir=str(tmp_path / "reports"),
        export_dir=str(tmp_path / "exports"),
    )
    app = create_app(config)
    try:
        async with app.run_test(size=(160, 48)) as pilot:

            async def until(condition, what: str) -> None:
                deadline = time.monotonic() + 30
                while not condition():
                    assert time.monotonic() < deadline, what
                    await pilot.pause(0.1)

            def ttft_seen() -> bool:
                s = app.state.shown
                return bool(s and s.llm and s.llm.models[0].of("ttft") is not None)

            await until(ttft_seen, "a window with TTFT observations")
            await until(lambda: bool(app.query("#llm")), "the LLM tab added")
            await pilot.press("6")
            await until(lambda: app.query_one(TabbedContent).active == "llm", "the LLM tab shown")
            await pilot.pause(0.5)
            box = app.query_one("#llm-table", Static)
            shown = "\n".join(box.render_line(y).text for y in range(box.size.height))
            assert "vLLM · naming era 2" in shown and "TTFT" in shown and "KV cache" in shown
            assert "meta-llama/Llama-3.1-8B-Instruct" in shown
            # Every quantile is shown as the data supports it: a coarse one as its bucket's range.
            m = app.state.shown.llm.models[0]
            coarse = [
                e for role in ("ttft", "itl") for e in (m.of(role).p50, m.of(role).p95, m.of(role).p99) if e.coarse
            ]
            assert coarse, "vLLM's buckets give some wide quantile"
            assert any("–" in line for line in shown.splitlines() if "TTFT" in line or "ITL" in line)
            await pilot.press("q")
    finally:
        grow.__exit__(None, None, None)


def test_trtllm_gauges_through_prometheus(server):
    """The label-matched roles in PromQL: active requests, and KV usage as used / max blocks, summed over replicas
    (the same body scraped as two targets: the two replicas' sums)."""
    server.set("trtllm", load("triton_trtllm")[2])
    host = server.url.removeprefix("http://")
    config = f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: a
    metrics_path: /trtllm/metrics
    static_configs: [{{targets: ["{host}"]}}]
  - job_name: b
    metrics_path: /trtllm/metrics
    static_configs: [{{targets: ["{host}"]}}]
"""
    with running_prometheus(config) as url:
        before = server.hits.get("trtllm", 0)
        wait_until(lambda: server.hits.get("trtllm", 0) >= before + 4, 30, "both jobs scraped twice")
        source = PrometheusSource(url)
        try:
            snap = source.snapshot(5)
        finally:
            source.close()
    assert snap.prometheus.error is None, snap.prometheus.error
    m = next(x for x in snap.llm.models if x.model == "tensorrt_llm")
    assert snap.llm.spec.engine == "trtllm" and m.running == 34 and m.waiting is None
    assert m.kv_usage == pytest.approx(3427 / 6200)
