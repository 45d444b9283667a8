"""The App's load keys and the Load view's requests (a part of ``StreamFlowApp``): routing only —
``controllers.load`` runs the load, ``core.state`` keeps its numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App

from .controllers.load import LoadController
from .controllers.session import SessionController
from .core.config import ConsoleConfig
from .core.state import ConsoleState
from .widgets.load_panel import LoadPanel


class LoadKeys(App[None]):
    """What these keys need of the App: its state, its load controller, and its redraws."""

    state: ConsoleState
    config: ConsoleConfig
    loads: LoadController
    session: SessionController

    if TYPE_CHECKING:  # provided by StreamFlowApp and its other parts

        def _show_status(self) -> None: ...

        def _show_load(self) -> None: ...

        def _replaying(self, what: str) -> bool: ...

        def action_tab(self, tab: str) -> None: ...

        def _record(self, t: float, kind: str, obj: Any) -> None: ...

        def _step_replay_speed(self, faster: bool) -> None: ...

    @on(LoadPanel.ToggleRequested)
    def _toggle_requested(self) -> None:
        self.action_toggle_load()

    def action_toggle_load(self) -> None:
        if self._replaying("start or stop load"):
            return
        if self.loads.running:
            # stop() waits for requests in flight (up to a 0.5 s grace against a hanging target): not here.
            self.run_worker(self._stop_load, thread=True, group="load", exit_on_error=False)
            return
        try:
            settings = self.query_one(LoadPanel).settings()
        except ValueError as exc:
            self.state.load_error = str(exc)
        else:
            self.loads.start(settings)
        if self.state.load_error:
            self.notify(self.state.load_error, title="load not started", severity="error", timeout=8)
        self._show_load()
        self._show_status()

    def _stop_load(self) -> None:
        self.loads.stop()
        self.call_from_thread(self._after_load_change)

    def _after_load_change(self) -> None:
        self.loads.refresh()
        self._show_load()
        self._show_status()

    def _change_load(self, faster: bool) -> None:
        target = self.loads.change(faster)
        if target is None:
            self.notify("start the load first (l)", severity="warning")
            return
        self.query_one(LoadPanel).show_target(*target)
        self._after_load_change()

    def action_faster(self) -> None:
        self._step_replay_speed(True) if self.session.replay is not None else self._change_load(True)

    def action_slower(self) -> None:
        self._step_replay_speed(False) if self.session.replay is not None else self._change_load(False)
