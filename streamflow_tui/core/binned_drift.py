"""Evidently's drift tests computed on binned counts, not rows (#28): what a metrics backend holds.

Evidently, for a reference of more than 1,000 rows (the training month has 7,000), applies the normed
Wasserstein distance (≥ 0.1) to numeric columns with more than 5 distinct values and the Jensen–Shannon
distance (≥ 0.1) otherwise; the label gets the two-proportion z-test (p < 0.05, core/drift.py). On bins:

- **Jensen–Shannon** on categories is exact: the categories are the reference's, and Evidently's own keys are the
  values of both sides. A category the reference lacks is counted as ``other``: one such category is exact, two or
  more are merged, which can only lower the distance (data processing inequality).
- **z-test** on the label's counts is exact.
- **normed Wasserstein** = ∫|F_ref − F_cur| dx / std(ref). The CDFs are known exactly at the bin edges; outside the
  reference's range the integral is exact from the summed distances beyond it (``api_feature_outside_total``);
  inside a bin both CDFs are interpolated (linearly for real values, in steps at each integer for integer ones).
  ``wasserstein_bounds`` gives the exact interval the true distance lies in, whatever the rows inside each bin.
- **PSI** (an extra, not in the decision) on the same bins, with Evidently's 0.0001 for empty bins.

Missing values are left out of every test, as Evidently drops them; their shares are reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .distribution import Distribution
from .drift import LABEL_THRESHOLD, ColumnDrift

THRESHOLD = 0.1  # Evidently's default for both distances
FEW_VALUES = 5  # Evidently: a numeric column with at most this many distinct values gets Jensen–Shannon
PSI_EMPTY = 0.0001  # Evidently fills an empty bin's share with this before PSI
STD_FLOOR = 0.001  # Evidently's floor on the Wasserstein norm
LABEL = "churn_label"


@dataclass(frozen=True)
class NumericCounts:
    edges: tuple[float, ...]  # the reference's bin edges (le), increasing
    cumulative: tuple[float, ...]  # rows with a value ≤ each edge, then all rows with a value (+Inf)
    missing: float = 0.0
    below: float = 0.0  # summed distance of values below edges[0]
    above: float = 0.0  # … above edges[-1]

    @property
    def total(self) -> float:
        return self.cumulative[-1] if self.cumulative else 0.0

    def buckets(self) -> list[float]:
        """Rows per bucket: ≤ edges[0], (edges[j-1], edges[j]], > edges[-1]."""
        c = self.cumulative
        return [c[0], *(max(0.0, b - a) for a, b in zip(c, c[1:]))]


@dataclass(frozen=True)
class CategoricalCounts:
    categories: tuple[str, ...]  # the reference's categories, then "other"
    counts: tuple[float, ...]
    missing: float = 0.0

    @property
    def total(self) -> float:
        return float(sum(self.counts))


@dataclass(frozen=True)
class BinnedSample:
    """One side of a comparison: per-feature counts on the reference's bins, and the label's (0, 1) counts."""

    numeric: dict[str, NumericCounts] = field(default_factory=dict)
    categorical: dict[str, CategoricalCounts] = field(default_factory=dict)
    label: tuple[float, float] | None = None

    @property
    def rows(self) -> int:
        sides = [n.total + n.missing for n in self.numeric.values()]
        sides += [c.total + c.missing for c in self.categorical.values()]
        return int(round(max(sides))) if sides else 0


@dataclass(frozen=True)
class Reference(BinnedSample):
    std: dict[str, float] = field(default_factory=dict)  # population std of each numeric feature
    integral: dict[str, bool] = field(default_factory=dict)  # integer-valued numeric features


@dataclass(frozen=True)
class ColumnExtra:
    """What a binned column adds to Evidently's figures: PSI, and the interval the row-level score lies in."""

    column: str
    psi: float | None
    lower: float | None  # the true normed Wasserstein distance is in [lower, upper] (None: the test is exact)
    upper: float | None


