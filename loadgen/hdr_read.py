"""Fast reads of an ``hdrh`` histogram: percentiles, mean, stddev and bucket sums with numpy.

hdrh's own readers walk all 20,480 counts in Python (~9 ms per percentile
query, ~400 ms for ``get_mean_value``). The load engine's thread records while
another thread reads snapshots, so a slow read holds the GIL and shows up as
latency in the very requests being measured. These functions give the same
numbers as hdrh's (a test compares them) from one copy of the counts array.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from hdrh.histogram import HdrHistogram


@lru_cache(maxsize=4)
def _layout(lowest: int, highest: int, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per count index: highest and median equivalent value (hdrh's definitions, vectorised: hdrh's own
    per-index calls took ~70 ms; ``tests/test_segments.py`` compares the two for several layouts)."""
    h = HdrHistogram(lowest, highest, digits)
    index = np.arange(h.counts_len, dtype=np.int64)
    bucket = (index >> h.sub_bucket_half_count_magnitude) - 1
    sub = (index & (h.sub_bucket_half_count - 1)) + h.sub_bucket_half_count
    first = bucket < 0  # bucket 0 uses its whole sub-bucket range
    sub[first] -= h.sub_bucket_half_count
    bucket[first] = 0
    lowest_equivalent = sub << (bucket + h.unit_magnitude)  # get_value_from_index
    size = np.left_shift(1, bucket + h.unit_magnitude)  # size_of_equivalent_value_range
    return (lowest_equivalent + size - 1).astype(np.float64), (lowest_equivalent + (size >> 1)).astype(np.float64)


def counts(h: HdrHistogram) -> np.ndarray:
    """A copy of the counts (take it under the lock that guards recording)."""
    return np.ctypeslib.as_array(h.counts).astype(np.int64)


def _arrays(h: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    return _layout(h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)


def percentiles(h: HdrHistogram, c: np.ndarray, pcts: tuple[float, ...]) -> dict[float, int]:
    """``h.get_percentile_to_value_dict(pcts)`` for counts ``c`` (every percentile > 0)."""
    total = int(c.sum())
    cumulative = np.cumsum(c)
    high, _ = _arrays(h)
    out = {}
    for p in pcts:
        target = max(1, int(min(p, 100.0) * total / 100 + 0.5))
        out[p] = int(high[int(np.searchsorted(cumulative, target, side="left"))])
    return out


def mean_stddev(h: HdrHistogram, c: np.ndarray) -> tuple[float, float]:
    """``h.get_mean_value()`` and ``h.get_stddev()``: from each bucket's median equivalent value."""
    total = int(c.sum())
    if not total:
        return 0.0, 0.0
    _, median = _arrays(h)
    mean = float(np.dot(c, median)) / total
    return mean, math.sqrt(float(np.dot(c, (median - mean) ** 2)) / total)


def equal_width_bars(h: HdrHistogram, c: np.ndarray, lo: float, hi: float, bars: int) -> list[int]:
    """Counts in ``bars`` equal-width buckets from ``lo``: each count index by its highest equivalent value."""
    high, _ = _arrays(h)
    width = max(1.0, (hi - lo) / (bars - 1))
    recorded = c > 0
    index = np.minimum(bars - 1, ((high[recorded] - lo) / width).astype(np.int64))
    return np.bincount(index, weights=c[recorded], minlength=bars).astype(np.int64).tolist()
