"""The App's load keys and the Load view's requests (a part of ``StreamFlowApp``): routing only —
``controllers.load`` runs the load, ``core.state`` keeps its numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App
from textual.widgets import Input, Select

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
    _start_after_stop: bool = False  # l pressed while a stop was under way: start once it ends

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
        if self.loads.stopping:
            # The stop still waits for requests in flight: this l means "start again", so it is kept, not dropped.
            self._start_after_stop = True
            self.notify("the load starts again as soon as the last one has stopped", title="load")
            return
        if self.loads.running:
            # stop() waits for requests in flight (up to a 0.5 s grace against a hanging target): not here.
            self.loads.stopping = True
            self.state.load_pending = ()
            self.run_worker(self._stop_load, thread=True, group="load", exit_on_error=False)
            return
        try:
            settings = self.query_one(LoadPanel).settings()
        except ValueError as exc:
            self.state.load_error = str(exc)
        else:
            self.loads.start(settings)
            self.state.load_pending = ()
        if self.state.load_error:
            self.notify(self.state.load_error, title="load not started", severity="error", timeout=8)
        self._show_load()
        self._show_status()

    def _stop_load(self) -> None:
        try:
            self.loads.stop()
        finally:
            self.call_from_thread(self._after_stop)

    def _after_stop(self) -> None:
        self.loads.stopping = False
        self._after_load_change()
        if self._start_after_stop:
            self._start_after_stop = False
            self.action_toggle_load()

    @on(Select.Changed, "#load-mode, #load-month, #load-payload, #load-api")
    @on(Input.Changed, "#load-rate, #load-concurrency, #load-feedback")
    def _load_setting_changed(self) -> None:
        """A setting changed while a load runs applies at its next start (``LoadController.pending`` says why):
        said at once in a toast, and in the status line for as long as it is pending."""
        try:
            settings = self.query_one(LoadPanel).settings()
        except ValueError:
            return  # half-typed: l says which field is wrong
        pending = tuple(self.loads.pending(settings))
        if pending == self.state.load_pending:
            return
        new = [name for name in pending if name not in self.state.load_pending]
        self.state.load_pending = pending
        if new:
            self.notify(
                f"{', '.join(new)}: applies at the next start; this run keeps its settings (l stops, l again starts"
                " with the new ones)",
                title="load running",
                severity="warning",
                timeout=8,
            )
        self._show_status()

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
