"""Writes the LLM engines' fixtures (tests/fixtures/expositions/{vllm_era1,vllm_era2,vllm_mixed,sglang}.*.prom):
each registers the families its engine's source registers (names, types, label names, buckets, as that code
has them), observes a seeded stream of requests through prometheus_client as the engine does, and renders two
states. Run ``python tests/llm_fixtures.py`` to write them again; the source each follows is in HEADERS and on
each file's first line.

Also ``engine_body(...)``: the same engines' bodies at any point of a stream, for the tests that serve them
growing over time.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

FIXTURES = Path(__file__).parent / "fixtures" / "expositions"

TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                40.0, 80.0, 160.0, 640.0, 2560.0]  # fmt: skip
TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
                80.0]  # fmt: skip
REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                           240.0, 480.0, 960.0, 1920.0, 7680.0]  # fmt: skip
SGLANG_TTFT = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400]
SGLANG_E2E = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400]
SGLANG_ITL = [0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060, 0.080, 0.100,
              0.200, 0.400, 0.600, 0.800, 1.000, 2.000, 4.000, 6.000, 8.000]  # fmt: skip
SGLANG_QUEUE = [0.0, 0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500,
                600, 700, 800, 900, 1000, 1200, 1400, 1600, 1800, 2000, 2500, 3000]  # fmt: skip

HEADERS = {
    "vllm_era1": [
        "# source: vllm-project/vllm vllm/v1/metrics/loggers.py (commit a6f0308cfe806b7731ad4979c9bea6e470c35efd; V1 engine, first naming era)",
        "# PrometheusStatLogger: labelnames [model_name, engine]; vllm:gpu_cache_usage_perc, vllm:gpu_prefix_cache_{queries,hits}",
        "#   (blocks), vllm:num_preemptions_total, vllm:time_per_output_token_seconds (every inter-token gap), request_queue_time.",
        "# Written by tests/llm_fixtures.py through prometheus_client (seeded stream of requests); abridged to the families read.",
    ],
    "vllm_mixed": [
        "# source: vllm-project/vllm vllm/v1/metrics/loggers.py (commit 005a810bc40faa25b8870fbc8559c3462581eee3; 0.9.2-0.10 deprecation)",
        "# Both namings at once: vllm:gpu_cache_usage_perc (DEPRECATED) beside vllm:kv_cache_usage_perc, gpu_prefix_cache_* beside",
        "#   prefix_cache_* (same increments), make_per_engine labels [model_name, engine]; ITL still only time_per_output_token_seconds.",
        "# Written by tests/llm_fixtures.py through prometheus_client (seeded stream of requests); abridged to the families read.",
    ],
    "vllm_era2": [
        "# source: vllm-project/vllm vllm/v1/metrics/loggers.py (0.11.x: 'Deprecated in 0.11 - Renamed as vllm:inter_token_latency_seconds';"
        " index file id 905781883, commit not recorded by the index)",
        "# Second naming era, hidden metrics off: vllm:kv_cache_usage_perc, vllm:prefix_cache_{queries,hits} (tokens), vllm:num_preemptions,",
        "#   vllm:inter_token_latency_seconds with the deprecated time_per_output_token_seconds observing the same gaps; two engines (DP=2).",
        "# Written by tests/llm_fixtures.py through prometheus_client (seeded stream of requests); abridged to the families read.",
    ],
    "sglang": [
        "# source: sgl-project/sglang python/sglang/srt/metrics/collector.py (commit 00ae9c1590d2d0bb6c0bfff39e312c34ae3dd538)",
        "# TokenizerMetricsCollector (labels model_name; default buckets) and SchedulerMetricsCollector gauges/counters",
        "#   (labels abridged to model_name, tp_rank, pp_rank, moe_ep_rank): num_running_reqs, num_queue_reqs, token_usage, cache_hit_rate,",
        "#   num_retracted_requests_total, queue_time_seconds. Written by tests/llm_fixtures.py (seeded stream); abridged.",
    ],
}

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@dataclass
class Stream:
    """A seeded stream of requests: TTFT, inter-token gaps, queue time, tokens in and out."""

    seed: int
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def request(self) -> dict:
        r = self.rng
        ttft = r.lognormvariate(-2.0, 0.8)  # median ~135 ms, a long tail into the 1-2.5 s bucket
        out = r.randint(20, 200)
        gaps = [r.lognormvariate(-3.4, 0.35) for _ in range(out - 1)]  # ~33 ms
        queue = r.expovariate(1 / 0.05)
        prompt = r.randint(100, 2000)
        return {
            "ttft": ttft,
            "gaps": gaps,
            "queue": queue,
            "e2e": ttft + sum(gaps),
            "prompt": prompt,
            "out": out,
            "cached": int(prompt * r.uniform(0.0, 0.6)),
            "reason": r.choices(["stop", "length", "abort"], [80, 18, 2])[0],
            "preempted": r.random() < 0.03,
        }


class Vllm:
    def __init__(self, era: str, engines: tuple[str, ...] = ("0",), seed: int = 1):
        self.era, self.engines = era, engines
        self.streams = {e: Stream(seed * 10 + int(e)) for e in engines}
        reg = self.registry = CollectorRegistry()
        ln = ["model_name", "engine"]
        self.running = Gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches.", ln, registry=reg
        )
        self.waiting = Gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed.", ln, registry=reg
        )
        self.gauges_kv: list[Gauge] = []
        self.prefix: list[tuple[Counter, Counter]] = []
        if era in ("1", "mixed"):
            self.gauges_kv.append(
                Gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", ln, registry=reg)
            )
            self.prefix.append(
                (
                    Counter("vllm:gpu_prefix_cache_queries", "GPU prefix cache queries, in terms of number of queried blocks.", ln, registry=reg),
                    Counter("vllm:gpu_prefix_cache_hits", "GPU prefix cache hits, in terms of number of cached blocks.", ln, registry=reg),
                )
            )  # fmt: skip
        if era in ("2", "mixed"):
            self.gauges_kv.append(
                Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", ln, registry=reg)
            )
            self.prefix.append(
                (
                    Counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", ln, registry=reg),
                    Counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", ln, registry=reg),
                )
            )  # fmt: skip
        preempt = "vllm:num_preemptions_total" if era == "1" else "vllm:num_preemptions"
        self.preemptions = Counter(preempt, "Cumulative number of preemption from the engine.", ln, registry=reg)
        self.prompt = Counter("vllm:prompt_tokens", "Number of prefill tokens processed.", ln, registry=reg)
        self.generation = Counter("vllm:generation_tokens", "Number of generation tokens processed.", ln, registry=reg)
        self.success = Counter(
            "vllm:request_success", "Count of successfully processed requests.", ln + ["finished_reason"], registry=reg
        )
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ln, buckets=TTFT_BUCKETS, registry=reg
        )  # fmt: skip
        self.itls = [
            Histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", ln, buckets=TPOT_BUCKETS, registry=reg)
        ]  # fmt: skip
        if era == "2":
            self.itls.append(
                Histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ln, buckets=TPOT_BUCKETS, registry=reg)
            )  # fmt: skip
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", ln, buckets=REQUEST_LATENCY_BUCKETS, registry=reg
        )  # fmt: skip
        self.queue = Histogram(
            "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", ln, buckets=REQUEST_LATENCY_BUCKETS, registry=reg
        )  # fmt: skip
        for e in engines:
            for reason in ("stop", "length", "abort"):
                self.success.labels(MODEL, e, reason)

    def serve(self, n: int) -> None:
        for e in self.engines:
            labels = (MODEL, e)
            s = self.streams[e]
            for _ in range(n):
                q = s.request()
                self.ttft.labels(*labels).observe(q["ttft"])
                for gap in q["gaps"]:
                    for h in self.itls:
                        h.labels(*labels).observe(gap)
                self.e2e.labels(*labels).observe(q["e2e"])
                self.queue.labels(*labels).observe(q["queue"])
                self.prompt.labels(*labels).inc(q["prompt"])
                self.generation.labels(*labels).inc(q["out"])
                self.success.labels(MODEL, e, q["reason"]).inc()
                for queries, hits in self.prefix:
                    unit = 16 if queries._name.startswith("vllm:gpu_") and self.era == "1" else 1  # era 1: blocks
                    queries.labels(*labels).inc(q["prompt"] // unit)
                    hits.labels(*labels).inc(q["cached"] // unit)
                if q["preempted"]:
                    self.preemptions.labels(*labels).inc()
            self.running.labels(*labels).set(s.rng.randint(4, 24))
            self.waiting.labels(*labels).set(s.rng.randint(0, 5))
            usage = round(s.rng.uniform(0.2, 0.9), 4)
            for g in self.gauges_kv:
                g.labels(*labels).set(usage)

    def body(self) -> str:
        return generate_latest(self.registry).decode()


class Sglang:
    def __init__(self, seed: int = 7):
        self.stream = Stream(seed)
        reg = self.registry = CollectorRegistry()
        tok = ["model_name"]
        sch = ["model_name", "tp_rank", "pp_rank", "moe_ep_rank"]
        self.tok_labels, self.sch_labels = (MODEL,), (MODEL, "0", "0", "0")
        self.prompt = Counter("sglang:prompt_tokens_total", "Number of prefill tokens processed.", tok, registry=reg)
        self.generation = Counter(
            "sglang:generation_tokens_total", "Number of generation tokens processed.", tok, registry=reg
        )
        self.cached = Counter("sglang:cached_tokens_total", "Number of cached prompt tokens.", tok, registry=reg)
        self.requests = Counter("sglang:num_requests_total", "Number of requests processed.", tok, registry=reg)
        self.aborted = Counter("sglang:num_aborted_requests_total", "Number of requests aborted.", tok, registry=reg)
        self.ttft = Histogram(
            "sglang:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            tok,
            buckets=SGLANG_TTFT,
            registry=reg,
        )
        self.itl = Histogram(
            "sglang:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            tok,
            buckets=SGLANG_ITL,
            registry=reg,
        )
        self.e2e = Histogram(
            "sglang:e2e_request_latency_seconds",
            "Histogram of End-to-end request latency in seconds",
            tok,
            buckets=SGLANG_E2E,
            registry=reg,
        )
        self.running = Gauge("sglang:num_running_reqs", "The number of running requests.", sch, registry=reg)
        self.queued = Gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.", sch, registry=reg)
        self.usage = Gauge("sglang:token_usage", "The token usage.", sch, registry=reg)
        self.hit_rate = Gauge("sglang:cache_hit_rate", "The prefix cache hit rate.", sch, registry=reg)
        self.retracted = Counter(
            "sglang:num_retracted_requests_total", "Total number of retracted requests.", sch, registry=reg
        )
        self.queue = Histogram("sglang:queue_time_seconds", "Histogram of queueing time in seconds.", sch, buckets=SGLANG_QUEUE, registry=reg)  # fmt: skip

    def serve(self, n: int) -> None:
        s = self.stream
        for _ in range(n):
            q = s.request()
            self.prompt.labels(*self.tok_labels).inc(q["prompt"])
            self.generation.labels(*self.tok_labels).inc(q["out"])
            self.cached.labels(*self.tok_labels).inc(q["cached"])
            self.requests.labels(*self.tok_labels).inc()
            self.ttft.labels(*self.tok_labels).observe(q["ttft"])
            for gap in q["gaps"]:
                self.itl.labels(*self.tok_labels).observe(gap)
            self.e2e.labels(*self.tok_labels).observe(q["e2e"])
            self.queue.labels(*self.sch_labels).observe(q["queue"])
            if q["preempted"]:
                self.retracted.labels(*self.sch_labels).inc()
        self.running.labels(*self.sch_labels).set(s.rng.randint(4, 24))
        self.queued.labels(*self.sch_labels).set(s.rng.randint(0, 5))
        self.usage.labels(*self.sch_labels).set(round(s.rng.uniform(0.2, 0.9), 4))
        self.hit_rate.labels(*self.sch_labels).set(round(s.rng.uniform(0.1, 0.4), 4))

    def body(self) -> str:
        return generate_latest(self.registry).decode()


def engine(case: str):
    return {
        "vllm_era1": lambda: Vllm("1"),
        "vllm_mixed": lambda: Vllm("mixed"),
        "vllm_era2": lambda: Vllm("2", engines=("0", "1")),
        "sglang": lambda: Sglang(),
    }[case]()


def _spec(case: str) -> dict:
    vllm = case.startswith("vllm")
    base = {
        "id": case,
        "kind": "model_server",
        "name": {
            "vllm_era1": "vLLM V1 engine, first naming era",
            "vllm_mixed": "vLLM 0.10, both namings",
            "vllm_era2": "vLLM 0.11, second naming era, data-parallel 2",
            "sglang": "SGLang (OpenAI-compatible server)",
        }[case],
        "source": [HEADERS[case][0].removeprefix("# source: ")],
        "preset": "vllm" if vllm else "sglang",
        "requests": ["vllm:request_success_total"] if vllm else ["sglang:num_requests_total"],
        "errors": {"label": "finished_reason", "match": "^error$"} if vllm else None,
        "latency": {
            "kind": "histogram",
            "metric": "vllm:e2e_request_latency_seconds" if vllm else "sglang:e2e_request_latency_seconds",
            "sum": None,
            "count": None,
            "unit": "s",
        },
        "model_label": "model_name",
        "endpoint_label": None,
        "also_present": ["vllm:time_to_first_token_seconds"] if vllm else ["sglang:time_to_first_token_seconds"],
        "llm": {
            "engine": "vllm" if vllm else "sglang",
            "era": {"vllm_era1": "1", "vllm_mixed": "mixed", "vllm_era2": "2", "sglang": None}[case],
            "itl": {
                "vllm_era1": "vllm:time_per_output_token_seconds",
                "vllm_mixed": "vllm:time_per_output_token_seconds",
                "vllm_era2": "vllm:inter_token_latency_seconds",
                "sglang": "sglang:inter_token_latency_seconds",
            }[case],
            "kv_usage": {
                "vllm_era1": "vllm:gpu_cache_usage_perc",
                "vllm_mixed": "vllm:kv_cache_usage_perc",
                "vllm_era2": "vllm:kv_cache_usage_perc",
                "sglang": "sglang:token_usage",
            }[case],
        },
        "notes": "Written by tests/llm_fixtures.py: prometheus_client renders the families the source registers;"
        " a seeded stream of requests is observed as the engine observes it (TTFT once per request, every"
        " inter-token gap, e2e/queue per finished request).",
    }
    return base


TRTLLM_HEADER = [
    "# source: triton-inference-server/tensorrtllm_backend inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc"
    " (commit 27e4bfbd3acb05b9b41417d5256553592a31b505)",
    "# nv_trt_llm_{request,runtime_memory,kv_cache_block,inflight_batcher,general}_metrics: gauges, labels model, version and the",
    "#   group's category (request_type active|max|scheduled|context; kv_cache_block_type max|free|used|tokens_per), set every",
    "#   iteration. Beside them Triton core's own families for the same model (tests/fixtures/expositions/triton.*.prom, with",
    "#   resnet50_trt served as tensorrt_llm and text_preprocess as preprocessing: src/metric_model_reporter.cc, prometheus-cpp).",
]


def trtllm_families(state: int) -> str:
    """The TensorRT-LLM backend's gauges as prometheus-cpp prints them (TYPE gauge, labels sorted, %.16g)."""
    active, scheduled, context = (12, 12, 3) if state == 1 else (17, 16, 5)
    used, free = (2211, 3989) if state == 1 else (3427, 2773)
    groups = [
        ("nv_trt_llm_request_metrics", "TRT LLM request metrics", "request_type",
         [("active", active), ("max", 64), ("scheduled", scheduled), ("context", context)]),
        ("nv_trt_llm_runtime_memory_metrics", "TRT LLM runtime memory metrics", "memory_type",
         [("cpu", 0), ("gpu", 1610236), ("pinned", 0)]),
        ("nv_trt_llm_kv_cache_block_metrics", "TRT LLM KV cache block metrics", "kv_cache_block_type",
         [("max", 6200), ("free", free), ("used", used), ("tokens_per", 64)]),
        ("nv_trt_llm_inflight_batcher_metrics", "TRT LLM inflight_batcher-specific metrics", "inflight_batcher_specific_metric",
         [("total_context_tokens", 1873 if state == 1 else 2410), ("generation_requests", scheduled - context),
          ("micro_batch_id", 0), ("paused_requests", 0)]),
        ("nv_trt_llm_general_metrics", "General TRT LLM metrics", "general_type",
         [("timestamp", 1796618540 if state == 1 else 1796618550), ("iteration_counter", 90311 if state == 1 else 90811)]),
    ]  # fmt: skip
    lines = []
    for family, help_text, category, values in groups:
        lines += [f"# HELP {family} {help_text}", f"# TYPE {family} gauge"]
        for label, value in values:
            lines.append(f'{family}{{{category}="{label}",model="tensorrt_llm",version="1"}} {value}')
    return "\n".join(lines) + "\n"


