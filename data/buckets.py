"""Histogram buckets shared by the API, the load generator and the console: the same edges everywhere, so
a client histogram and a server histogram read side by side, bucket for bucket."""

from __future__ import annotations

# 0.5 ms to 10 s: sub-millisecond model calls up to timeouts.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
# 0.01 wide: fine enough that AUC from bucket counts (binned Mann-Whitney) is within 0.01 of the exact
# one (docs/PERFORMANCE.md); the console shows them merged into 0.05-wide bars.
PROBABILITY_BUCKETS = tuple(round(0.01 * i, 2) for i in range(1, 101))
