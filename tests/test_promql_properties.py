"""Properties of the PromQL functions that hold whatever the samples."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from streamflow_tui.core.promql import extrapolated_rate, histogram_quantile, increase, rate, select_range

counts = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(slope=st.floats(0, 1e4), start=counts, n=st.integers(2, 60), step_ms=st.integers(100, 60_000))
def test_regular_linear_counter_rates_at_its_slope(slope, start, n, step_ms):
    samples = [(i * step_ms, start + slope * i * step_ms / 1000) for i in range(n)]
    range_ms = (n - 1) * step_ms
    got = rate(samples, range_ms, range_ms)
    assert math.isclose(got, slope, rel_tol=1e-9, abs_tol=1e-9)


@given(
    values=st.lists(counts, min_size=2, max_size=50), step_ms=st.integers(500, 30_000), tail_ms=st.integers(0, 60_000)
)
def test_counter_increase_is_never_negative(values, step_ms, tail_ms):
    samples = [(i * step_ms, v) for i, v in enumerate(values)]
    eval_ms = samples[-1][0] + tail_ms
    got = increase(samples, eval_ms, eval_ms + 1)
    assert got is None or got >= 0


@given(
    before=st.lists(counts, min_size=1, max_size=10).map(sorted),
    after=st.lists(counts, min_size=1, max_size=10).map(sorted),
)
def test_a_restart_counts_what_came_after_it(before, after):
    assume(after[0] < before[-1])  # the restart is visible as a drop
    values = before + after
    samples = [(i * 1000, v) for i, v in enumerate(values)]
    # The range spans exactly the samples, so no extrapolation is applied.
    got = extrapolated_rate(samples, samples[-1][0], samples[-1][0], is_rate=False)
    expected = (before[-1] - before[0]) + after[-1]
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-6)


def test_fewer_than_two_samples_give_no_result():
    assert rate([], 10_000, 5_000) is None
    assert rate([(9_000, 3.0)], 10_000, 5_000) is None
    assert select_range([(4_999, 1.0), (5_000, 2.0), (10_000, 3.0), (10_001, 4.0)], 10_000, 5_000) == [
        (5_000, 2.0),
        (10_000, 3.0),
    ]


bounds = st.lists(st.floats(0.0001, 100, allow_nan=False), min_size=1, max_size=8, unique=True).map(sorted)


@st.composite
def histograms(draw):
    les = draw(bounds)
    increments = draw(st.lists(st.integers(0, 100), min_size=len(les) + 1, max_size=len(les) + 1))
    cumulative, total = [], 0
    for le, inc in zip([*les, math.inf], increments):
        total += inc
        cumulative.append((le, float(total)))
    return cumulative


def _zero_rank_in_an_empty_first_bucket(h, q) -> bool:
    """Prometheus 2.42 answers NaN there: rank 0 lands in bucket 0 and Go divides 0 by its 0 count."""
    return q == 0 and h[0][1] == 0


def test_q_zero_with_an_empty_first_bucket_is_nan_as_in_prometheus():
    assert math.isnan(histogram_quantile(0.0, [(1.0, 0.0), (math.inf, 1.0)]))
    assert histogram_quantile(0.0, [(1.0, 2.0), (math.inf, 3.0)]) == 0.0


@given(h=histograms(), q1=st.floats(0, 1), q2=st.floats(0, 1))
def test_quantile_grows_with_q(h, q1, q2):
    assume(h[-1][1] > 0)
    lo, hi = sorted((q1, q2))
    assume(not _zero_rank_in_an_empty_first_bucket(h, lo))
    assert histogram_quantile(lo, h) <= histogram_quantile(hi, h) + 1e-12


@given(h=histograms(), q=st.floats(0, 1))
def test_quantile_stays_within_the_finite_bounds(h, q):
    assume(h[-1][1] > 0)
    assume(not _zero_rank_in_an_empty_first_bucket(h, q))
    got = histogram_quantile(q, h)
    assert 0 <= got <= max(b for b, _ in h if not math.isinf(b))


@given(h=histograms(), q=st.floats(0, 1), split=st.floats(0, 1))
def test_duplicate_le_spellings_are_one_bucket(h, q, split):
    assume(h[-1][1] > 0)
    le, count = h[0]
    as_two = [(le, count * split), (float(repr(le)), count * (1 - split)), *h[1:]]
    one, two = histogram_quantile(q, h), histogram_quantile(q, as_two)
    assert (math.isnan(one) and math.isnan(two)) or math.isclose(two, one, rel_tol=1e-9, abs_tol=1e-12)


def test_edge_cases():
    inf = math.inf
    assert math.isnan(histogram_quantile(0.5, []))
    assert math.isnan(histogram_quantile(0.5, [(1.0, 3.0)]))  # no +Inf bucket
    assert math.isnan(histogram_quantile(0.5, [(inf, 3.0)]))  # one bucket
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (inf, 0.0)]))  # no observations
    assert math.isnan(histogram_quantile(math.nan, [(1.0, 1.0), (inf, 1.0)]))
    assert histogram_quantile(-0.1, [(1.0, 1.0), (inf, 1.0)]) == -inf
    assert histogram_quantile(1.1, [(1.0, 1.0), (inf, 1.0)]) == inf
    assert histogram_quantile(0.99, [(1.0, 1.0), (inf, 10.0)]) == 1.0  # in +Inf: the highest finite bound
    assert histogram_quantile(0.5, [(1.0, 10.0), (inf, 10.0)]) == 0.5  # lowest bucket interpolates from 0
    assert histogram_quantile(0.5, [(-1.0, 10.0), (inf, 10.0)]) == -1.0  # lowest bound <= 0 is returned
    assert histogram_quantile(0.5, [(1.0, 6.0), (2.0, 4.0), (inf, 10.0)]) == histogram_quantile(
        0.5, [(1.0, 6.0), (2.0, 6.0), (inf, 10.0)]
    )
