"""Text bars for histograms (latency buckets, model scores), as Rich Text."""

from __future__ import annotations

import math

from rich.text import Text

from ..core.format import bound, num
from ..core.results import Bucket


def histogram_text(title: str, buckets: tuple[Bucket, ...], width: int = 24, label=None) -> Text:
    label = label or (lambda b, prev: f"> {bound(prev)}" if math.isinf(b.le) else f"≤ {bound(b.le)}")
    text = Text(title + "\n", style="bold")
    used = [i for i, b in enumerate(buckets) if b.count]
    if not used:
        text.append("no observations in the window", style="dim")
        return text
    peak = max(b.count or 0.0 for b in buckets)
    for i in range(used[0], used[-1] + 1):
        b = buckets[i]
        prev = buckets[i - 1].le if i else 0.0
        n = round(width * (b.count or 0.0) / peak) if peak else 0
        text.append(f"{label(b, prev):>10} ")
        text.append("█" * n, style="cyan")
        text.append(" " * (width - n) + f" {num(b.count, '{:,.0f}')}\n")
    return text
