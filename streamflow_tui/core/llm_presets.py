"""LLM serving engines: which of a target's families give time to first token, inter-token latency, tokens,
the queue, the KV cache, preemptions and the prefix cache — recognised from the names served, with no flags.

Each engine is written from its own source (the fixtures under ``tests/fixtures/expositions/`` name the file and
commit they follow). vLLM renamed its families between releases; every era is read, and a body that carries both
names (the deprecation releases) is read once, by the new names:

- era 1 (V1 engine up to 0.9): ``vllm:gpu_cache_usage_perc``, ``vllm:gpu_prefix_cache_{queries,hits}``,
  ``vllm:time_per_output_token_seconds``;
- era 2 (0.11 on): ``vllm:kv_cache_usage_perc``, ``vllm:prefix_cache_{queries,hits}``,
  ``vllm:inter_token_latency_seconds`` (time_per_output_token_seconds kept, deprecated, with the same samples);
- mixed (0.9.2-0.10, or --show-hidden-metrics-for-version): both.

What an engine does not expose carries the reason, so that it is shown as such and never as 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, cast

# The roles read: histograms (base names), then counters and gauges (sample names).
HISTOGRAMS = ("ttft", "itl", "e2e", "queue")
COUNTERS = ("prompt_tokens", "generation_tokens", "preemptions", "prefix_hits", "prefix_queries")
GAUGES = ("running", "waiting", "kv_usage")
ROLES = HISTOGRAMS + COUNTERS + GAUGES


@dataclass(frozen=True)
class LlmSpec:
    """What one recognised engine serves for each role (None: not served, and ``absent`` says why)."""

    engine: str  # "vllm" | "sglang" | "tgi"
    name: str  # for people: "vLLM"
    era: str  # "1" | "2" | "mixed" | "" (engines with one naming)
    era_note: str
    signature: str  # the sample name it was recognised by
    model_label: str | None
    ttft: str | None = None
    itl: str | None = None
    itl_kind: str = "itl"  # "itl": every inter-token gap; "tpot": each request's mean time per output token
    e2e: str | None = None
    queue: str | None = None
    prompt_tokens: str | None = None
    generation_tokens: str | None = None
    preemptions: str | None = None
    prefix_hits: str | None = None
    prefix_queries: str | None = None
    running: str | None = None
    waiting: str | None = None
    kv_usage: str | None = None
    absent: tuple[tuple[str, str], ...] = ()  # (role, why) for the roles not served
    ignored: tuple[str, ...] = ()  # deprecated duplicates served beside the names read
    notes: tuple[tuple[str, str], ...] = field(default=())  # (role, what to know) for roles served
    # Roles read from some series of a family only (role, label, value): TensorRT-LLM's request_type="active".
    match: tuple[tuple[str, str, str], ...] = ()
    # KV usage as a ratio of two series of the kv_usage family (label, used, total): TensorRT-LLM's blocks.
    kv_ratio: tuple[str, str, str] | None = None

    def metric(self, role: str) -> str | None:
        return getattr(self, role)

    def matcher(self, role: str) -> tuple[str, str] | None:
        """(label, value) a role's series must carry, when it reads only some series of its family."""
        return next(((label, value) for r, label, value in self.match if r == role), None)

    def reason(self, role: str) -> str | None:
        return next((why for r, why in self.absent if r == role), None)

    def note(self, role: str) -> str | None:
        return next((n for r, n in self.notes if r == role), None)

    def sample_names(self) -> set[str]:
        names: set[str] = set()
        for role in HISTOGRAMS:
            base = self.metric(role)
            if base:
                names |= {base + "_bucket", base + "_sum", base + "_count"}
        for role in COUNTERS + GAUGES:
            name = self.metric(role)
            if name:
                names.add(name)
        return names

    def read(self) -> dict[str, str]:
        """role -> the family read, for the naming block."""
        return {f.name: v for f in fields(self) if f.name in ROLES and (v := getattr(self, f.name))}


def _first(names: set[str], *candidates: str, histogram: bool = False) -> str | None:
    return next((c for c in candidates if (c + "_bucket" if histogram else c) in names), None)


def _absent(spec_roles: dict[str, str | None], why: dict[str, str], engine: str) -> tuple[tuple[str, str], ...]:
    out = []
    for role in ROLES:
        if spec_roles.get(role) is None:
            out.append((role, why.get(role, f"not served by this {engine} (the family is absent from the body)")))
    return tuple(out)


