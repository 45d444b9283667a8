"""The StreamFlow console: composition, key bindings and routing — nothing else.

Where things happen: the console's state is ``core.state.ConsoleState``; the controllers
(``controllers/``) poll, drive load, run drift checks and retraining, record and replay, in workers that
post typed messages (``messages``); the handlers here hand each result to the state and redraw the
views from it. Data never comes from the UI's loop.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Select, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from .controllers.drift import DriftController
from .controllers.fleet import FleetController
from .controllers.load import LoadController
from .controllers.polling import Poller
from .controllers.session import SessionController
from .core.config import ConsoleConfig
from .core.drift import DriftEngine
from .core.recording import Recorder
from .core.replay import Replay
from .core.source import MetricSource
from .core.sources import open_source
from .core.state import ConsoleState
from .drift_keys import DriftKeys
from .load_keys import LoadKeys
from .messages import (
    PollFailed,
    SnapshotReady,
)
from .session_keys import SessionKeys
from .textual_patches import key_render_ansi_without_meta
from .widgets.charts import CHART_POINTS
from .widgets.drift_view import DriftView
from .widgets.footer import KeyFooter
from .widgets.help_screen import HelpScreen
from .widgets.llm_view import LlmView
from .widgets.load_panel import LoadPanel
from .widgets.model_view import ModelView
from .widgets.overview import Overview
from .widgets.status import Banner, StatusLine, mode_text
from .widgets.traffic import TrafficView
from .widgets.view import View

# Bounds the memory Textual's SGR cache holds in a real terminal (see textual_patches).
key_render_ansi_without_meta()

VIEWS = {"overview": Overview, "traffic": TrafficView, "model": ModelView, "llm": LlmView}


# In the footer's order, most used first: at 80 columns the last ones are cut (all are in ? and ctrl+p).
KEYS: tuple[Binding, ...] = (
    Binding("question_mark", "help", "Help", key_display="?"),
    Binding("q", "quit", "Quit"),
    # A terminal program stops on ctrl+c: Textual makes it "copy" (and quits on ctrl+q), which a new user
    # pressing it twice reads as a hung console. Priority: a text field's copy must not swallow it.
    Binding("ctrl+c", "quit_anywhere", "Quit", show=False, priority=True),
    Binding("escape", "leave_field", "Leave field", key_display="esc"),
    Binding("d", "run_drift", "Drift"),
    Binding("l", "toggle_load", "Load"),
    Binding("p", "pause", "Pause"),
    # A replay's own keys (hidden in a live session): step, jump, first and last moment.
    Binding("comma,left", "replay_step(-1)", "Back", key_display=","),
    Binding("full_stop,right", "replay_step(1)", "Forward", key_display="."),
    Binding("g", "replay_jump", "Go to time"),
    Binding("home", "replay_step(-1e9)", "Start", show=False),
    Binding("end", "replay_step(1e9)", "End", show=False),
    Binding("r", "retrain", "Retrain"),
    Binding("plus,equals_sign", "faster", "Faster", key_display="+"),
    Binding("minus", "slower", "Slower", key_display="-"),
    Binding("e", "export", "Export"),
    Binding("o", "open_report", "Report"),
    Binding("t", "toggle_scheduled_drift", "Timed drift"),
    Binding("R", "toggle_record", "Record"),
    Binding("1", "tab('overview')", "Overview", show=False),
    Binding("2", "tab('traffic')", "Traffic", show=False),
    Binding("3", "tab('model')", "Model", show=False),
    Binding("4", "tab('drift')", "Drift", show=False),
    Binding("5", "tab('load')", "Load", show=False),
    Binding("6", "tab('llm')", "LLM", show=False),
)


class StreamFlowApp(DriftKeys, LoadKeys, SessionKeys):
    CSS_PATH = "streamflow.tcss"
    TITLE = "StreamFlow"
    BINDINGS: ClassVar[list[BindingType]] = [*KEYS]

    def __init__(
        self,
        config: ConsoleConfig,
        *,
        source: MetricSource | None = None,
        drift_engine: DriftEngine | None = None,
        clock: Callable[[], float] = time.time,
        handle_signals: bool = False,
        replay: Replay | None = None,
        recorder: Recorder | None = None,
    ):
        super().__init__()
        self._handle_signals = handle_signals
        self.config = config
        self.state = ConsoleState(config, clock)
        self._source = source  # opened on mount from the config if not given
        self.loads = LoadController(self.state)
        self.drift = DriftController(self, self.state, drift_engine)
        self.fleet = FleetController(self, self.state)
        self.session = SessionController(self, self.state, recorder, replay)
        self.poller: Poller | None = None
        self._charts_at = 0.0
        self._chart_interval = (
            config.chart_interval if config.chart_interval is not None else max(5.0, config.history / CHART_POINTS)
        )

    # -- layout --------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line")
        yield Banner(id="banner")
        with TabbedContent(id="views", initial="overview"):
            with TabPane("1 Overview", id="overview"):
                yield Overview(id="overview-view")
            with TabPane("2 Traffic", id="traffic"):
                yield TrafficView(id="traffic-view")
            with TabPane("3 Model", id="model"):
                yield ModelView(id="model-view")
            with TabPane("4 Drift", id="drift"):
                yield DriftView(id="drift-view")
            with TabPane("5 Load", id="load"):
                yield LoadPanel(id="load-panel")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        if self._handle_signals:
            # kill -TERM, or the terminal closing (SIGHUP): quit as q does, so the load stops, the drift
            # worker ends, and the CLI stops the embedded API — nothing left running, the terminal restored.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, lambda: self.call_later(self.action_quit))
        self._show_load()
        if self.session.replay is not None:
            self.session.load_frame()
            return
        self.poller = Poller(self, self.state, self._source or open_source(self.config), self.loads)
        self.poller.recorder = lambda: self.session.recorder
        self._show_status()
        self.poller.backfill(self._backfilled, self._no_backfill)
        self._poll()
        self._start_fleet()
        if self.drift.every and not self.fleet.available:
            self.drift.schedule(self._scheduled_drift)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in KEYS:
            if binding.show and self.check_action(binding.action, ()) is not False:
                yield SystemCommand(
                    binding.description,
                    f"key {binding.key_display or binding.key}",
                    lambda action=binding.action: self.run_action(action),
                )

    # -- polling -------------------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.state.paused:
            self._show_status()  # the age of the last good poll keeps counting while paused
            self.set_timer(self.config.interval, self._poll)
        elif self.poller is not None:
            self.poller.poll()

    def on_poll_failed(self, message: PollFailed) -> None:
        self.state.poll_errors += 1
        self.query_one(Banner).show(f"⚠ poll failed: {message.error} — retrying every {self.config.interval:g} s")
        self.notify(message.error, title="poll failed", severity="error", timeout=10)
        self.set_timer(self.config.interval, self._poll)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        try:
            # A load started or stopped since the poll began is shown fresh instead of the poll's numbers.
            runner = self.loads.runner
            load = message.load if message.load_run == id(runner) else (runner.snapshot() if runner else None)
            change = self.state.apply_poll(message.snapshot, message.point, load)
            if change:
                self.notify(f"{change.old} → {change.new}", title="the API serves a new model")
                self._record(change.at, "version", change)
            if message.snapshot.ok:
                self._show_views()
            self._show_status()
            self._show_load()
        finally:
            self.set_timer(self.config.interval, self._poll)  # re-armed only now, and always: never overlapping

    def _backfilled(self, points) -> None:
        self.state.apply_backfill(points)

    def _no_backfill(self, why: str) -> None:
        self.notify(f"charts start empty: {why}", title="no history from Prometheus", severity="warning", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that died of an exception is shown (the poll worker reports its own as PollFailed)."""
        if event.state == WorkerState.ERROR and event.worker.group != "poll":
            error = event.worker.error
            title = f"{event.worker.name or event.worker.group} failed"
            self.notify(f"{type(error).__name__}: {error}", title=title, severity="error", timeout=10)

    # -- drawing -------------------------------------------------------------------------------------
    def _show_views(self, *, force_charts: bool = False) -> None:
        """Draw the visible view only: hidden ones catch up when their tab is chosen."""
        if self.state.shown is None:
            return
        if self.state.shown.llm is not None and not self.query("#llm"):
            # Tab 6 only for an LLM engine: the other targets' console keeps its five tabs.
            self.query_one(TabbedContent).add_pane(TabPane("6 LLM", LlmView(id="llm-view"), id="llm"))
        now = time.monotonic()
        charts = force_charts or now - self._charts_at >= self._chart_interval
        if charts:
            self._charts_at = now
        active = self.query_one(TabbedContent).active
        if active in VIEWS:
            view: View = self.query_one(VIEWS[active])
            view.draw(self.state, charts=charts)
        elif active == "load" and charts:
            panel, points = self.query_one(LoadPanel), list(self.state.timeline.points)
            panel.draw_charts(points)
            panel.draw_ttft_chart(points)

    def on_resize(self, event) -> None:
        """Layouts reflow by class: below 120 columns and 32 rows the secondary panels give way."""
        main = self.screen_stack[0]  # not a dialog that happens to be on top
        main.set_class(event.size.width < 120, "narrow")
        main.set_class(event.size.height < 32, "short")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A view not shown before draws again once its layout gives it a size (View.on_resize).
        self._show_views(force_charts=True)

    def _show_status(self) -> None:
        s = self.state.snapshot
        self.query_one(StatusLine).show(
            s,
            age_s=self.state.age_s(),
            load=self.state.load_text(),
            paused=self.state.paused,
            change=self.state.versions.last,
            mode=mode_text(self.session.replay, self.state.frame, self.session.recorder),
        )
        self.query_one(Banner).show_for(s, self.config.interval)
        # The views keep the last good numbers for context, dimmed so they do not read as current.
        self.query_one("#views").set_class(s is not None and not s.ok, "stale")

    def _show_load(self) -> None:
        s = self.state.shown
        self.query_one(LoadPanel).show(
            self.state.load,
            self.state.load_error or self.loads.failure(),
            self.loads.feedback(),
            remote=self.state.remote_load,
            server_p95=s.latency.p95 if s is not None else None,
            llm=s.llm if s is not None else None,
            stream_to=self.loads.stream_target,
        )

    # -- fields, pause, help, tabs ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer tells the truth about focus: while a field is edited its keys are shown disabled, and
        "esc leave field" appears; with no field to leave, esc is not offered. A replay's keys show in a replay."""
        if action.startswith("replay_") and self.session.replay is None:
            return False
        if action == "toggle_record" and self.session.replay is not None:
            return False
        if action == "leave_field":
            return isinstance(self.focused, Input | Select)
        if action in ("focus_next", "focus_previous", "quit_anywhere"):  # tab, shift+tab, ctrl+c: in a field too
            return True
        if isinstance(self.focused, Input):  # printable keys type into it, Esc leaves it
            return None
        return True

    def action_leave_field(self) -> None:
        if isinstance(self.focused, Input | Select):
            self.screen.set_focus(None)

    def action_pause(self) -> None:
        replay = self.session.replay
        if replay is not None:
            replay.playing = not replay.playing
            if replay.playing:
                self.session.load_frame(step=1)
        else:
            self.state.paused = not self.state.paused
        self._show_status()

    def action_tab(self, tab: str) -> None:
        views = self.query_one(TabbedContent)
        if self.focused is not None and views.active_pane is not None and views.active_pane in self.focused.ancestors:
            # A control of the view being left keeps no focus: Textual would hand it to the next control of
            # that view, and the tabs would follow that focus straight back.
            self.screen.set_focus(None)
        if tab == "llm" and not self.query("#llm"):
            return  # 6: no LLM tab unless the target is an LLM engine
        views.active = tab

    def action_help(self) -> None:
        """The keys that apply here and now (``check_action``): a replay's keys only in a replay; esc last, always
        (it leaves a field and closes this help)."""
        keys = [
            (b.key_display or b.key, b.description)
            for b in KEYS
            if b.show and b.action != "leave_field" and self.check_action(b.action, ()) is not False
        ]
        self.push_screen(
            HelpScreen(
                keys
                + [
                    ("1–5", "Overview, Traffic, Model, Drift, Load"),
                    ("tab", "next field or table (shift+tab: back)"),
                    ("esc", "leave a field; close this help"),
                ]
            )
        )

    async def action_quit_anywhere(self) -> None:
        await self.action_quit()

    async def action_quit(self) -> None:
        self.session.close()
        self.loads.stop()
        self.drift.close()
        if self.poller is not None:
            self.poller.close()
        elif self._source is not None:
            self._source.close()
        self.exit()


def create_app(
    config: ConsoleConfig, *, drift_engine: DriftEngine | None = None, replay: Replay | None = None, **kwargs
) -> StreamFlowApp:
    """The app factory used by the CLI and the tests.

    The drift engine's worker process is spawned here, before Textual takes
    over stdout/stderr (multiprocessing cannot start its helpers after), and it
    warms Evidently in the background while the console starts.
    """
    if replay is not None:  # nothing to check or retrain in a recording: no worker process
        return StreamFlowApp(config, drift_engine=drift_engine, replay=replay, **kwargs)
    return StreamFlowApp(config, drift_engine=drift_engine or DriftEngine(), **kwargs)
