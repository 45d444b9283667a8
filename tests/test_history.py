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
    assert ring.first() == ((kept[0], float(kept[0])) if kept else None)
    older = [t for t in kept if t <= start]
    assert ring.at_or_before(start) == ((older[-1], float(older[-1])) if older else None)


def test_growth_is_exact_and_counts_resets():
    """Counter growth over a window: value now minus value at the window's start, not extrapolated."""
    from streamflow_tui.core.compute import Window

    ring = SampleRing(100)
    for t, v in [(0, 5.0), (5000, 9.0), (10_000, 20.0), (15_000, 26.0)]:
        ring.append(t, v)
    assert Window(15_000, 10_000).growth(ring) == 26.0 - 9.0  # from the sample at 5 s, the window's start
    assert Window(15_000, 7_000).growth(ring) == 26.0 - 9.0  # the newest sample at or before 8 s
    assert Window(15_000, 60_000).growth(ring) == 26.0 - 5.0  # a window longer than the history: from the first
    assert Window(10_000, 10_000).growth(ring) is None  # the series is not in the newest scrape
    ring.append(20_000, 4.0)  # a restart reset the counter
    assert Window(20_000, 10_000).growth(ring) == 4.0


def test_store_caps_series_and_prunes_the_gone():
    store: SeriesStore[str] = SeriesStore(capacity=3, max_series=2)
    store.append("a", 1, 1.0)
    store.append("b", 1, 1.0)
    store.append("c", 1, 1.0)
    assert len(store) == 2 and store.dropped_series == 1
    store.append("a", 5, 2.0)
    store.prune(oldest_ms=3)
    assert "a" in store and "b" not in store