def _cdf(n: NumericCounts) -> list[float]:
    total = n.total
    return [c / total for c in n.cumulative[:-1]] if total else [0.0] * len(n.edges)


def _interior(a: float, b: float, width: float, integral: bool) -> float:
    """∫|d| over one bin, d going from a (at its left edge) to b (at its right edge)."""
    if integral and width >= 1 and abs(width - round(width)) < 1e-9:
        k = int(round(width))  # integers e+1 … e+k: the CDFs step at each one, flat between
        return sum(abs(a + (b - a) * i / k) for i in range(k))
    if a * b >= 0:
        return width * (abs(a) + abs(b)) / 2
    return width * (a * a + b * b) / (2 * (abs(a) + abs(b)))  # d crosses zero inside the bin


def wasserstein(ref: NumericCounts, cur: NumericCounts, integral: bool) -> float:
    """∫|F_ref − F_cur| dx (not normed) from the counts."""
    fp, fq, e = _cdf(ref), _cdf(cur), ref.edges
    total = cur.total
    outside = (cur.below + cur.above) / total if total else 0.0
    inside = sum(_interior(fp[j - 1] - fq[j - 1], fp[j] - fq[j], e[j] - e[j - 1], integral) for j in range(1, len(e)))
    return outside + inside


def wasserstein_weights(edges: tuple[float, ...], integral: bool) -> list[float]:
    """Per edge, the weight w such that Σ w·|d(edge)| equals ``wasserstein``'s inside part whenever d keeps its
    sign within each bin (the PromQL rules' form, streamflow_tui/rules.py; where d changes sign inside a bin this
    is the larger, trapezoid value)."""
    weights = [0.0] * len(edges)
    for j in range(1, len(edges)):
        width = edges[j] - edges[j - 1]
        if integral and width >= 1 and abs(width - round(width)) < 1e-9:
            k = round(width)  # Σ_{i<k} |a + (b-a) i/k| = |a| (k+1)/2 + |b| (k-1)/2 for a, b of one sign
            weights[j - 1] += (k + 1) / 2
            weights[j] += (k - 1) / 2
        else:
            weights[j - 1] += width / 2
            weights[j] += width / 2
    return weights


def wasserstein_bounds(ref: NumericCounts, cur: NumericCounts) -> tuple[float, float]:
    """The interval ∫|F_ref − F_cur| lies in for any rows with these counts: inside a bin both CDFs are
    monotone between their values at its edges."""
    fp, fq, e = _cdf(ref), _cdf(cur), ref.edges
    total = cur.total
    lo = hi = (cur.below + cur.above) / total if total else 0.0
    for j in range(1, len(e)):
        width = e[j] - e[j - 1]
        hi += width * max(fp[j] - fq[j - 1], fq[j] - fp[j - 1], 0.0)
        lo += width * max(fp[j - 1] - fq[j], fq[j - 1] - fp[j], 0.0)
    return lo, hi


def jensen_shannon(p_counts: list[float], q_counts: list[float]) -> float:
    """scipy's jensenshannon (natural log), as Evidently calls it, on the shares of two count vectors."""
    sp, sq = sum(p_counts), sum(q_counts)
    p = [x / sp for x in p_counts]
    q = [x / sq for x in q_counts]
    divergence = 0.0
    for a, b in zip(p, q):
        m = (a + b) / 2
        if a > 0:
            divergence += a * math.log(a / m) / 2
        if b > 0:
            divergence += b * math.log(b / m) / 2
    return math.sqrt(max(divergence, 0.0))


def psi(p_counts: list[float], q_counts: list[float]) -> float:
    sp, sq = sum(p_counts), sum(q_counts)
    p = [x / sp or PSI_EMPTY for x in p_counts]
    q = [x / sq or PSI_EMPTY for x in q_counts]
    return float(sum((a - b) * math.log(a / b) for a, b in zip(p, q)))


