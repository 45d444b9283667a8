"""Ring buffers keep the newest samples in order and a fixed amount of memory."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamflow_tui.core.history import SampleRing, SeriesStore


@given(capacity=st.integers(1, 20), n=st.integers(0, 60), start=st.integers(0, 80), width=st.integers(0, 80))
def test_ring_keeps_the_newest_in_order(capacity, n, start, width):
    ring = SampleRing(capacity)
    for t in range(n):
        ring.append(t, float(t))
    kept = list(range(max(0, n - capacity), n))
    assert [t for t, _ in ring] == kept
    assert ring.between(start, start + width) == [(t, float(t)) for t in kept if start <= t <= start + width]
    assert ring.last() == ((n - 1, float(n - 1)) if n else None)


def test_store_caps_series_and_prunes_the_gone():
    store: SeriesStore[str] = SeriesStore(capacity=3, max_series=2)
    store.append("a", 1, 1.0)
    store.append("b", 1, 1.0)
    store.append("c", 1, 1.0)
    assert len(store) == 2 and store.dropped_series == 1
    store.append("a", 5, 2.0)
    store.prune(oldest_ms=3)
    assert "a" in store and "b" not in store
