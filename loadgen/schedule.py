"""The open model's schedule of intended send times, and each segment's share of it and of the rows."""

from __future__ import annotations

import math

from .config import LoadConfig


class Schedule:
    """Intended send times of the open model: a linear ramp (N(t) = R·t²/2T), then exact 1/R spacing.

    Request ``i`` of the whole run is due at the same time whichever process sends it: segment ``k`` of
    ``n`` takes requests k, k+n, k+2n… A rate change re-anchors the spacing at the last intended time
    and ends any ramp.
    """

    def __init__(self, rate: float, t0: float, ramp: float = 0.0, index: int = 0, count: int = 1):
        self.rate = rate
        self.t0 = t0
        self.ramp = ramp
        self.stride = count
        self.i = index  # the whole run's number of the next request
        self.previous: float | None = None  # intended time of the last request taken
        self._current: float | None = None
        self._ramping = bool(ramp)
        self._anchor: tuple[float, float] = (t0, 0)

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self._ramping = self._ramping and self.previous is None  # a change before the first request keeps the ramp
        self._anchor = (self.t0, 0) if self.previous is None else (self.previous, self.i - self.stride)
        self._current = None

    def time(self) -> float:
        """Intended time of the next request."""
        if self._current is None:
            self._current = self._at(self.i)
        return self._current

    def advance(self) -> None:
        self.previous = self.time()
        self.i += self.stride
        self._current = None

    def _at(self, i: int) -> float:
        rate = self.rate
        if self._ramping:
            ramp_requests = rate * self.ramp / 2
            if i < ramp_requests:
                return self.t0 + math.sqrt(2 * self.ramp * i / rate)
            self._ramping = False
            self._anchor = (self.t0 + self.ramp, ramp_requests)
        anchor_t, anchor_i = self._anchor
        return anchor_t + (i - anchor_i) / rate


def payload_slice(items: list, config: LoadConfig) -> list:
    """This segment's rows: every N-th from its index (disjoint across segments, the same order)."""
    if config.segment_count == 1 or len(items) < config.segment_count:
        return items  # a single GET body (or fewer rows than segments): shared
    return items[config.segment_index :: config.segment_count]
