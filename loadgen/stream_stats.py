"""What a streaming run measures beyond requests: TTFT, inter-token gaps, tokens, the server's own timing.

Every distribution is an HDR histogram (microseconds, or tokens for tokens per request), in constant
memory however many tokens go by: a gap is recorded as it is read, never kept. Like ``LoadStats`` the
histograms export in hdrh's compressed encoding, and ``merge`` adds them: a merged run's percentiles are
those of one histogram of every sample.

Corrected and uncorrected, as for request latency: TTFT and end-to-end latency count from the intended
send time (corrected) or from the actual send (uncorrected). A gap between two tokens of one stream does
not depend on when the stream was sent, so ITL has one histogram, reported under both names.

The server's split of TTFT, where the final chunk carries per-request timing: vLLM's ``metrics``
(``--enable-per-request-metrics``: ``queue_time_ms``, ``time_to_first_token_ms`` from scheduling to the
first token) or llama.cpp's ``timings`` (``prompt_ms``: prefill; no queue time). Network (and client) =
the client's uncorrected TTFT minus the server's own time to the first token.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from . import hdr_read
from .histograms import MAX_LATENCY_US, PERCENTILES, new_histogram
from .histograms import pct_key as _pct_key

HISTOGRAMS = (
    "ttft_corrected",
    "ttft_uncorrected",
    "itl",
    "e2e_corrected",
    "e2e_uncorrected",
    "tokens_per_request",
    "server_queue",
    "server_prefill",
    "network",
)
COUNTERS = ("streams", "tokens", "prompt_tokens", "completion_tokens", "usage_reported")


def _us(seconds: float) -> int:
    return min(MAX_LATENCY_US, max(0, round(seconds * 1e6)))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def _decode(final: bytes | None) -> dict[str, Any] | None:
    if final is None:
        return None
    try:
        doc = json.loads(final)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def server_timing(doc: dict[str, Any] | None) -> tuple[str, float | None, float] | None:
    """(source, queue seconds or None, prefill seconds) from a final chunk, or None when it has none."""
    if not doc:
        return None
    metrics = doc.get("metrics")
    if isinstance(metrics, dict):  # vLLM --enable-per-request-metrics
        queue, ttft = _number(metrics.get("queue_time_ms")), _number(metrics.get("time_to_first_token_ms"))
        if ttft is not None:
            return "vllm metrics", None if queue is None else queue / 1e3, ttft / 1e3
    timings = doc.get("timings")
    if isinstance(timings, dict):  # llama.cpp's server
        prompt = _number(timings.get("prompt_ms"))
        if prompt is not None:
            return "llama.cpp timings", None, prompt / 1e3
    return None


def summary(h: HdrHistogram, scale: float = 1e-6) -> dict[str, Any]:
    """count, fastest/slowest/average/stddev and p50 … p99.9 of ``h`` (values × ``scale``: µs → s)."""
    counts = hdr_read.counts(h)
    total = int(counts.sum())
    if not total:
        return {"count": 0, "min": None, "max": None, "mean": None, "stddev": None} | {
            _pct_key(p): None for p in PERCENTILES
        }
    mean, stddev = hdr_read.mean_stddev(h, counts)
    pcts = hdr_read.percentiles(h, counts, PERCENTILES)
    return {
        "count": total,
        "min": h.get_min_value() * scale,
        "max": h.get_max_value() * scale,
        "mean": mean * scale,
        "stddev": stddev * scale,
    } | {_pct_key(p): pcts[p] * scale for p in PERCENTILES}


@dataclass
class StreamStats:
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    hist: dict[str, HdrHistogram] = field(default_factory=lambda: {k: new_histogram() for k in HISTOGRAMS})
    streams: int = 0  # streams that ended with data: [DONE]
    tokens: int = 0  # token events read, in every stream (complete or not)
    prompt_tokens: int = 0  # from usage, where the server reported it
    completion_tokens: int = 0
    usage_reported: int = 0
    timing_sources: Counter = field(default_factory=Counter)  # "vllm metrics": n, "llama.cpp timings": n

    def record_gaps(self, gap_s: float | None, zeros: int) -> None:
        """One read's inter-token gaps: the first token's gap from the previous read, then ``zeros`` more
        tokens that came in the same read (gap 0)."""
        with self._lock:
            itl = self.hist["itl"]
            if gap_s is not None:
                itl.record_value(_us(gap_s))
            if zeros:
                itl.record_value(0, zeros)

    def on_stream(
        self,
        intended: float | None,
        sent_at: float,
        done_at: float,
        first_at: float | None,
        tokens: int,
        complete: bool,
        final: bytes | None,
    ) -> None:
        """One finished stream (complete or not): its TTFT (if a token came), e2e (if it ended well).
        ``final``: the JSON of the chunk with usage / metrics / timings, decoded here (once per request)."""
        start = sent_at if intended is None else min(intended, sent_at)  # as LoadStats.on_done
        doc = _decode(final)
        timing = server_timing(doc)
        usage = doc.get("usage") if doc else None
        with self._lock:
            h = self.hist
            self.tokens += tokens
            if first_at is not None:
                ttft_u = first_at - sent_at
                h["ttft_uncorrected"].record_value(_us(ttft_u))
                h["ttft_corrected"].record_value(_us(first_at - start))
                if timing is not None:
                    source, queue, prefill = timing
                    self.timing_sources[source] += 1
                    if queue is not None:
                        h["server_queue"].record_value(_us(queue))
                    h["server_prefill"].record_value(_us(prefill))
                    h["network"].record_value(_us(ttft_u - (queue or 0.0) - prefill))
            if complete:
                self.streams += 1
                h["e2e_uncorrected"].record_value(_us(done_at - sent_at))
                h["e2e_corrected"].record_value(_us(done_at - start))
                h["tokens_per_request"].record_value(min(tokens, MAX_LATENCY_US))
            if isinstance(usage, dict):
                prompt, completion = _number(usage.get("prompt_tokens")), _number(usage.get("completion_tokens"))
                if completion is not None:
                    self.usage_reported += 1
                    self.completion_tokens += int(completion)
                    self.prompt_tokens += int(prompt or 0)

    def copy_counts(self) -> tuple[dict[str, HdrHistogram], dict[str, Any]]:
        """Decoded copies of the histograms and the counters, consistent with each other."""
        with self._lock:
            hists = {k: HdrHistogram.decode(v.encode()) for k, v in self.hist.items()}
            return hists, {k: getattr(self, k) for k in COUNTERS} | {"timing_sources": dict(self.timing_sources)}

    def metrics_view(self) -> dict[str, Any]:
        """Counters and copies of the TTFT and ITL counts, consistent with each other (``--metrics-port``)."""
        with self._lock:
            return {
                "tokens": self.tokens,
                "streams": self.streams,
                **{k: hdr_read.counts(self.hist[k]) for k in ("ttft_corrected", "ttft_uncorrected", "itl")},
            }

    def report(self, elapsed_s: float) -> dict[str, Any]:
        """The report's ``stream`` block (seconds; tokens per request in tokens)."""
        hists, counters = self.copy_counts()
        itl = summary(hists["itl"])
        sources = counters.pop("timing_sources")
        if sources:
            queue_known = hists["server_queue"].get_total_count() > 0
            split: dict[str, Any] = {
                "available": True,
                "sources": sources,
                "queue_seconds": summary(hists["server_queue"]) if queue_known else None,
                "prefill_seconds": summary(hists["server_prefill"]),
                "network_seconds": summary(hists["network"]),
                "note": None
                if queue_known
                else "the server reports no queue time: network_seconds includes any wait in its queue",
            }
        else:
            split = {
                "available": False,
                "note": "not available: the server returned no per-request timing (vLLM: --enable-per-request-metrics;"
                " llama.cpp's server sends timings)",
            }
        return {
            **counters,
            "tokens_per_s": self.tokens / elapsed_s if elapsed_s > 0 else None,
            "ttft_seconds": {
                "corrected": summary(hists["ttft_corrected"]),
                "uncorrected": summary(hists["ttft_uncorrected"]),
            },
            # One histogram: a gap within a stream does not depend on the send schedule (see the module doc).
            "itl_seconds": {"corrected": itl, "uncorrected": itl},
            "e2e_seconds": {
                "corrected": summary(hists["e2e_corrected"]),
                "uncorrected": summary(hists["e2e_uncorrected"]),
            },
            "tokens_per_request": summary(hists["tokens_per_request"], scale=1.0),
            "ttft_split": split,
        }

    def export(self) -> dict[str, Any]:
        """The segment file's ``raw.stream`` block: encoded histograms and counters."""
        with self._lock:
            return {
                "histograms": {k: v.encode().decode() for k, v in self.hist.items()},
                "counters": {k: getattr(self, k) for k in COUNTERS},
                "timing_sources": dict(self.timing_sources),
            }

    @classmethod
    def from_export(cls, data: dict[str, Any]) -> StreamStats:
        stats = cls()
        for k, encoded in data["histograms"].items():
            if k in stats.hist:  # a histogram a later version adds is left out, not an error
                stats.hist[k] = HdrHistogram.decode(encoded)
        for k in COUNTERS:
            setattr(stats, k, int(data["counters"].get(k, 0)))
        stats.timing_sources.update(data.get("timing_sources", {}))
        return stats

    def merge(self, other: StreamStats) -> None:
        with self._lock:
            for k, h in self.hist.items():
                h.add(other.hist[k])
            for k in COUNTERS:
                setattr(self, k, getattr(self, k) + getattr(other, k))
            self.timing_sources.update(other.timing_sources)