def z_test(ref: tuple[float, float], cur: tuple[float, float]) -> float:
    """Two-sided p-value of the two-proportion z-test (Evidently's ``z``) on (label 0, label 1) counts."""
    n1, n2 = sum(ref), sum(cur)
    p1, p2 = ref[1] / n1, cur[1] / n2
    pooled = (ref[1] + cur[1]) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    return math.erfc(abs(p1 - p2) / spread / math.sqrt(2))


def _shares(counts: list[float]) -> tuple[float, ...]:
    total = sum(counts)
    return tuple(c / total if total else 0.0 for c in counts)


def _missing(counts: NumericCounts | CategoricalCounts) -> float:
    rows = counts.total + counts.missing
    return counts.missing / rows if rows else 0.0


def numeric_column(
    name: str, ref: NumericCounts, cur: NumericCounts, std: float, integral: bool
) -> tuple[ColumnDrift, ColumnExtra]:
    pb, qb = ref.buckets(), cur.buckets()
    labels = (f"≤{ref.edges[0]:.3g}", *(f"≤{e:.3g}" for e in ref.edges[1:]), f">{ref.edges[-1]:.3g}")
    distribution = Distribution(
        labels, _shares(pb), _shares(qb), _missing(ref), _missing(cur), "the reference's bins (Prometheus counters)"
    )
    # Distinct values are at least the buckets holding any; more than FEW_VALUES buckets means more values.
    occupied = sum(1 for a, b in zip(pb, qb) if a or b)
    if occupied <= FEW_VALUES:
        score = jensen_shannon(pb, qb)
        column = ColumnDrift(name, "num", "jensenshannon", score, THRESHOLD, score >= THRESHOLD, distribution)
        return column, ColumnExtra(name, psi(pb, qb), None, None)
    norm = max(std, STD_FLOOR)
    score = wasserstein(ref, cur, integral) / norm
    lo, hi = wasserstein_bounds(ref, cur)
    column = ColumnDrift(name, "num", "wasserstein", score, THRESHOLD, score >= THRESHOLD, distribution)
    return column, ColumnExtra(name, psi(pb, qb), lo / norm, hi / norm)


def categorical_column(name: str, ref: CategoricalCounts, cur: CategoricalCounts) -> tuple[ColumnDrift, ColumnExtra]:
    p, q = list(ref.counts), list(cur.counts)
    distribution = Distribution(
        ref.categories, _shares(p), _shares(q), _missing(ref), _missing(cur), "the reference's categories"
    )
    score = jensen_shannon(p, q)
    column = ColumnDrift(name, "cat", "jensenshannon", score, THRESHOLD, score >= THRESHOLD, distribution)
    return column, ColumnExtra(name, psi(p, q), None, None)


def label_column(ref: tuple[float, float], cur: tuple[float, float]) -> tuple[ColumnDrift, ColumnExtra]:
    p = z_test(ref, cur)
    distribution = Distribution(("0", "1"), _shares(list(ref)), _shares(list(cur)), 0.0, 0.0, "labels")
    column = ColumnDrift(LABEL, "cat", "z", p, LABEL_THRESHOLD, p < LABEL_THRESHOLD, distribution)
    return column, ColumnExtra(LABEL, psi(list(ref), list(cur)), None, None)


def compare(
    reference: Reference, current: BinnedSample, *, min_labels: int = 30
) -> list[tuple[ColumnDrift, ColumnExtra]]:
    """Every feature both sides count (in the reference's order), then the label when both sides have at
    least ``min_labels`` labels."""
    out = []
    for name, ref in reference.numeric.items():
        cur = current.numeric.get(name)
        if cur is not None and cur.total > 0 and ref.total > 0 and cur.edges == ref.edges:
            out.append(
                numeric_column(name, ref, cur, reference.std.get(name, 0.0), reference.integral.get(name, False))
            )
    for name, cref in reference.categorical.items():
        ccur = current.categorical.get(name)
        if ccur is not None and ccur.total > 0 and cref.total > 0 and ccur.categories == cref.categories:
            out.append(categorical_column(name, cref, ccur))
    if reference.label and current.label and min(sum(reference.label), sum(current.label)) >= min_labels:
        out.append(label_column(reference.label, current.label))
    return out
