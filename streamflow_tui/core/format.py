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
