"""The session's record and replay, and its export.

Recording (``--record`` or R) writes every poll, drift result, load phase, model change and retrain
decision to a SQLite file (``core.recording``); a replay (``--replay``) reads them back as frames, in a
worker, and hands each to the App as a ``FrameReady``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.app import App

from ..core.recording import Recorder
from ..core.replay import Replay
from ..core.report import to_json
from ..core.state import ConsoleState
from ..messages import FrameFailed, FrameReady


class SessionController:
    def __init__(self, app: App, state: ConsoleState, recorder: Recorder | None, replay: Replay | None):
        self.app = app
        self.state = state
        self.recorder = recorder  # --record, opened by the CLI (a wrong path is a usage error there); R toggles
        self.replay = replay  # a recording played back instead of live sources

    # -- record ------------------------------------------------------------------------------------
    def start_recording(self) -> str:
        """Record from now (R); the path, or RecordingError."""
        config = self.state.config
        path = config.record_path or str(
            Path(config.export_dir) / datetime.now().strftime("streamflow-%Y%m%d-%H%M%S.db")
        )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.recorder = Recorder(
            path,
            interval=config.interval,
            source="prometheus" if config.prometheus_url else "scrape",
            api_url=config.api_url,
        )
        return path

    def stop_recording(self) -> Recorder | None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()
        return recorder

    def record(self, t: float, kind: str, obj: Any) -> None:
        """An event into the recording, if one is made; RecordingError when it cannot be written."""
        if self.recorder is not None:
            self.recorder.add_event(t, kind, obj)

    # -- replay --------------------------------------------------------------------------------------
    def load_frame(self, step: int = 0, at: float | None = None) -> None:
        replay = self.replay
        assert replay is not None, "frames are a replay's"
        if at is not None:
            replay.seek(at)
        elif step:
            replay.step(step)
        index = replay.index
        self.app.run_worker(
            lambda: self._frame(index), thread=True, exclusive=True, group="replay", exit_on_error=False
        )

    def _frame(self, index: int) -> None:
        assert self.replay is not None, "frames are a replay's"
        try:
            frame = self.replay.frame(index)
        except Exception as exc:  # a corrupt row, a file gone: said, and the replay stays where it was
            self.app.post_message(FrameFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.app.post_message(FrameReady(frame))

    def play_next(self) -> bool:
        """Advance a playing replay by one moment; False at its end (or when paused)."""
        if self.replay is not None and self.replay.playing and self.replay.advance():
            self.load_frame()
            return True
        return False

    # -- export --------------------------------------------------------------------------------------
    def export(self) -> Path:
        """The recorded series (CSV and JSON) and the last snapshot into a new folder; its path."""
        state = self.state
        folder = Path(state.config.export_dir) / datetime.now().strftime("streamflow-%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "series.csv").write_text(state.timeline.to_csv())
        document = {
            "series": state.timeline.to_json(),
            "last_snapshot": to_json(state.snapshot) if state.snapshot else None,
            "drift": state.drift_result.to_json() if state.drift_result else None,
        }
        (folder / "series.json").write_text(json.dumps(document, indent=1))
        return folder

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.replay is not None:
            self.replay.recording.close()
