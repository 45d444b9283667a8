"""Text bars for histograms (latency buckets, model scores), as Rich Text."""

from __future__ import annotations

from rich.text import Text

from ..core.bars import histogram_rows
from ..core.results import Bucket


def histogram_text(title: str, buckets: tuple[Bucket, ...], width: int = 24) -> Text:
    text = Text(title + "\n", style="bold")
    rows = histogram_rows(buckets, width)
    if not rows:
        text.append("no observations in the window", style="dim")
    for row in rows:
        text.append(f"{row.label:>10} ")
        text.append("█" * row.length, style="cyan")
        text.append(f" {row.count}\n")  # beside its bar, not across the empty rest of the row
    return text


SIDE_STYLES = ("cyan", "yellow", "magenta")


def shares_text(title: str, rows: list[tuple], names: tuple[str, ...], width: int = 14) -> Text:
    """Distributions side by side, one row per bin: its label, then each side's share as a bar.

    ``rows`` are (label, share, share…) with shares in 0..1 (None: that side has no data). All bars use
    one scale, the largest peak, so equal bars mean equal shares.
    """
    text = Text(title + "\n", style="bold")
    peak = max((v for _, *shares in rows for v in shares if v), default=0.0)
    if not peak:
        text.append("no observations", style="dim")
        return text
    label_width = max(len(label) for label, *_ in rows)
    text.append(
        f"{'':>{label_width}} " + "".join(f"{name:<{width + 7}}" for name in names).rstrip() + "\n", style="dim"
    )
    styles = SIDE_STYLES if len(names) == 3 else (SIDE_STYLES[0], SIDE_STYLES[2])
    for label, *shares in rows:
        text.append(f"{label:>{label_width}} ")
        for share, style in zip(shares, styles):
            if share is None:
                text.append(f"{'–':<{width + 7}}", style="dim")
                continue
            n = round(width * share / peak)
            text.append("█" * n, style=style)
            text.append(" " * (width - n) + f" {share * 100:4.1f}%")
            text.append(" ")
        text.append("\n")
    return text
