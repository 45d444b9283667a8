"""Latency over time as a heatmap (buckets × time, like Grafana's): what the percentile lines hide.

Each timeline point carries the window's latency histogram. Points are grouped into equal time slices,
one per column; a cell is the share of its slice's observations that fell in its bucket.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Heatmap:
    bounds: tuple[float, ...]  # each row's upper bound, lowest first (the last may be inf)
    times: tuple[float, ...]  # the newest point's time in each column, oldest column first
    shares: tuple[tuple[float | None, ...], ...]  # [column][row]; None: no observations in that slice

    @property
    def peak(self) -> float:
        return max((v for column in self.shares for v in column if v), default=0.0)


def latency_heatmap(points, columns: int, max_rows: int) -> Heatmap | None:
    """The heatmap of ``points`` (time order) in at most ``columns`` × ``max_rows`` cells, or None without data.

    Rows follow the newest histogram's buckets; points with other buckets (the target changed) are left
    out. Rows outside the range that ever saw an observation are dropped; neighbours are merged until
    the rows fit.
    """
    newest = next((p.latency_buckets for p in reversed(points) if p.latency_buckets), ())
    if not newest or columns < 1 or max_rows < 1:
        return None
    bounds = tuple(b.le for b in newest)
    usable = [p for p in points if p.latency_buckets and tuple(b.le for b in p.latency_buckets) == bounds]
    t0, t_end = usable[0].t, usable[-1].t
    span = t_end - t0
    slices = min(columns, len(usable))
    counts = [[0.0] * len(bounds) for _ in range(slices)]
    times = [0.0] * slices
    for p in usable:
        i = min(slices - 1, int((p.t - t0) / span * slices)) if span > 0 else slices - 1
        times[i] = p.t
        for row, b in enumerate(p.latency_buckets):
            counts[i][row] += b.count or 0.0
    kept = [i for i in range(slices) if times[i]]
    counts, times = [counts[i] for i in kept], [times[i] for i in kept]
    used = [row for row in range(len(bounds)) if any(c[row] for c in counts)]
    if not used:
        return None
    low, high = used[0], used[-1] + 1
    bounds, counts = bounds[low:high], [c[low:high] for c in counts]
    while len(bounds) > max_rows:  # merge neighbours: each pair keeps the upper bound
        bounds = tuple(bounds[i + 1] if i + 1 < len(bounds) else bounds[i] for i in range(0, len(bounds), 2))
        counts = [[sum(c[i : i + 2]) for i in range(0, len(c), 2)] for c in counts]
    shares = tuple(tuple(v / total if total else None for v in c) for c in counts for total in (sum(c),))
    return Heatmap(bounds, tuple(times), shares)
