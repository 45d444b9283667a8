"""Model version changes as the console sees them: when, from which version to which, and the old model's
last score distribution, so the new one can be compared with it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .results import Bucket, Snapshot


@dataclass(frozen=True)
class VersionChange:
    at: float  # unix seconds of the first snapshot with the new version
    old: str
    new: str
    old_scores: tuple[Bucket, ...]  # the old model's score histogram in its last window


class VersionTracker:
    def __init__(self, keep: int = 50):
        self.current: str | None = None
        self.changes: deque[VersionChange] = deque(maxlen=keep)
        self._scores: tuple[Bucket, ...] = ()

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
            change = VersionChange(s.taken_at.timestamp(), self.current, model.version, self._scores)
            self.changes.append(change)
        self.current = model.version
        if model.score_histogram and any(b.count for b in model.score_histogram):
            self._scores = model.score_histogram
        return change

    @property
    def last(self) -> VersionChange | None:
        return self.changes[-1] if self.changes else None

    def marks(self, t_end: float, span: float) -> list[float]:
        """Changes as chart x positions (seconds before ``t_end``) within the last ``span`` seconds."""
        return [c.at - t_end for c in self.changes if 0 <= t_end - c.at <= span]
