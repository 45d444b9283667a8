"""The HDR histograms' layout, shared by the request statistics (``stats.py``) and the stream ones
(``stream_stats.py``): one place, so the two read and merge alike (and neither imports the other's module)."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

MAX_LATENCY_US = 300_000_000  # 5 minutes; longer latencies are recorded at this value
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_LATENCY_US, 3)


def pct_key(p: float) -> str:
    return f"p{p:g}".replace(".", "_")
