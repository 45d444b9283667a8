"""The App's record, replay and export keys and the session's messages (a mixin of ``StreamFlowApp``):
routing only — ``controllers.session`` does the work, ``core.state`` keeps what a frame shows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App

from .controllers.session import SessionController
from .core.errors import RecordingError
from .core.state import ConsoleState
from .messages import FrameFailed, FrameReady, RecordingFailed
from .widgets.drift_view import DriftView
from .widgets.jump_screen import JumpScreen


class SessionKeys(App[None]):
    """What the App's session keys need of it: its session, its state, and its redraws."""

    session: SessionController

    if TYPE_CHECKING:  # provided by StreamFlowApp and its other parts

        def _show_status(self) -> None: ...

        def _show_load(self) -> None: ...

        def _show_views(self, *, force_charts: bool = False) -> None: ...

    state: ConsoleState

    def _replaying(self, what: str) -> bool:
        """In a replay, an action on the live service cannot run: it says so."""
        replay = self.session.replay
        if replay is None:
            return False
        self.notify(f"cannot {what} in a replay: this is a recording ({replay.recording.path})", severity="warning")
        return True

    def action_toggle_record(self) -> None:
        if self._replaying("record"):
            return
        if self.session.recorder is not None:
            recorder = self.session.stop_recording()
            assert recorder is not None, "a recording was on"
            self.notify(f"recording stopped: {recorder.path} (streamflow-tui --replay {recorder.path})")
        else:
            try:
                path = self.session.start_recording()
            except RecordingError as exc:
                self.notify(str(exc), title="not recording", severity="error", timeout=12)
                return
            self.notify(f"recording every poll to {path} (R stops)")
        self._show_status()

    def _record(self, t: float, kind: str, obj: Any) -> None:
        try:
            self.session.record(t, kind, obj)
        except RecordingError as exc:
            self.on_recording_failed(RecordingFailed(str(exc)))

    def on_recording_failed(self, message: RecordingFailed) -> None:
        if self.session.stop_recording() is None:
            return
        self.notify(
            f"{message.error} — recording stopped; what was written before stays readable",
            title="recording failed",
            severity="error",
            timeout=15,
        )
        self._show_status()

    def on_frame_failed(self, message: FrameFailed) -> None:
        assert self.session.replay is not None, "frames are a replay's"
        self.session.replay.playing = False
        self.notify(message.error, title="cannot show this moment of the recording", severity="error", timeout=12)
        self._show_status()

    def on_frame_ready(self, message: FrameReady) -> None:
        replay = self.session.replay
        assert replay is not None, "frames are a replay's"
        frame, previous = message.frame, self.state.frame
        drift_before, retrain_before = self.state.drift_result, previous.retrain if previous else None
        self.state.apply_frame(frame)
        view = self.query_one(DriftView)
        if self.state.drift_result is not None and self.state.drift_result != drift_before:
            view.show(self.state.drift_result)
        if frame.retrain is not None and frame.retrain != retrain_before:
            view.retrain_done(frame.retrain)
        if frame.alarms != (previous.alarms if previous else ()):
            view.show_alarms((), self.state.alarms, self.state.config.drift_every or 60.0)
        stepped = previous is None or abs(frame.index - previous.index) != 1
        self._show_views(force_charts=stepped)
        self._show_status()
        self._show_load()
        if replay.playing:
            self.set_timer(replay.delay(), self._play_next)

    def _play_next(self) -> None:
        if not self.session.play_next():
            self._show_status()

    def _step_replay_speed(self, faster: bool) -> None:
        assert self.session.replay is not None, "a replay's speed"
        self.session.replay.faster(faster)
        self._show_status()

    def action_replay_step(self, n: float) -> None:
        replay = self.session.replay
        if replay is None:
            self.notify("stepping moves through a recording: streamflow-tui --replay FILE", severity="warning")
            return
        replay.playing = False
        self.session.load_frame(step=int(n))

    def action_replay_jump(self) -> None:
        replay = self.session.replay
        if replay is None:
            self.notify("g jumps to a time in a recording: streamflow-tui --replay FILE", severity="warning")
            return

        def jump(text: str | None) -> None:
            if text and replay is not None:
                replay.playing = False
                self.session.load_frame(at=replay.target(text))

        self.push_screen(JumpScreen(replay.target), jump)

    def action_export(self) -> Path:
        folder = self.session.export()
        # The screenshot shows the console, not the toasts on it: taken once they are gone from the screen.
        self.clear_notifications()
        self.call_after_refresh(self._export_screenshot, folder)
        return folder

    def _export_screenshot(self, folder: Path) -> None:
        (folder / "screenshot.svg").write_text(screenshot_svg(self), encoding="utf-8")
        self.notify(f"exported series and screenshot to {folder}")


def screenshot_svg(app: App) -> str:
    """The screen as SVG, its runs of spaces kept: SVG collapses them unless told (xml:space), which squashes
    the text and stripes the bars in renderers that honour it (rsvg-convert, Inkscape)."""
    return app.export_screenshot().replace("<svg ", '<svg xml:space="preserve" ', 1)
