"""Model version changes as the console sees them: when, from which version to which, and the old model's
last score distribution and reference churn rate, so the new one can be compared with it and each version's
reference drawn only over the time it served."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .compute import reference_churn_rate
from .results import Bucket, Snapshot


@dataclass(frozen=True)
class VersionChange:
    at: float  # unix seconds of the first snapshot with the new version
    old: str
    new: str
    old_scores: tuple[Bucket, ...]  # the old model's score histogram in its last window
    # The old model's reference churn rate (its training rows' share above the threshold); None where the
    # target served no reference, and in recordings made before it was kept.
    old_reference: float | None = None


@dataclass(frozen=True)
class ReferenceSpan:
    """One model version's reference churn rate over the time it served (unix seconds)."""

    start: float
    end: float
    reference: float


class VersionTracker:
    def __init__(self, keep: int = 50):
        self.current: str | None = None
        self.changes: deque[VersionChange] = deque(maxlen=keep)
        self._scores: tuple[Bucket, ...] = ()
        self._reference: float | None = None

    @classmethod
    def from_changes(cls, changes, snapshot: Snapshot) -> VersionTracker:
        """A tracker as it stood at a replayed moment: its recorded changes, the snapshot's version."""
        tracker = cls()
        tracker.changes.extend(changes)
        tracker.current = snapshot.model.version if snapshot.model else None
        return tracker

    def observe(self, s: Snapshot) -> VersionChange | None:
        """Note the snapshot's model version; the change when it differs from the last one seen."""
        model = s.model
        if model is None or not model.version:
            return None
        change = None
        if self.current is not None and model.version != self.current:
            change = VersionChange(
                s.taken_at.timestamp(), self.current, model.version, self._scores, old_reference=self._reference
            )
            self.changes.append(change)
            self._reference = None  # the old model's: never the new one's
        self.current = model.version
        reference = reference_churn_rate(model.reference_histogram)
        if reference is not None:
            self._reference = reference
        if model.score_histogram and any(b.count for b in model.score_histogram):
            self._scores = model.score_histogram
        return change

    @property
    def last(self) -> VersionChange | None:
        return self.changes[-1] if self.changes else None

    def marks(self, t_end: float, span: float) -> list[float]:
        """Changes as chart x positions (seconds before ``t_end``) within the last ``span`` seconds."""
        return [c.at - t_end for c in self.changes if 0 <= t_end - c.at <= span]


def reference_spans(
    changes: Iterable[VersionChange], t_start: float, t_end: float, current: float | None
) -> list[ReferenceSpan]:
    """Each model version's reference churn rate over the part of ``t_start``–``t_end`` it served, oldest
    first: a version that a change in the range replaced takes the reference the change recorded, the serving
    one ``current``. A version whose reference is not known has no span: no line rather than another's."""
    spans: list[ReferenceSpan] = []
    begin = t_start
    for change in sorted((c for c in changes if t_start < c.at <= t_end), key=lambda c: c.at):
        if change.old_reference is not None:
            spans.append(ReferenceSpan(begin, change.at, change.old_reference))
        begin = change.at
    if current is not None:
        spans.append(ReferenceSpan(begin, t_end, current))
    return spans
