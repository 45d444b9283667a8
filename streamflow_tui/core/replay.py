"""Playing a recording back: which moment is shown, and everything the views need at that moment.

The console shows a replay through the same views as a live session: a ``ReplayFrame`` carries the
snapshot of one poll, the chart points of the history before it, and the latest drift result, load
run, model changes and retrain decision at that moment. Building a frame reads SQLite and decodes
(milliseconds): it runs in a worker; the position, speed and play state are cheap and live here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from .drift_alarms import AlarmEvent
from .drift_types import DriftResult
from .recording import Recording
from .results import Snapshot
from .retraining import RetrainDecision
from .timeline import Point
from .versions import VersionChange

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


@dataclass(frozen=True)
class ReplayFrame:
    index: int
    count: int
    t: float
    snapshot: Snapshot
    points: tuple[Point, ...]
    drift: tuple[float, DriftResult] | None  # (when it finished, result)
    load: Any  # loadgen.LoadSnapshot of the built-in load at that moment, or None
    changes: tuple[VersionChange, ...]  # model version changes within the history shown
    retrain: RetrainDecision | None
    alarms: tuple[AlarmEvent, ...] = ()  # the drift alarms raised up to that moment (rare: a false-alarm budget)


class Replay:
    """A position in a recording and how it moves: play, pause, step, speed, jump."""

    def __init__(self, recording: Recording, history_s: float):
        self.recording = recording
        self.history_s = history_s
        self.index = 0
        self.playing = True
        self.speed = 1.0

    @property
    def count(self) -> int:
        return len(self.recording.times)

    def frame(self, index: int | None = None) -> ReplayFrame:
        """Everything shown at poll ``index`` (default: the current one). Slow-ish: call it from a worker."""
        rec = self.recording
        i = self.index if index is None else index
        t = rec.times[i]
        load = rec.event_at("load", t)
        retrain = rec.event_at("retrain", t)
        return ReplayFrame(
            index=i,
            count=len(rec.times),
            t=t,
            snapshot=rec.snapshot_at(i),
            points=tuple(rec.points_between(t - self.history_s, t)),
            drift=rec.event_at("drift", t),
            load=load[1] if load else None,
            changes=tuple(change for _, change in rec.events_between("version", t - self.history_s, t)),
            retrain=retrain[1] if retrain else None,
            alarms=tuple(alarm for _, alarm in rec.events_between("alarm", 0.0, t)),
        )

    def step(self, n: int) -> int:
        self.index = min(self.count - 1, max(0, self.index + n))
        return self.index

    def seek(self, t: float) -> int:
        self.index = self.recording.index_at(t)
        return self.index

    def advance(self) -> bool:
        """The next poll while playing; False (and paused) at the end of the recording."""
        if self.index >= self.count - 1:
            self.recording.refresh()  # a recording still being written has grown since
        if self.index >= self.count - 1:
            self.playing = False
            return False
        self.index += 1
        return True

    def delay(self) -> float:
        """Seconds until the next poll at the current speed: the recorded gap, sped up (bounded)."""
        times = self.recording.times
        if self.index >= len(times) - 1:
            return 1.0
        return min(5.0, max(0.02, (times[self.index + 1] - times[self.index]) / self.speed))

    def faster(self, up: bool) -> float:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 2
        self.speed = SPEEDS[min(len(SPEEDS) - 1, i + 1) if up else max(0, i - 1)]
        return self.speed

    def target(self, text: str) -> float:
        """The moment ``text`` names: HH:MM[:SS] (local time, on the day of the recording's moment shown),
        or an offset from the moment shown (+30s, -5m, +1h). ValueError saying what is accepted."""
        text = text.strip()
        now = self.recording.times[self.index]
        offset = re.fullmatch(r"([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|h)?", text)
        if offset:
            sign, amount, unit = offset.groups()
            seconds = float(amount) * {"s": 1, "m": 60, "h": 3600, None: 1}[unit]
            return now + (seconds if sign == "+" else -seconds)
        clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
        if clock:
            hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            if hour < 24 and minute < 60 and second < 60:
                day = time.localtime(now)
                return time.mktime((day.tm_year, day.tm_mon, day.tm_mday, hour, minute, second, 0, 0, -1))
        raise ValueError(f"{text!r} is not a time: give HH:MM[:SS] or an offset like +30s, -5m, +1h")
