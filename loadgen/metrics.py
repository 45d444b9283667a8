"""``--metrics-port``: this load process's own client-side metrics, in Prometheus format.

One Prometheus (or the console) scraping every load process of a run sees the whole run live: sum by
``segment``. Read from the run's ``LoadStats`` at scrape time, so the counters are the result file's.
Latency is exposed as a Prometheus histogram whose buckets are counted from the HDR histogram (values
at or below each bound, by HDR's highest equivalent value: exact for the HDR data, 3 significant digits).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from streamflow_data.buckets import LATENCY_BUCKETS  # the API's own buckets: the two histograms read side by side

from . import hdr_read
from .stats import LoadStats

NO_ANSWER_KINDS_EXCLUDED = ("http_4xx", "http_5xx")  # errors that are answers: counted by their HTTP code


class LoadCollector(Collector):
    def __init__(self, stats: LoadStats, segment: str, run_id: str, host: str, rate: float | None):
        self.stats = stats
        self.segment = segment
        self.info = {"segment": segment, "run_id": run_id, "host": host}
        self.rate = rate

    def collect(self) -> Iterator:
        seg = [self.segment]
        v = self.stats.metrics_view()
        requests = CounterMetricFamily(
            "streamflow_load_requests",
            "Requests this load process completed, by outcome (success|error) and HTTP code or error kind.",
            labels=["segment", "status", "code"],
        )
        for code, n in sorted(v["status_codes"].items()):
            requests.add_metric([self.segment, "error" if int(code) >= 400 else "success", code], n)
        for kind, n in sorted(v["error_kinds"].items()):
            if kind not in NO_ANSWER_KINDS_EXCLUDED:
                requests.add_metric([self.segment, "error", kind], n)
        yield requests
        for name, key, text in (
            ("streamflow_load_sent", "sent", "Requests sent."),
            (
                "streamflow_load_late_sends",
                "late",
                "Open model: requests sent more than 10 ms after their intended time.",
            ),
            ("streamflow_load_not_sent", "not_sent", "Open model: scheduled requests never sent before the end."),
            ("streamflow_load_cancelled", "cancelled", "Requests in flight cancelled at a stop."),
            (
                "streamflow_load_retried",
                "retried",
                "Requests sent a second time: the target closed the idle keep-alive connection they went out on.",
            ),
        ):
            family = CounterMetricFamily(name, text, labels=["segment"])
            family.add_metric(seg, v[key])
            yield family
        in_flight = GaugeMetricFamily(
            "streamflow_load_in_flight", "Requests sent and not yet done.", labels=["segment"]
        )
        in_flight.add_metric(seg, v["sent"] - v["ok"] - v["errors"] - v["cancelled"])
        yield in_flight
        if self.rate is not None:
            rate = GaugeMetricFamily(
                "streamflow_load_target_rate",
                "Open model: this process's share of the rate, req/s.",
                labels=["segment"],
            )
            rate.add_metric(seg, self.rate)
            yield rate
        info = GaugeMetricFamily(
            "streamflow_load_segment_info", "The run this process is a segment of (value 1).", labels=list(self.info)
        )
        info.add_metric(list(self.info.values()), 1)
        yield info
        latency = HistogramMetricFamily(
            "streamflow_load_latency_seconds",
            "Answered requests' latency seen by the client: corrected (from the intended send time) and uncorrected.",
            labels=["segment", "kind"],
        )
        for kind in ("corrected", "uncorrected"):
            buckets, total = bucket_counts(self.stats, v[kind])
            latency.add_metric([self.segment, kind], buckets, total)
        yield latency
        if self.stats.stream is not None:
            yield from self._stream(self.stats.stream.metrics_view())

    def _stream(self, v: dict) -> Iterator:
        """--stream: tokens, complete streams, TTFT (both ways) and ITL, from the stream's HDR histograms."""
        seg = [self.segment]
        for name, key, text in (
            ("streamflow_load_tokens", "tokens", "Tokens received in streamed completions."),
            ("streamflow_load_streams", "streams", "Streams that ended with data: [DONE]."),
        ):
            family = CounterMetricFamily(name, text, labels=["segment"])
            family.add_metric(seg, v[key])
            yield family
        ttft = HistogramMetricFamily(
            "streamflow_load_ttft_seconds",
            "Time to first token seen by the client: corrected (from the intended send time) and uncorrected.",
            labels=["segment", "kind"],
        )
        for kind in ("corrected", "uncorrected"):
            buckets, total = bucket_counts(self.stats, v[f"ttft_{kind}"])
            ttft.add_metric([self.segment, kind], buckets, total)
        yield ttft
        itl = HistogramMetricFamily(
            "streamflow_load_itl_seconds", "Gaps between a stream's tokens seen by the client.", labels=["segment"]
        )
        buckets, total = bucket_counts(self.stats, v["itl"])
        itl.add_metric(seg, buckets, total)
        yield itl


def bucket_counts(stats: LoadStats, counts: np.ndarray) -> tuple[list[tuple[str, float]], float]:
    """Cumulative Prometheus buckets and the sum (seconds) from an HDR counts array."""
    high, median = hdr_read._arrays(stats.corrected)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1]) if len(cumulative) else 0
    out = []
    for le in LATENCY_BUCKETS:
        i = int(np.searchsorted(high, le * 1e6, side="right"))  # indexes whose values are all <= le
        out.append((floatToGoString(le), float(cumulative[i - 1]) if i else 0.0))
    out.append(("+Inf", float(total)))
    return out, float(np.dot(counts, median)) / 1e6


def serve(
    stats: LoadStats, *, port: int, host: str, segment: str, run_id: str, hostname: str, rate: float | None
) -> object:
    """Start serving ``/metrics`` on ``host:port`` in a daemon thread; returns the server (``shutdown()``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoadCollector(stats, segment, run_id, hostname, rate))
    started = start_http_server(port, addr=host, registry=registry)
    return started[0] if isinstance(started, tuple) else started
