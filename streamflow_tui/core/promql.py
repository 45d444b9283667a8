"""Prometheus's ``rate()``, ``increase()`` and ``histogram_quantile()`` on raw samples.

These reproduce Prometheus 2.42 (promql/functions.go ``extrapolatedRate`` and
promql/quantile.go ``bucketQuantile``) operation for operation, so the console
computes from raw scrapes the numbers a Prometheus server would compute from
the same samples. tests/test_promql_reference.py checks them against a real
Prometheus 2.42 on identical samples.

Timestamps are integer milliseconds, as in Prometheus; a range selector
``[range]`` evaluated at ``t`` selects the samples with ``t - range <= ts <= t``
(both ends inclusive in Prometheus 2.x).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Sample = tuple[int, float]  # (timestamp in ms, value)


def select_range(samples: Sequence[Sample], eval_ms: int, range_ms: int) -> list[Sample]:
    """The samples a range selector ``[range_ms]`` sees when evaluated at ``eval_ms``."""
    start = eval_ms - range_ms
    return [s for s in samples if start <= s[0] <= eval_ms]


def extrapolated_rate(
    samples: Sequence[Sample], eval_ms: int, range_ms: int, *, is_counter: bool = True, is_rate: bool = True
) -> float | None:
    """``rate()`` (is_rate) or ``increase()`` of ``samples`` already selected for ``[range_ms]`` at ``eval_ms``.

    Returns None where Prometheus returns no sample (fewer than two points).
    Counter resets (a value lower than the previous one) are compensated, and
    the result is extrapolated towards the range's ends unless the gap to an
    end is more than 1.1 average sample intervals, in which case half an
    interval is assumed; a counter is never extrapolated below zero.
    """
    if len(samples) < 2:
        return None
    range_start = eval_ms - range_ms
    first_t, first_v = samples[0]
    last_t, last_v = samples[-1]

    result = last_v - first_v
    if is_counter:
        last_value = 0.0
        for _, value in samples:
            if value < last_value:
                result += last_value
            last_value = value

    duration_to_start = (first_t - range_start) / 1000
    duration_to_end = (eval_ms - last_t) / 1000
    sampled_interval = (last_t - first_t) / 1000
    average_between_samples = sampled_interval / (len(samples) - 1)

    if is_counter and result > 0 and first_v >= 0:
        duration_to_zero = sampled_interval * (first_v / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero

    threshold = average_between_samples * 1.1
    extrapolate_to = sampled_interval
    extrapolate_to += duration_to_start if duration_to_start < threshold else average_between_samples / 2
    extrapolate_to += duration_to_end if duration_to_end < threshold else average_between_samples / 2

    factor = _go_divide(extrapolate_to, sampled_interval)
    if is_rate:
        factor /= range_ms / 1000
    return result * factor


def rate(samples: Sequence[Sample], eval_ms: int, range_ms: int) -> float | None:
    """``rate(x[range])`` at ``eval_ms`` over the full (unselected) sample list."""
    return extrapolated_rate(select_range(samples, eval_ms, range_ms), eval_ms, range_ms)


def increase(samples: Sequence[Sample], eval_ms: int, range_ms: int) -> float | None:
    """``increase(x[range])`` at ``eval_ms`` over the full (unselected) sample list."""
    return extrapolated_rate(select_range(samples, eval_ms, range_ms), eval_ms, range_ms, is_rate=False)


def parse_le(text: str) -> float | None:
    """An ``le`` label value as Prometheus reads it (``"1"``, ``"1.0"``, ``"+Inf"``…); None if unparsable."""
    try:
        return float(text)
    except ValueError:
        return None


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """``histogram_quantile(q, …)`` for one series group, from (upper bound, cumulative count) pairs.

    Returns NaN where Prometheus does: no observations, fewer than two
    buckets, no +Inf bucket, or q = NaN; -Inf / +Inf for q < 0 / q > 1.
    Buckets with the same bound (``le="1"`` and ``le="1.0"``) are summed, and
    counts that decrease with the bound are raised to the running maximum.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan

    coalesced: list[list[float]] = []
    for bound, count in ordered:
        if coalesced and coalesced[-1][0] == bound:
            coalesced[-1][1] += count
        else:
            coalesced.append([bound, count])
    running_max = -math.inf
    for b in coalesced:
        if b[1] > running_max:
            running_max = b[1]
        elif b[1] < running_max:
            b[1] = running_max

    if len(coalesced) < 2:
        return math.nan
    observations = coalesced[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # Go's sort.Search over all but the +Inf bucket, kept as a binary search so
    # that NaN counts lead it where they lead Prometheus.
    lo, hi = 0, len(coalesced) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if coalesced[mid][1] >= rank:
            hi = mid
        else:
            lo = mid + 1
    index = lo
    if index == len(coalesced) - 1:
        return coalesced[-2][0]
    if index == 0 and coalesced[0][0] <= 0:
        return coalesced[0][0]
    bucket_start = 0.0
    bucket_end, count = coalesced[index]
    if index > 0:
        bucket_start = coalesced[index - 1][0]
        count -= coalesced[index - 1][1]
        rank -= coalesced[index - 1][1]
    return bucket_start + (bucket_end - bucket_start) * _go_divide(rank, count)


def _go_divide(a: float, b: float) -> float:
    """IEEE 754 division as Go does it: x/0 is ±Inf and 0/0 is NaN instead of an exception."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)
