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


def shares_text(title: str, rows: list[tuple[str, float | None, float | None]], names: tuple[str, str], width: int = 14) -> Text:
    """Two distributions side by side, one row per bin: label, the first's share as a bar, the second's.

    ``rows`` are (label, share, share) with shares in 0..1 (None: that side has no data). Both bars use
    one scale, the larger peak, so equal bars mean equal shares.
    """
    text = Text(title + "\n", style="bold")
    peak = max((v for _, a, b in rows for v in (a, b) if v), default=0.0)
    if not peak:
        text.append("no observations", style="dim")
        return text
    left, right = names
    label_width = max(len(label) for label, _, _ in rows)
    text.append(f"{'':>{label_width}} {left:<{width + 6}} {right}\n", style="dim")
    for label, a, b in rows:
        text.append(f"{label:>{label_width}} ")
        for share, style in ((a, "cyan"), (b, "magenta")):
            if share is None:
                text.append(f"{'–':<{width}}      ", style="dim")
                continue
            n = round(width * share / peak)
            text.append("█" * n, style=style)
            text.append(" " * (width - n) + f" {share * 100:4.1f}%")
            text.append(" ")
        text.append("\n")
    return text
