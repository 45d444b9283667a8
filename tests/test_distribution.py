"""Reference vs current distributions on shared bins (the Drift view's side-by-side panel), against numpy
and pandas computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamflow_data import load_frame
from streamflow_tui.core.distribution import categorical, numeric


def test_numeric_bins_are_shared_and_fold_the_tails():
    rng = np.random.default_rng(1)
    ref = rng.normal(10, 2, 5000)
    cur = np.concatenate([rng.normal(13, 2, 4900), [1e6] * 50, [np.nan] * 50])  # an outlier tail and missing values
    d = numeric(ref, cur)
    assert len(d.labels) == len(d.reference) == len(d.current) == 10
    assert sum(d.reference) == pytest.approx(1) and sum(d.current) == pytest.approx(1)
    assert d.missing_reference == 0 and d.missing_current == pytest.approx(50 / 5000)
    # The 1e6 values are in the last bin, not stretching the scale: the bins span the 1st-99th percentiles.
    both = np.concatenate([ref, cur[~np.isnan(cur)]])
    low, high = np.quantile(both, [0.01, 0.99])
    assert d.labels[-1] == f">{np.linspace(low, high, 11)[-2]:.3g}"
    assert d.current[-1] >= 50 / 4950
    # The shift shows: the current side's mass sits in higher bins.
    centre = lambda shares: sum(i * s for i, s in enumerate(shares))  # noqa: E731
    assert centre(d.current) > centre(d.reference) + 1


def test_few_distinct_values_get_a_bin_each():
    d = numeric([0, 0, 1, 2, 2, 2], [1, 1, 3])
    assert d.labels == ("0", "1", "2", "3")
    assert d.reference == pytest.approx((2 / 6, 1 / 6, 3 / 6, 0)) and d.current == pytest.approx((0, 2 / 3, 0, 1 / 3))


def test_categories_beyond_the_top_are_other_and_missing_is_counted():
    ref = ["a"] * 50 + ["b"] * 30 + [c for c in "cdefghijk"] + [None]
    cur = ["b"] * 60 + ["a"] * 20 + ["z"] * 10 + [math.nan] * 10
    d = categorical(ref, cur, top=3)
    assert d.labels == ("a", "b", "c", "other")
    assert d.reference == pytest.approx((50 / 89, 30 / 89, 1 / 89, 8 / 89))
    assert d.current == pytest.approx((20 / 90, 60 / 90, 0, 10 / 90))
    assert d.missing_reference == pytest.approx(1 / 90) and d.missing_current == pytest.approx(0.1)


def test_bundled_months_match_pandas():
    ref, cur = load_frame("month_000"), load_frame("month_003")
    d = categorical(ref["net_service"].tolist(), cur["net_service"].tolist())
    for label, r, c in zip(d.labels, d.reference, d.current):
        assert r == pytest.approx((ref["net_service"] == label).mean())
        assert c == pytest.approx((cur["net_service"] == label).mean())
    fee = numeric(ref["monthly_fee"].to_numpy(float), cur["monthly_fee"].to_numpy(float))
    # month_003 raises fees (docs/DATA.md): the current side's lowest bin empties, its top bin fills.
    assert fee.current[0] < fee.reference[0] / 10 and fee.current[-1] > 4 * fee.reference[-1]
