"""Counters that update in steps: detect them, estimate their period, and choose a window between two updates.

Ray Serve (and anything that pushes its metrics through an agent) publishes its counters about every 10 s:
scraped every second, they stay flat for ten scrapes and then jump by ten seconds' worth. A rate over a 5 s
window then reads 0 (no jump inside) or twice the truth (one jump, over half its period), with nothing to
tell. Seen from consecutive scrapes, such a target's request total is unchanged for several scrapes, then
jumps, at a regular interval. The rate is then measured *between two jumps* at least two periods apart:
each jump publishes exactly one period's requests, so the growth between them over their time apart is the
rate, to within one scrape's spacing over the span.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_FLAT = 3  # unchanged scrapes between two jumps for them to count as steps, not just sparse traffic
REGULAR = 1.6  # the longest interval between jumps may be at most this many times the shortest


@dataclass(frozen=True)
class Steps:
    """What the scrapes show of a stepwise counter: the jumps' times (the first scrape showing each new value)
    and the estimated period (None: not enough jumps to estimate it)."""

    jumps_ms: tuple[int, ...]
    period_s: float | None

    def span(self, at_least_s: float) -> tuple[int, int] | None:
        """(start, end) scrape times: the newest jump, and the newest earlier jump at least ``at_least_s``
        before it (0.9 of it, for the jitter of scrapes). None when the scrapes do not reach that far back."""
        if len(self.jumps_ms) < 2:
            return None
        end = self.jumps_ms[-1]
        earlier = [t for t in self.jumps_ms[:-1] if end - t >= at_least_s * 900]
        return (earlier[-1], end) if earlier else None


def jumps(times_ms: Sequence[int], totals: Sequence[float]) -> list[int]:
    """Indices of the scrapes whose total differs from the previous scrape's."""
    return [i for i in range(1, len(totals)) if totals[i] != totals[i - 1]]


def detect(times_ms: Sequence[int], totals: Sequence[float], known_period_s: float | None = None) -> Steps | None:
    """Steps in a request total sampled at consecutive scrapes, or None when it moves like live traffic.

    Steps: at least two jumps, each after at least MIN_FLAT unchanged scrapes, at regular intervals (three
    jumps needed to call it regular, unless the server documents its period: ``known_period_s``)."""
    changed = jumps(times_ms, totals)
    if not changed:
        return None
    flat = [b - a - 1 for a, b in zip(changed, changed[1:], strict=False)]
    if any(f < MIN_FLAT for f in flat):
        return None  # the total moved between scrapes close together: live traffic, not published steps
    at = tuple(times_ms[i] for i in changed)
    intervals = [(b - a) / 1000 for a, b in zip(at, at[1:], strict=False)]
    if known_period_s is not None:
        return Steps(at, statistics.median(intervals) if intervals else known_period_s)
    if len(intervals) < 2 or max(intervals) > REGULAR * min(intervals):
        return None
    return Steps(at, statistics.median(intervals))


def suspicious(times_ms: Sequence[int], totals: Sequence[float]) -> bool:
    """A total that moved only after at least MIN_FLAT unchanged scrapes, every time it moved: one jump of a
    stepwise counter, or very sparse traffic. ``--once`` then watches longer before it trusts a rate."""
    changed = jumps(times_ms, totals)
    if not changed or any(abs(totals[i] - totals[i - 1]) < 2 for i in changed):
        return False  # one request at a time is sparse traffic: a published step carries several
    flat = [b - a - 1 for a, b in zip([0, *changed], changed, strict=False)]
    return all(f >= MIN_FLAT for f in flat[1:]) and flat[0] >= MIN_FLAT - 1