def _vllm(names: set[str]) -> LlmSpec | None:
    signature = _first(names, "vllm:time_to_first_token_seconds_bucket", "vllm:num_requests_running")
    if signature is None:
        return None
    new = {"vllm:kv_cache_usage_perc", "vllm:prefix_cache_queries_total", "vllm:inter_token_latency_seconds_bucket"}
    old = {"vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache_queries_total"}
    has_new, has_old = bool(names & new), bool(names & old)
    era, note = {
        (True, True): ("mixed", "both namings (0.9.2-0.10, or hidden metrics shown): the new names read"),
        (True, False): ("2", "kv_cache_usage_perc, prefix_cache_*, inter_token_latency_seconds (0.11 on)"),
        (False, True): ("1", "gpu_cache_usage_perc, gpu_prefix_cache_*, time_per_output_token_seconds (up to 0.9)"),
        (False, False): ("", "neither naming's cache families served"),
    }[(has_new, has_old)]
    roles: dict[str, str | None] = {
        "ttft": _first(names, "vllm:time_to_first_token_seconds", histogram=True),
        "itl": _first(names, "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds", histogram=True),
        "e2e": _first(names, "vllm:e2e_request_latency_seconds", histogram=True),
        "queue": _first(names, "vllm:request_queue_time_seconds", histogram=True),
        "prompt_tokens": _first(names, "vllm:prompt_tokens_total"),
        "generation_tokens": _first(names, "vllm:generation_tokens_total"),
        "preemptions": _first(names, "vllm:num_preemptions_total"),
        "prefix_hits": _first(names, "vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"),
        "prefix_queries": _first(names, "vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
        "running": _first(names, "vllm:num_requests_running"),
        "waiting": _first(names, "vllm:num_requests_waiting"),
        "kv_usage": _first(names, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    }
    read = {v for v in roles.values() if v}
    duplicates = (
        "vllm:gpu_cache_usage_perc",
        "vllm:gpu_prefix_cache_hits_total",
        "vllm:gpu_prefix_cache_queries_total",
        "vllm:time_per_output_token_seconds_bucket",
    )
    ignored = tuple(d for d in duplicates if d in names and d not in read and d.removesuffix("_bucket") not in read)
    notes = [("itl", "every inter-token gap (per token, not per request)")]
    if roles["prefix_hits"]:
        notes.append(("prefix_hits", "prefix-cache hits and queries in tokens"))
    return LlmSpec(
        "vllm",
        "vLLM",
        era,
        note,
        signature,
        "model_name",
        **cast(dict[str, Any], roles),
        absent=_absent(roles, {}, "vLLM"),
        ignored=ignored,
        notes=tuple(notes),
    )


def _sglang(names: set[str]) -> LlmSpec | None:
    signature = _first(names, "sglang:time_to_first_token_seconds_bucket", "sglang:num_running_reqs")
    if signature is None:
        return None
    roles: dict[str, str | None] = {
        "ttft": _first(names, "sglang:time_to_first_token_seconds", histogram=True),
        "itl": _first(
            names, "sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds", histogram=True
        ),
        "e2e": _first(names, "sglang:e2e_request_latency_seconds", histogram=True),
        "queue": _first(names, "sglang:queue_time_seconds", histogram=True),
        "prompt_tokens": _first(names, "sglang:prompt_tokens_total"),
        "generation_tokens": _first(names, "sglang:generation_tokens_total"),
        "preemptions": _first(names, "sglang:num_retracted_requests_total"),
        # SGLang counts the prompt tokens served from its radix cache: hits over all prompt tokens.
        "prefix_hits": _first(names, "sglang:cached_tokens_total"),
        "prefix_queries": _first(names, "sglang:prompt_tokens_total")
        if "sglang:cached_tokens_total" in names
        else None,
        "running": _first(names, "sglang:num_running_reqs"),
        "waiting": _first(names, "sglang:num_queue_reqs"),
        "kv_usage": _first(names, "sglang:token_usage"),
    }
    return LlmSpec(
        "sglang",
        "SGLang",
        "",
        "vLLM-style names under sglang:",
        signature,
        "model_name",
        **cast(dict[str, Any], roles),
        absent=_absent(roles, {}, "SGLang"),
        notes=(
            ("itl", "every inter-token gap (per token, not per request)"),
            ("preemptions", "retracted requests (SGLang's preemption)"),
            ("prefix_hits", "cached prompt tokens over all prompt tokens (sglang:cached_tokens_total)"),
            ("kv_usage", "the KV token pool's usage (sglang:token_usage)"),
        ),
    )


def _tgi(names: set[str]) -> LlmSpec | None:
    signature = _first(
        names, "tgi_request_mean_time_per_token_duration_bucket", "tgi_request_queue_duration_bucket", "tgi_queue_size"
    )
    if signature is None:
        return None
    roles: dict[str, str | None] = {
        "ttft": None,
        "itl": _first(names, "tgi_request_mean_time_per_token_duration", histogram=True),
        "e2e": _first(names, "tgi_request_duration", histogram=True),
        "queue": _first(names, "tgi_request_queue_duration", histogram=True),
        # Per-request token histograms: their _sum grows by each request's tokens.
        "prompt_tokens": _first(names, "tgi_request_input_length_sum"),
        "generation_tokens": _first(names, "tgi_request_generated_tokens_sum"),
        "preemptions": None,
        "prefix_hits": None,
        "prefix_queries": None,
        "running": _first(names, "tgi_batch_current_size"),
        "waiting": _first(names, "tgi_queue_size"),
        "kv_usage": None,
    }
    why = {
        "ttft": "not exposed by TGI (no time-to-first-token histogram)",
        "kv_usage": "not exposed by TGI (no KV-cache gauge)",
        "preemptions": "not exposed by TGI",
        "prefix_hits": "not exposed by TGI (no prefix-cache counters)",
        "prefix_queries": "not exposed by TGI (no prefix-cache counters)",
    }
    return LlmSpec(
        "tgi",
        "Hugging Face TGI",
        "",
        "tgi_request_* (one model per router)",
        signature,
        None,
        itl_kind="tpot",
        **cast(dict[str, Any], roles),
        absent=_absent(roles, why, "TGI"),
        notes=(
            ("itl", "each request's mean time per output token (TGI has no per-gap histogram)"),
            ("running", "the current batch's size"),
        ),
    )


def _trtllm(names: set[str]) -> LlmSpec | None:
    """Triton's TensorRT-LLM backend: per-iteration gauges only (custom_metrics_reporter.cc), no latency
    histograms; Triton core's own counters (the triton preset) count the requests."""
    signature = _first(names, "nv_trt_llm_request_metrics", "nv_trt_llm_kv_cache_block_metrics")
    if signature is None:
        return None
    roles: dict[str, str | None] = dict.fromkeys(HISTOGRAMS + COUNTERS + GAUGES)
    roles["running"] = _first(names, "nv_trt_llm_request_metrics")
    roles["waiting"] = roles["running"]  # request_type="waiting": newer backends only
    roles["kv_usage"] = _first(names, "nv_trt_llm_kv_cache_block_metrics")
    backend = "not exposed by Triton's TensorRT-LLM backend"
    why = {
        "ttft": backend
        + " (nv_inference_first_response_histogram_ms, decoupled models with histogram latencies on, is not read)",
        "itl": backend,
        "e2e": backend + " as a histogram (Triton's average request duration is in the latency line)",
        "queue": backend + " as a histogram",
        "prompt_tokens": backend + " (total_context_tokens is a per-iteration gauge, not a counter)",
        "generation_tokens": backend,
        "preemptions": backend,
        "prefix_hits": backend,
        "prefix_queries": backend,
    }
    return LlmSpec(
        "trtllm",
        "Triton TensorRT-LLM",
        "",
        "nv_trt_llm_* gauges (custom_metrics_reporter.cc)",
        signature,
        "model",
        **cast(dict[str, Any], roles),
        absent=_absent(roles, why, "TensorRT-LLM backend"),
        notes=(
            ("running", "request_type=active"),
            ("waiting", "request_type=waiting (newer backends; else no data)"),
            ("kv_usage", "used / max KV-cache blocks"),
        ),
        match=(("running", "request_type", "active"), ("waiting", "request_type", "waiting")),
        kv_ratio=("kv_cache_block_type", "used", "max"),
    )


ENGINES = (_vllm, _sglang, _tgi, _trtllm)


def recognise(sample_names: Iterable[str]) -> LlmSpec | None:
    """The LLM engine whose families are served, or None (not an LLM engine)."""
    names = set(sample_names)
    for engine in ENGINES:
        spec = engine(names)
        if spec is not None:
            return spec
    return None
