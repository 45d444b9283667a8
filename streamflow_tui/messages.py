"""Messages that workers post to the UI: immutable results, never widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from streamflow_data.load import LoadSnapshot

from .core.drift_types import DriftResult
from .core.fleet_drift import FleetDriftResult
from .core.fleet_watch import FleetUpdate
from .core.replay import ReplayFrame
from .core.results import Snapshot
from .core.retraining import RetrainDecision
from .core.timeline import Point


@dataclass
class SnapshotReady(Message):
    snapshot: Snapshot
    load: LoadSnapshot | None = None  # the built-in load generator's numbers, taken in the same poll
    load_run: int | None = None  # which run they belong to (id of its runner)
    point: Point | None = None  # the snapshot's chart figures, computed (and recorded) in the worker


@dataclass
class PollFailed(Message):
    """A poll raised instead of returning a snapshot: a bug or an unforeseen answer, shown, never swallowed."""

    error: str


@dataclass
class DriftDone(Message):
    result: DriftResult


@dataclass
class DriftFailed(Message):
    error: str


@dataclass
class RetrainDone(Message):
    decision: RetrainDecision


@dataclass
class RetrainFailed(Message):
    error: str


@dataclass
class HtmlReady(Message):
    path: str | None
    error: str | None = None


@dataclass
class RecordingFailed(Message):
    """A write to the --record file failed: recording stops, the console goes on, and says so."""

    error: str


@dataclass
class FrameReady(Message):
    """A replay's moment, read from the recording in a worker."""

    frame: ReplayFrame


@dataclass
class FrameFailed(Message):
    error: str


@dataclass
class FleetChecked(Message):
    """An on-demand fleet drift check ("live, fleet"): the last window, from the metrics backend."""

    result: FleetDriftResult


@dataclass
class FleetWindows(Message):
    """Fleet windows of the grid: the backfill at start (``backfill``), or those completed since the last."""

    update: FleetUpdate
    backfill: bool


@dataclass
class FleetWindowsFailed(Message):
    error: str
    backfill: bool