def write_trtllm() -> None:
    for state in (1, 2):
        core = (FIXTURES / f"triton.{state}.prom").read_text()
        body = "".join(
            line + "\n"
            for line in core.splitlines()
            if not line.startswith("# ") or line.startswith(("# HELP", "# TYPE"))
        )
        body = body.replace('model="resnet50_trt"', 'model="tensorrt_llm"').replace(
            'model="text_preprocess"', 'model="preprocessing"'
        )
        (FIXTURES / f"triton_trtllm.{state}.prom").write_text(
            "\n".join(TRTLLM_HEADER) + "\n" + body + trtllm_families(state)
        )
    spec = json.loads((FIXTURES / "triton.json").read_text())
    spec.update(
        id="triton_trtllm",
        name="NVIDIA Triton with the TensorRT-LLM backend",
        source=[TRTLLM_HEADER[0].removeprefix("# source: ")] + spec["source"],
        llm={"engine": "trtllm", "era": None, "itl": None, "kv_usage": "nv_trt_llm_kv_cache_block_metrics"},
    )
    spec["notes"] = (
        "Triton core's families as in triton.json (models renamed), and the TensorRT-LLM backend's gauges. "
        + spec["notes"]
    )
    (FIXTURES / "triton_trtllm.json").write_text(json.dumps(spec, indent=2) + "\n")


def write() -> None:
    for case in HEADERS:
        e = engine(case)
        e.serve(150)
        first = e.body()
        e.serve(90)
        second = e.body()
        header = "\n".join(HEADERS[case]) + "\n"
        (FIXTURES / f"{case}.1.prom").write_text(header + first)
        (FIXTURES / f"{case}.2.prom").write_text(header + second)
        (FIXTURES / f"{case}.json").write_text(json.dumps(_spec(case), indent=2) + "\n")


if __name__ == "__main__":
    write()
    write_trtllm()
