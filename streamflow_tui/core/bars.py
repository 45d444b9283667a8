"""One model of a histogram drawn as text bars; ``--once`` renders it as plain text, the console as Rich Text."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .format import bound, num
from .results import Bucket


@dataclass(frozen=True)
class BarRow:
    label: str  # "≤ 50 ms", or "> 2.5 s" for the +Inf bucket
    length: int  # cells of bar, on a scale where the fullest bucket fills ``width``
    count: str  # the bucket's count, formatted


def histogram_rows(buckets: tuple[Bucket, ...], width: int) -> list[BarRow]:
    """The buckets from the first to the last that saw observations (none: an empty list)."""
    used = [i for i, b in enumerate(buckets) if b.count]
    if not used:
        return []
    peak = max(b.count or 0.0 for b in buckets)
    rows = []
    for i in range(used[0], used[-1] + 1):
        b = buckets[i]
        label = f"> {bound(buckets[i - 1].le if i else 0.0)}" if math.isinf(b.le) else f"≤ {bound(b.le)}"
        rows.append(BarRow(label, round(width * (b.count or 0.0) / peak), num(b.count, "{:,.0f}")))
    return rows
