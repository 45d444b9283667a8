"""What the console knows, outside the UI: the views render from it, the controllers and workers' results
change it — always on the UI's thread, through the ``apply_*`` methods, so a view never sees half an update.

A replay sets the same fields from a recorded moment (``apply_frame``): the views draw a recording exactly as
they draw a live session, with no replay branch of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from streamflow_data.load import LoadSnapshot

from .config import ConsoleConfig
from .drift_alarms import AlarmEvent, DetectorView
from .drift_history import DriftHistory
from .drift_types import DriftResult
from .replay import ReplayFrame
from .results import RemoteLoad, Snapshot
from .retraining import RetrainDecision
from .timeline import Point, Timeline
from .versions import VersionChange, VersionTracker


@dataclass
class ConsoleState:
    config: ConsoleConfig
    clock: Callable[[], float]
    timeline: Timeline = field(init=False)
    versions: VersionTracker = field(default_factory=VersionTracker)
    snapshot: Snapshot | None = None  # the last poll's, readable or not
    shown: Snapshot | None = None  # the last that could be read: what the views draw (dimmed when stale)
    last_ok: float | None = None  # the clock when a poll last read the target
    polls: int = 0
    poll_errors: int = 0
    paused: bool = False
    load: LoadSnapshot | None = None  # the built-in load generator's numbers, as of the last poll or action
    load_error: str | None = None  # why the last start was refused
    load_pending: tuple[str, ...] = ()  # settings changed during the run, which apply at the next start
    drift_result: DriftResult | None = None  # the check shown: the last by hand, else the last timed one
    drift_done_at: float | None = None
    drift_checked: DriftResult | None = None  # the last check run by hand (d): shown, and what r retrains on
    drift_history: DriftHistory = field(default_factory=DriftHistory)
    detectors: tuple[DetectorView, ...] = ()  # the drift alarms' detectors, after the last fleet window
    alarms: list[AlarmEvent] = field(default_factory=list)  # the alarms raised, oldest first
    retrain_decision: RetrainDecision | None = None
    frame: ReplayFrame | None = None  # the recorded moment shown, in a replay

    def __post_init__(self) -> None:
        self.timeline = Timeline(self.config.history_points)

    # -- what the controllers and workers hand over -------------------------------------------------
    def apply_poll(self, snapshot: Snapshot, point: Point | None, load: LoadSnapshot | None) -> VersionChange | None:
        """A poll's result; the model change it reveals, if any."""
        self.polls += 1
        self.snapshot = snapshot
        self.load = load
        if not snapshot.ok:
            return None
        self.last_ok = self.clock()
        self.shown = snapshot
        change = self.versions.observe(snapshot)
        if point is not None:
            self.timeline.add(point)
        else:
            self.timeline.add_snapshot(snapshot, load)
        return change

    def apply_backfill(self, points: list[Point]) -> None:
        if self.timeline.points:
            return  # live points arrived first; keep them
        for point in points:
            self.timeline.add(point)

    def apply_drift(self, result: DriftResult, *, scheduled: bool) -> bool:
        """A check's result; whether it is the one shown now. A timed run goes to the history (the heatmap) and
        never replaces a check the user ran by hand: its headline, table and selects stay in agreement, and r
        retrains on the data they name."""
        at = self.clock()
        if scheduled or result.current == "live":
            self.drift_history.add(result, at)
        if scheduled and self.drift_checked is not None:
            return False
        if not scheduled:
            self.drift_checked = result
        self.drift_result, self.drift_done_at = result, at
        return True

    def apply_fleet_windows(
        self,
        results: list[DriftResult],
        ats: list[float],
        alarms: list[AlarmEvent],
        detectors: tuple[DetectorView, ...],
    ) -> None:
        """Fleet windows of the grid (backfilled or new), oldest first: the heatmap's runs at their windows' ends."""
        for result, at in zip(results, ats):
            self.drift_history.add(result, at)
        if results:
            self.drift_result, self.drift_done_at = results[-1], ats[-1]
        self.alarms.extend(alarms)
        self.detectors = detectors

    def apply_retrain(self, decision: RetrainDecision) -> None:
        self.retrain_decision = decision

    def apply_frame(self, frame: ReplayFrame) -> None:
        """A recorded moment replaces what a live session would have polled."""
        self.frame = frame
        self.snapshot = self.shown = frame.snapshot
        self.load = frame.load
        self.timeline = Timeline(self.config.history_points, frame.points)
        self.versions = VersionTracker.from_changes(frame.changes, frame.snapshot)
        drift = frame.drift[1] if frame.drift else None
        if drift != self.drift_result:
            self.drift_result, self.drift_done_at = drift, frame.drift[0] if frame.drift else None
        if frame.retrain is not None:
            self.retrain_decision = frame.retrain
        self.alarms = list(frame.alarms)

    # -- what the views read -------------------------------------------------------------------------
    def now(self) -> float:
        """The moment shown: the clock's, or in a replay the recorded moment's."""
        return self.frame.t if self.frame is not None else self.clock()

    def age_s(self) -> float | None:
        """Seconds since the last good poll (None in a replay: the moment shown is in the mode text)."""
        if self.frame is not None or self.last_ok is None:
            return None
        return self.clock() - self.last_ok

    def drift_age_s(self) -> float | None:
        return None if self.drift_done_at is None else self.now() - self.drift_done_at

    @property
    def remote_load(self) -> RemoteLoad | None:
        s = self.snapshot
        return s.remote_load if s is not None and s.ok else None

    def load_text(self) -> str:
        """The load's state in a few characters, for the status line and the overview."""
        ls = self.load
        if ls is None:
            remote = self.remote_load
            if remote is None or not remote.segments_up:
                return "–"
            target = f" {remote.target_rps:g}/s" if remote.target_rps is not None and remote.complete else ""
            return f"⇄ remote {remote.segments_up}/{remote.segments}{target}"  # load generated elsewhere
        if not ls.running:
            return "■ stopped"
        text = f"▶ {ls.model} {ls.target_rate:g}/s" if ls.model == "open" else f"▶ closed {ls.concurrency} workers"
        return text + (f" ({', '.join(self.load_pending)} at next start)" if self.load_pending else "")
