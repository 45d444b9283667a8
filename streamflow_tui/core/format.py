"""How numbers read, in the console and in ``--once`` text: None is "–", never 0."""

from __future__ import annotations

import math


def num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.2f} s"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def bound(le: float) -> str:
    if math.isinf(le):
        return "+Inf"
    return f"{le * 1000:g} ms" if le < 1 else f"{le:g} s"


def quantile(value: float | None, bounds=None) -> str:
    """A histogram quantile as the data supports it: its bucket's edges when the bucket is wider than the
    value (``≤ 5 ms`` for everything in the first bucket, not an interpolated ``4.75 ms``), else the value.
    ``bounds``: a results.QuantileBounds, or None (a summary's quantile is served exactly)."""
    if value is None or bounds is None or not bounds.coarse(value):
        return ms(value)
    if math.isinf(bounds.upper):
        return f"> {bound(bounds.lower)}"
    if bounds.lower <= 0:
        return f"≤ {bound(bounds.upper)}"
    return f"{bound(bounds.lower)}–{bound(bounds.upper)}"
