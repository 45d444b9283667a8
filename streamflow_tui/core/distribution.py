"""One column's reference and current distributions on shared bins, for a side-by-side view.

Computed in the drift worker from the same rows Evidently compared (numpy is
imported there, not in the console's process); the console only draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMERIC_BINS = 10
MAX_CATEGORIES = 8  # the rest are summed as "other"
DISCRETE_UP_TO = 12  # a numeric column with at most this many distinct values gets one bin per value


@dataclass(frozen=True)
class Distribution:
    labels: tuple[str, ...]  # one per bin
    reference: tuple[float, ...]  # share of the side's non-missing values in each bin
    current: tuple[float, ...]
    missing_reference: float  # share of the side's rows with no value
    missing_current: float
    note: str = ""  # how the bins were made


def _share(counts, total: int) -> tuple[float, ...]:
    return tuple(float(c) / total if total else 0.0 for c in counts)


def _label(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def numeric(reference, current, bins: int = NUMERIC_BINS) -> Distribution:
    """Equal-width bins over the 1st–99th percentiles of both sides; the tails fold into the end bins."""
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    miss_ref = float(np.isnan(ref).mean()) if ref.size else 0.0
    miss_cur = float(np.isnan(cur).mean()) if cur.size else 0.0
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    both = np.concatenate([ref, cur])
    if not both.size:
        return Distribution((), (), (), miss_ref, miss_cur, "no values")
    values = np.unique(both)
    if values.size <= DISCRETE_UP_TO:
        labels = tuple(_label(v) for v in values)
        return Distribution(labels, _share([(ref == v).sum() for v in values], ref.size),
                            _share([(cur == v).sum() for v in values], cur.size), miss_ref, miss_cur, "one bin per value")  # fmt: skip
    low, high = float(np.quantile(both, 0.01)), float(np.quantile(both, 0.99))
    if high <= low:
        low, high = float(both.min()), float(both.max())
    edges = np.linspace(low, high, bins + 1)
    ref_counts = np.histogram(np.clip(ref, low, high), edges)[0]
    cur_counts = np.histogram(np.clip(cur, low, high), edges)[0]
    labels = [f"{_label(a)}–{_label(b)}" for a, b in zip(edges[:-1], edges[1:])]
    labels[0], labels[-1] = f"≤{_label(edges[1])}", f">{_label(edges[-2])}"
    return Distribution(tuple(labels), _share(ref_counts, ref.size), _share(cur_counts, cur.size), miss_ref, miss_cur,
                        "equal-width bins over the 1st–99th percentiles, tails in the end ones")  # fmt: skip


def categorical(reference, current, top: int = MAX_CATEGORIES) -> Distribution:
    """The most common categories (by reference share, then current), the rest as "other"."""
    ref = [None if v is None or v != v else str(v) for v in reference]  # v != v: NaN
    cur = [None if v is None or v != v else str(v) for v in current]
    miss_ref = sum(v is None for v in ref) / len(ref) if ref else 0.0
    miss_cur = sum(v is None for v in cur) / len(cur) if cur else 0.0
    ref, cur = [v for v in ref if v is not None], [v for v in cur if v is not None]

    def counts(values: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return out

    rc, cc = counts(ref), counts(cur)
    order = sorted(set(rc) | set(cc), key=lambda k: (-rc.get(k, 0), -cc.get(k, 0), k))
    shown, rest = order[:top], order[top:]
    labels = tuple(shown) + (("other",) if rest else ())
    ref_counts = [rc.get(k, 0) for k in shown] + ([sum(rc.get(k, 0) for k in rest)] if rest else [])
    cur_counts = [cc.get(k, 0) for k in shown] + ([sum(cc.get(k, 0) for k in rest)] if rest else [])
    return Distribution(labels, _share(ref_counts, len(ref)), _share(cur_counts, len(cur)), miss_ref, miss_cur,
                        f"the {top} most common categories" + (", the rest as other" if rest else ""))  # fmt: skip
