"""Every histogram quantile carries the bucket it fell in (#25): a 0.45 ms service whose observations all
land in the first bucket (le 5 ms) reads "p95 4.75 ms" by interpolation; the console shows "≤ 5 ms" and the
JSON says the bucket is wider than the value."""

from __future__ import annotations

import math

import pytest

from streamflow_tui.core import compute
from streamflow_tui.core.format import quantile
from streamflow_tui.core.promql import histogram_quantile
from streamflow_tui.core.report import bounds_json
from streamflow_tui.core.results import Bucket, Latency, QuantileBounds


def buckets(*pairs: tuple[float, float]) -> tuple[Bucket, ...]:
    return tuple(Bucket(le, count) for le, count in pairs)


def test_everything_in_the_first_bucket_is_shown_as_its_upper_edge():
    h = buckets((0.005, 100), (0.01, 0), (math.inf, 0))
    lat = compute.with_bounds(Latency(p50=0.0025, p95=0.00475, p99=0.00495), h)
    b = lat.bounds_of("p95")
    assert (b.lower, b.upper) == (0.0, 0.005) and b.coarse(lat.p95)
    assert quantile(lat.p95, b) == "≤ 5 ms"
    doc = bounds_json(lat)
    assert doc["p95"] == {"lower": 0.0, "upper": 0.005, "coarse": True, "shown": "≤ 5 ms"}


def test_a_narrow_bucket_keeps_the_interpolated_value():
    h = buckets((0.1, 0), (0.11, 100), (math.inf, 0))
    lat = compute.with_bounds(Latency(p95=0.1095), h)
    b = lat.bounds_of("p95")
    assert (b.lower, b.upper) == (0.1, 0.11) and not b.coarse(lat.p95)
    assert quantile(lat.p95, b) == "109.50 ms"


def test_a_wide_middle_bucket_and_the_inf_bucket_show_their_edges():
    wide = compute.with_bounds(Latency(p50=0.3), buckets((0.1, 0), (0.5, 10), (math.inf, 0)))
    assert quantile(0.3, wide.bounds_of("p50")) == "100 ms–500 ms"
    tail = compute.with_bounds(Latency(p99=1.0), buckets((0.5, 1), (1.0, 1), (math.inf, 98)))
    b = tail.bounds_of("p99")
    assert b.upper == math.inf and quantile(1.0, b) == "> 1 s"
    assert bounds_json(tail)["p99"]["upper"] == "+Inf"


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_the_bucket_is_the_one_histogram_quantile_interpolates_in(q):
    les = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, math.inf)
    counts = (3, 10, 40, 30, 10, 5, 2)
    h = buckets(*zip(les, counts, strict=True))
    cumulative, running = [], 0.0
    for le, c in zip(les, counts, strict=True):
        running += c
        cumulative.append((le, running))
    value = histogram_quantile(q, cumulative)
    b = compute.bucket_of(q, h)
    assert b is not None and b.lower <= value <= b.upper


def test_summaries_and_averages_have_no_bounds():
    assert bounds_json(Latency(avg=0.01, p95=0.02)) is None
    assert compute.bucket_of(0.95, buckets((0.005, 0), (math.inf, 0))) is None  # no observations
    assert quantile(0.02, None) == "20.00 ms" and QuantileBounds(0.0, 0.005).coarse(0.001)
