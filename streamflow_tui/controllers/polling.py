"""Polling the metric source, one poll at a time, in a thread worker; charts backfilled from history.

The next poll is armed only once the App has handled the last one's message (``SnapshotReady`` or
``PollFailed``), so polls never pile up on a slow target. Each poll is recorded (``--record``) in the
worker, off the UI's loop.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from ..core.errors import RecordingError
from ..core.recording import Recorder
from ..core.source import MetricSource
from ..core.state import ConsoleState
from ..core.timeline import Point, point_of
from ..messages import PollFailed, RecordingFailed, SnapshotReady
from .load import LoadController

BACKFILL_POINTS = 120  # about one point per chart column


class Poller:
    def __init__(self, app: App, state: ConsoleState, source: MetricSource, loads: LoadController):
        self.app = app
        self.state = state
        self.source = source
        self.loads = loads
        self.recorder: Callable[[], Recorder | None] = lambda: None  # the session's, when recording

    def poll(self) -> None:
        self.app.run_worker(self._poll_once, thread=True, exclusive=True, group="poll", exit_on_error=False)

    def _poll_once(self) -> None:
        try:
            self.source.poll()
            snapshot = self.source.snapshot(self.state.config.window)
            runner = self.loads.runner
            load = runner.snapshot() if runner else None
            point = point_of(snapshot, load)
            message = SnapshotReady(snapshot, load, id(runner), point)
        except Exception as exc:  # anything at all: the loop must go on, and say why it missed a beat
            self.app.post_message(PollFailed(f"{type(exc).__name__}: {exc}"))
            return
        recorder = self.recorder()
        if recorder is not None:
            try:
                recorder.add_poll(snapshot, point)
                if load is not None:
                    recorder.add_event(point.t, "load", load)
            except RecordingError as exc:
                self.app.post_message(RecordingFailed(str(exc)))
            except Exception as exc:  # a bug in the recording must stop the recording, never the polls
                self.app.post_message(RecordingFailed(f"{type(exc).__name__}: {exc}"))
        self.app.post_message(message)

    def backfill(self, done: Callable[[list[Point]], None], failed: Callable[[str], None]) -> None:
        """Charts start with history when the source has it (Prometheus)."""
        self.app.run_worker(lambda: self._backfill(done, failed), thread=True, exit_on_error=False)

    def _backfill(self, done: Callable[[list[Point]], None], failed: Callable[[str], None]) -> None:
        from ..core.prometheus import PrometheusError

        config = self.state.config
        step = max(config.interval, config.history / BACKFILL_POINTS)
        try:
            history = self.source.history(config.history, step, config.window)
        except PrometheusError as exc:
            self.app.call_from_thread(failed, exc.message)
            return
        if history is not None:
            points = [
                Point(t, history.rps[i], history.error_ratio[i], history.p50[i], history.p95[i], history.p99[i], None)
                for i, t in enumerate(history.times_s)
            ]
            self.app.call_from_thread(done, points)

    def close(self) -> None:
        self.source.close()
