"""Bounded ring buffers of raw cumulative samples, one per series.

Memory is fixed by the capacity whatever the uptime: 16 bytes a sample in two
typed arrays, and series that stop appearing are dropped once they are older
than the buffer's horizon.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class SampleRing:
    __slots__ = ("_t", "_v", "_next", "_size")

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._t = array("q", bytes(8 * capacity))
        self._v = array("d", bytes(8 * capacity))
        self._next = 0
        self._size = 0

    @property
    def capacity(self) -> int:
        return len(self._t)

    def __len__(self) -> int:
        return self._size

    def append(self, t_ms: int, value: float) -> None:
        self._t[self._next] = t_ms
        self._v[self._next] = value
        self._next = (self._next + 1) % len(self._t)
        self._size = min(self._size + 1, len(self._t))

    def __iter__(self) -> Iterator[tuple[int, float]]:
        cap = len(self._t)
        start = (self._next - self._size) % cap
        for i in range(self._size):
            j = (start + i) % cap
            yield self._t[j], self._v[j]

    def last(self) -> tuple[int, float] | None:
        if not self._size:
            return None
        j = (self._next - 1) % len(self._t)
        return self._t[j], self._v[j]

    def at_or_before(self, t_ms: int) -> tuple[int, float] | None:
        """The newest sample taken at or before ``t_ms`` (binary search: samples are in time order)."""
        cap, start = len(self._t), (self._next - self._size) % len(self._t)
        low, high = 0, self._size  # the answer is the last i in [0, size) with t <= t_ms
        while low < high:
            mid = (low + high) // 2
            if self._t[(start + mid) % cap] <= t_ms:
                low = mid + 1
            else:
                high = mid
        if low == 0:
            return None
        j = (start + low - 1) % cap
        return self._t[j], self._v[j]

    def first(self) -> tuple[int, float] | None:
        if not self._size:
            return None
        j = (self._next - self._size) % len(self._t)
        return self._t[j], self._v[j]

    def between(self, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """Samples with start_ms <= t <= end_ms, oldest first; walks back from the newest,
        so a window at the end of a long buffer costs only its own samples."""
        cap = len(self._t)
        out = []
        for i in range(self._size):
            j = (self._next - 1 - i) % cap
            t = self._t[j]
            if t < start_ms:
                break
            if t <= end_ms:
                out.append((t, self._v[j]))
        out.reverse()
        return out


class SeriesStore(Generic[K]):
    """Ring buffers by series key, with a cap on the number of series."""

    def __init__(self, capacity: int, max_series: int = 5_000):
        self.capacity = capacity
        self.max_series = max_series
        self._rings: dict[K, SampleRing] = {}
        self.dropped_series = 0  # new series refused because of max_series

    def append(self, key: K, t_ms: int, value: float) -> None:
        ring = self._rings.get(key)
        if ring is None:
            if len(self._rings) >= self.max_series:
                self.dropped_series += 1
                return
            ring = self._rings[key] = SampleRing(self.capacity)
        ring.append(t_ms, value)

    def __contains__(self, key: object) -> bool:
        return key in self._rings

    def items(self):
        return self._rings.items()

    def __len__(self) -> int:
        return len(self._rings)

    def prune(self, oldest_ms: int) -> None:
        """Forget series whose newest sample is older than ``oldest_ms``."""
        stale = [k for k, ring in self._rings.items() if (last := ring.last()) is None or last[0] < oldest_ms]
        for key in stale:
            del self._rings[key]
