"""What the console reads metrics from: one interface, three implementations.

``ScrapeSource`` scrapes the API's ``/metrics``; ``PrometheusSource`` queries a Prometheus-compatible
server; ``WithFallback`` reads Prometheus and, while Prometheus cannot be read, the API itself. The
console and ``--once`` hold a ``MetricSource`` and never ask which one it is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .results import Snapshot, TargetStatus

if TYPE_CHECKING:
    from .prometheus import History, PrometheusSource
    from .scrape import ScrapeSource


@runtime_checkable
class MetricSource(Protocol):
    def poll(self) -> TargetStatus | None:
        """Bring the source up to date (a scrape fetches the target; Prometheus is read at ``snapshot``).
        Never raises: a failure is in the next snapshot's status."""
        ...

    def snapshot(self, window_seconds: float) -> Snapshot:
        """What the last ``window_seconds`` say (0: totals since the target started)."""
        ...

    def history(self, duration_s: float, step_s: float, window_seconds: float) -> History | None:
        """The charts' past, when the source keeps one the console has not seen (Prometheus); else None.
        Raises ``PrometheusError`` when it should have one and cannot read it."""
        ...

    def close(self) -> None: ...


class WithFallback:
    """Prometheus first; the API's own ``/metrics`` only while Prometheus cannot be read.

    The API is not scraped while Prometheus answers: the console's scrapes would be traffic on the API it watches.
    """

    def __init__(self, primary: PrometheusSource, fallback: ScrapeSource):
        self.primary = primary
        self.fallback = fallback

    def poll(self) -> TargetStatus | None:
        self.primary.poll()  # Prometheus is read at snapshot: nothing to report before it
        return None

    @staticmethod
    def needed(snapshot: Snapshot) -> bool:
        """The rule, for the console and ``--once`` alike: Prometheus cannot be read, or has no usable metrics."""
        return not snapshot.ok

    def snapshot(self, window_seconds: float) -> Snapshot:
        snapshot = self.primary.snapshot(window_seconds)
        if not self.needed(snapshot):
            return snapshot
        self.fallback.poll()
        # The scrape's numbers, saying what happened to Prometheus (``Snapshot.fallback`` reads it).
        return replace(self.fallback.snapshot(window_seconds), prometheus=snapshot.prometheus)

    def history(self, duration_s: float, step_s: float, window_seconds: float) -> History | None:
        return self.primary.history(duration_s, step_s, window_seconds)

    def close(self) -> None:
        self.primary.close()
        self.fallback.close()
