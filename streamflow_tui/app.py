"""The StreamFlow console: arranges the views and routes immutable results from workers to them.

Data never comes from the UI loop: polls run in thread workers and post a
``SnapshotReady``; the next poll is armed only when that message has been
handled, so polls never pile up. Load runs in the load generator's own thread,
drift in the drift engine's worker process.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Select, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from loadgen import LoadConfig, LoadConfigError, LoadRunner, LoadSnapshot
from loadgen.preflight import check_payload_month

from .browser import open_in_browser
from .config import ConsoleConfig
from .core.drift import DriftEngine
from .core.drift_history import DriftHistory
from .core.drift_types import DriftRequest, DriftResult
from .core.errors import DriftError, RecordingError, RetrainError
from .core.recording import Recorder
from .core.replay import Replay, ReplayFrame
from .core.report import to_json
from .core.results import Snapshot
from .core.retraining import RetrainDecision, RetrainJob, run_retrain
from .core.source import MetricSource, WithFallback
from .core.timeline import Timeline, point_of
from .core.versions import VersionTracker
from .messages import (
    DriftDone,
    DriftFailed,
    FrameFailed,
    FrameReady,
    HtmlReady,
    PollFailed,
    RecordingFailed,
    RetrainDone,
    RetrainFailed,
    SnapshotReady,
)
from .textual_patches import key_render_ansi_without_meta
from .widgets.charts import CHART_POINTS
from .widgets.drift_view import DriftView, heatmap_text
from .widgets.help_screen import HelpScreen
from .widgets.jump_screen import JumpScreen
from .widgets.load_panel import LoadPanel
from .widgets.model_view import ModelView
from .widgets.overview import Overview
from .widgets.status import Banner, StatusLine
from .widgets.traffic import TrafficView

# Bounds the memory Textual's SGR cache holds in a real terminal (see textual_patches).
key_render_ansi_without_meta()

RATE_STEP = 1.25


class StreamFlowApp(App[None]):
    CSS_PATH = "streamflow.tcss"
    TITLE = "StreamFlow"
    # In the footer's order, most used first: at 80 columns the last ones are cut (all are in ? and ctrl+p).
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
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
    ]

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
        self._clock = clock
        self._source = source  # built on mount from the config if not given
        self.replay = replay  # a recording played back instead of live sources
        self.recorder = recorder  # --record, opened by the CLI (a wrong path is a usage error there); R toggles
        self._frame: ReplayFrame | None = None
        self._drift_engine = drift_engine
        self.timeline = Timeline(config.history_points)
        self.versions = VersionTracker()
        self.snapshot: Snapshot | None = None
        self._last_ok: float | None = None
        self.paused = False
        self.load: LoadRunner | None = None
        self._load_snapshot: LoadSnapshot | None = None
        self._load_error: str | None = None
        self.drift_result: DriftResult | None = None
        self._drift_done_at: float | None = None
        self.drift_history = DriftHistory()
        self._drift_every = config.drift_every
        self._scheduled_timer = None
        self._scheduled_run = False  # the running check was started by the schedule
        self._drift_started: float | None = None
        self._retrain_started: float | None = None
        self._retrain_data: str | None = None
        self.retrain_decision: RetrainDecision | None = None
        self.polls = 0
        self.poll_errors = 0
        self._charts_at = 0.0
        self._chart_interval = (
            config.chart_interval if config.chart_interval is not None else max(5.0, config.history / CHART_POINTS)
        )

    # -- layout ------------------------------------------------------------------------
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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self._handle_signals:
            # kill -TERM, or the terminal closing (SIGHUP): quit as q does, so the load stops, the drift
            # worker ends, and the CLI stops the embedded API — nothing left running, the terminal restored.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, lambda: self.call_later(self.action_quit))
        self.query_one(LoadPanel).show(None)
        if self.replay is not None:
            self._load_frame()
            return
        if self._source is None:
            self._source = build_source(self.config)
        self._show_status()
        self._backfill()
        self._poll()
        if self._drift_every:
            self._arm_scheduled_drift()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.show:
                yield SystemCommand(
                    binding.description,
                    f"key {binding.key_display or binding.key}",
                    lambda action=binding.action: self.run_action(action),
                )

    # -- polling ----------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.paused:
            self._show_status()  # the age of the last good poll keeps counting while paused
            self.set_timer(self.config.interval, self._poll)
            return
        self._poll_worker()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll_worker(self) -> None:
        try:
            self._source.poll()
            snapshot = self._source.snapshot(self.config.window)
            load = self.load
            load_snapshot = load.snapshot() if load else None
            point = point_of(snapshot, load_snapshot)
            message = SnapshotReady(snapshot, load_snapshot, id(load), point)
        except Exception as exc:  # anything at all: the loop must go on, and say why it missed a beat
            self.post_message(PollFailed(f"{type(exc).__name__}: {exc}"))
            return
        recorder = self.recorder
        if recorder is not None:
            try:
                recorder.add_poll(snapshot, point)
                if load_snapshot is not None:
                    recorder.add_event(point.t, "load", load_snapshot)
            except RecordingError as exc:
                self.post_message(RecordingFailed(str(exc)))
        self.post_message(message)

    def on_poll_failed(self, message: PollFailed) -> None:
        self.poll_errors += 1
        self.query_one(Banner).show(f"⚠ poll failed: {message.error} — retrying every {self.config.interval:g} s")
        self.notify(message.error, title="poll failed", severity="error", timeout=10)
        self.set_timer(self.config.interval, self._poll)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that died of an exception is shown (the poll worker reports its own as PollFailed)."""
        if event.state == WorkerState.ERROR and event.worker.group != "poll":
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}",
                title=f"{event.worker.name or event.worker.group} failed",
                severity="error",
                timeout=10,
            )

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        try:
            self._take_snapshot(message)
        finally:
            self.set_timer(
                self.config.interval, self._poll
            )  # re-armed only now, and always: polls never overlap or stop

    def _take_snapshot(self, message: SnapshotReady) -> None:
        self.polls += 1
        s = message.snapshot
        self.snapshot = s
        # A load started or stopped since the poll began is shown fresh by _current_load instead.
        self._load_snapshot = message.load if message.load_run == id(self.load) else None
        if s.ok:
            self._last_ok = self._clock()
            change = self.versions.observe(s)
            if change:
                self.notify(f"{change.old} → {change.new}", title="the API serves a new model")
                self._record_event(change.at, "version", change)
            if message.point is not None:
                self.timeline.add(message.point)
            else:
                self.timeline.add_snapshot(s, self._load_snapshot)
            self._show_views()
        self._show_status()
        self._show_load()
        if self._drift_started is not None:
            ref, cur, _ = self.query_one(DriftView).choice()
            self.query_one(DriftView).running(ref, cur, self._clock() - self._drift_started)
        if self._retrain_started is not None:
            self.query_one(DriftView).retrain_running(self._retrain_data, self._clock() - self._retrain_started)

    def _show_views(self, *, force_charts: bool = False) -> None:
        """Update the visible view only: hidden ones catch up when their tab is chosen."""
        s = self.snapshot
        if s is None or not s.ok:
            return
        now = time.monotonic()
        charts = force_charts or now - self._charts_at >= self._chart_interval
        if charts:
            self._charts_at = now
        active = self.query_one(TabbedContent).active
        if active == "overview":
            age = None if self._drift_done_at is None else self._now() - self._drift_done_at
            self.query_one(Overview).show(
                s,
                self.timeline,
                slo_p95=self.config.slo_p95,
                slo_error_ratio=self.config.slo_error_ratio,
                charts=charts,
                versions=self.versions,
                drift=self.drift_result,
                drift_age_s=age,
                load=self._load_state(),
            )
        elif active == "traffic":
            self.query_one(TrafficView).show(
                s,
                self.timeline,
                slo_p95=self.config.slo_p95,
                slo_error_ratio=self.config.slo_error_ratio,
                charts=charts,
                versions=self.versions,
            )
        elif active == "model":
            self.query_one(ModelView).show(s, self.timeline, charts=charts, versions=self.versions)
        elif active == "load" and charts:
            self.query_one(LoadPanel).draw_charts(list(self.timeline.points))

    def on_resize(self, event) -> None:
        """Layouts reflow by class: below 120 columns and 32 rows the secondary panels give way."""
        main = self.screen_stack[0]  # not a dialog that happens to be on top
        main.set_class(event.size.width < 120, "narrow")
        main.set_class(event.size.height < 32, "short")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A view not shown before draws again once its layout gives it a size (View.on_resize).
        self._show_views(force_charts=True)

    def _show_status(self) -> None:
        s = self.snapshot
        age = None if self._last_ok is None else self._clock() - self._last_ok
        if self._frame is not None:
            age = None  # a replay: the moment shown is in the mode text
        self.query_one(StatusLine).show(
            s,
            age_s=age,
            load=self._load_state(),
            paused=self.paused,
            change=self.versions.last,
            mode=self._mode_text(),
        )
        banner = None
        if s is not None and not s.ok:
            target = s.prometheus if s.source == "prometheus" else s.api
            banner = f"⚠ {target.url or 'target'} cannot be read: {target.error or 'down'} — retrying every {self.config.interval:g} s, history kept"
        elif s is not None and s.api.error:  # the target's own trouble: no metrics, or Prometheus cannot scrape it
            banner = f"⚠ {s.api.error}"
        self.query_one(Banner).show(banner)
        # The views keep the last good numbers for context, dimmed so they do not read as current.
        self.query_one("#views").set_class(s is not None and not s.ok, "stale")

    @work(thread=True, exit_on_error=False)
    def _backfill(self) -> None:
        """Charts start with history when the source has it (Prometheus): about one point per chart column."""
        from .core.prometheus import PrometheusError

        step = max(self.config.interval, self.config.history / 120)
        try:
            history = self._source.history(self.config.history, step, self.config.window)
        except PrometheusError as exc:
            self.call_from_thread(
                self.notify,
                f"charts start empty: {exc.message}",
                title="no history from Prometheus",
                severity="warning",
                timeout=8,
            )
            return
        if history is not None:
            self.call_from_thread(self._apply_backfill, history)

    def _apply_backfill(self, history) -> None:
        from .core.timeline import Point

        if self.timeline.points:
            return  # live points arrived first; keep them
        for i, t in enumerate(history.times_s):
            self.timeline.add(
                Point(t, history.rps[i], history.error_ratio[i], history.p50[i], history.p95[i], history.p99[i], None)
            )

    # -- load --------------------------------------------------------------------------------
    def _current_load(self) -> LoadSnapshot | None:
        """The last polled load snapshot; a fresh one right after a load action changed things."""
        if self._frame is not None:
            return self._frame.load
        if self.load is None:
            return None
        if self._load_snapshot is None:
            self._load_snapshot = self.load.snapshot()
        return self._load_snapshot

    def _now(self) -> float:
        """The moment shown: the clock's, or in a replay the recorded moment's."""
        return self._frame.t if self._frame is not None else self._clock()

    def _mode_text(self) -> Text | None:
        if self.replay is not None:
            r, frame = self.replay, self._frame
            moment = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(frame.t)) if frame else "…"
            where = f" {frame.index + 1}/{frame.count}" if frame else ""
            return Text(f"{'▶' if r.playing else '⏸'} REPLAY {moment} ×{r.speed:g}{where}", style="bold black on cyan")
        if self.recorder is not None:
            return Text(f"● REC {Path(self.recorder.path).name}", style="bold white on red")
        return None

    def _load_state(self) -> str:
        ls = self._current_load()
        if ls is None:
            remote = self.snapshot.remote_load if self.snapshot is not None and self.snapshot.ok else None
            if remote is None or not remote.segments_up:
                return "–"
            target = f" {remote.target_rps:g}/s" if remote.target_rps is not None and remote.complete else ""
            return f"⇄ remote {remote.segments_up}/{remote.segments}{target}"  # load-generated elsewhere
        if not ls.running:
            return "■ stopped"
        return f"▶ {ls.model} {ls.target_rate:g}/s" if ls.model == "open" else f"▶ closed {ls.concurrency} workers"

    def _show_load(self) -> None:
        s = self.snapshot
        self.query_one(LoadPanel).show(
            self._current_load(),
            self._load_error,
            self.load.feedback() if self.load else None,
            remote=s.remote_load if s is not None and s.ok else None,
            server_p95=s.latency.p95 if s is not None else None,
        )

    def action_toggle_load(self) -> None:
        if self._replaying("start or stop load"):
            return
        if self.load is not None and self.load.running:
            self._stop_load(self.load)
            return
        self._start_load()
        if self._load_error:
            self.notify(self._load_error, title="load not started", severity="error", timeout=8)
        self._refresh_load()

    @work(thread=True, group="load", exit_on_error=False)
    def _stop_load(self, runner: LoadRunner) -> None:
        # stop() waits for requests in flight (up to a 0.5 s grace against a hanging target): not on the UI loop.
        runner.stop()
        self.call_from_thread(self._refresh_load)

    def _refresh_load(self) -> None:
        self._load_snapshot = None
        self._show_load()
        self._show_status()

    def _start_load(self) -> None:
        url = self.config.api_url
        if not url:
            self._load_error = "no API URL to load (watching Prometheus only)"
            return
        s = self.query_one(LoadPanel).settings()
        open_model = s["mode"] == "open"
        try:
            feedback_delay = float(s["feedback_delay"]) if s["feedback_delay"] else None
        except ValueError:
            self._load_error = (
                f"labels after: {s['feedback_delay']!r} is not a number of seconds (blank: send no labels)"
            )
            return
        try:
            config = LoadConfig(
                url=url.rstrip("/") + "/predict",
                rate=s["rate"] if open_model else None,
                concurrency=None if open_model else s["concurrency"],
                duration=24 * 3600.0,  # until stopped (a day at most)
                month=s["month"],
                payload=s["payload"],
                feedback_delay=feedback_delay,
            )
            # The month the API serves, as its own metrics say (api_model_info): user ids of another month
            # would be labelled with the wrong rows' churn.
            snapshot = self.snapshot
            check_payload_month(config, snapshot.model.served_month if snapshot and snapshot.model else None)
        except LoadConfigError as exc:
            self._load_error = str(exc)
            return
        self._load_error = None
        self.load = LoadRunner(config).start()

    def _change_load(self, factor: float) -> None:
        runner = self.load
        if runner is None or not runner.running:
            self.notify("start the load first (l)", severity="warning")
            return
        if runner.config.rate is not None:
            rate = max(1.0, round(runner.snapshot().target_rate * factor, 1))
            runner.set_rate(rate)
            self.query_one(LoadPanel).show_target(rate, None)
        else:
            n = max(1, runner.snapshot().concurrency + (1 if factor > 1 else -1))
            runner.set_concurrency(n)
            self.query_one(LoadPanel).show_target(None, n)
        self._refresh_load()

    def action_faster(self) -> None:
        if self.replay is not None:
            self.replay.faster(True)
            self._show_status()
            return
        self._change_load(RATE_STEP)

    def action_slower(self) -> None:
        if self.replay is not None:
            self.replay.faster(False)
            self._show_status()
            return
        self._change_load(1 / RATE_STEP)

    # -- drift --------------------------------------------------------------------------------
    def action_run_drift(self) -> None:
        if self._replaying("run a drift check"):
            return
        if self._drift_started is not None:
            self.notify("a drift check is already running", severity="warning")
            return
        self.action_tab("drift")
        view = self.query_one(DriftView)
        reference, current, threshold = view.choice()
        try:
            request = DriftRequest(
                reference,
                current,
                threshold=numeric(threshold),
                reports_dir=self.config.reports_dir,
                api_url=self.config.api_url,
            )
        except DriftError as exc:
            view.failed(str(exc))
            self.notify(str(exc), title="drift check failed", severity="error", timeout=10)
            return
        self._drift_started = self._clock()
        view.running(reference, current, 0.0)
        self._drift_worker(request)

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False)
    def _drift_worker(self, request: DriftRequest) -> None:
        engine = self._drift_engine
        try:
            result = engine.submit(request).result()
        except DriftError as exc:
            self.post_message(DriftFailed(str(exc)))
            return
        except Exception as exc:  # the worker process died, or similar
            self.post_message(DriftFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(DriftDone(result))
        if result.token:
            try:
                self.post_message(HtmlReady(engine.submit_html(result).result()))
            except Exception as exc:
                self.post_message(HtmlReady(None, str(exc)))

    # -- retrain ------------------------------------------------------------------------------------
    def action_retrain(self) -> None:
        """Train a challenger on the last drift check's current data, compare, promote or keep (worker process)."""
        if self._replaying("retrain"):
            return
        if self._retrain_started is not None:
            self.notify("retraining is already running", severity="warning")
            return
        result = self.drift_result
        if result is None:
            self.notify("run a drift check first (d): r retrains on its current data", severity="warning")
            return
        self.action_tab("drift")
        job = RetrainJob(
            result.current,
            api_url=self.config.api_url if result.current == "live" else None,
            min_gain=self.config.min_gain,
            registry=self.config.registry,
            registry_location=self.config.registry_location,
            command=self.config.retrain_cmd,
        )
        self._retrain_started, self._retrain_data = self._clock(), job.data
        self.query_one(DriftView).retrain_running(job.data, 0.0)
        self._retrain_worker(job)

    @work(thread=True, exclusive=True, group="retrain", exit_on_error=False)
    def _retrain_worker(self, job: RetrainJob) -> None:
        try:
            self.post_message(RetrainDone(run_retrain(job)))  # the retrain command, as a process
        except Exception as exc:  # RetrainError says what is wrong; anything else with its type
            self.post_message(
                RetrainFailed(str(exc) if isinstance(exc, RetrainError) else f"{type(exc).__name__}: {exc}")
            )

    def on_retrain_done(self, message: RetrainDone) -> None:
        self._retrain_started = None
        self.retrain_decision = message.decision
        self._record_event(self._clock(), "retrain", message.decision)
        self.query_one(DriftView).retrain_done(message.decision)
        d = message.decision
        self.notify(d.reason, title=f"retrain: {d.decision}", severity="information" if d.promoted else "warning")

    def on_retrain_failed(self, message: RetrainFailed) -> None:
        self._retrain_started = None
        self.query_one(DriftView).retrain_failed(message.error)
        self.notify(message.error, title="retraining failed", severity="error", timeout=10)

    # -- scheduled live drift -------------------------------------------------------------------
    def action_toggle_scheduled_drift(self) -> None:
        if self._replaying("schedule drift checks"):
            return
        if self._scheduled_timer is not None:
            self._scheduled_timer.stop()
            self._scheduled_timer = None
            self.notify("scheduled live drift off")
            return
        if not self.config.api_url:
            self.notify("scheduled drift checks live rows: it needs --api-url", severity="warning")
            return
        self._drift_every = self._drift_every or 60.0
        self._arm_scheduled_drift()
        self.notify(f"live drift checked every {self._drift_every:g} s (t stops it)")

    def _arm_scheduled_drift(self) -> None:
        self._scheduled_timer = self.set_interval(self._drift_every, self._scheduled_drift)

    def _scheduled_drift(self) -> None:
        """Reference (the Drift view's) against the API's latest rows, no report files: a point of the time series."""
        if self._drift_started is not None:
            return  # the last check still runs: this tick is skipped, not queued
        reference, _, threshold = self.query_one(DriftView).choice()
        try:
            request = DriftRequest(
                reference, "live", threshold=numeric(threshold), reports_dir=None, api_url=self.config.api_url
            )
        except DriftError as exc:
            self.notify(str(exc), title="scheduled drift", severity="error")
            return
        self._drift_started = self._clock()
        self._scheduled_run = True
        self._drift_worker(request)

    def on_drift_done(self, message: DriftDone) -> None:
        self._drift_started = None
        self.drift_result = message.result
        self._drift_done_at = self._clock()
        self._record_event(self._drift_done_at, "drift", message.result)
        if self._scheduled_run or message.result.current == "live":
            self.drift_history.add(message.result, self._clock())
            self.query_one("#drift-heatmap", Static).update(heatmap_text(self.drift_history, self.size.width - 4))
        self._scheduled_run = False
        self.query_one(DriftView).show(message.result)

    def on_drift_failed(self, message: DriftFailed) -> None:
        self._drift_started = None
        self._scheduled_run = False
        self.query_one(DriftView).failed(message.error)
        # The view's status row is one line; the whole message stays readable here.
        self.notify(message.error, title="drift check failed", severity="error", timeout=10)

    def on_html_ready(self, message: HtmlReady) -> None:
        if self.drift_result is not None and message.path:
            from dataclasses import replace

            self.drift_result = replace(self.drift_result, report_html=message.path)
        self.query_one(DriftView).html(message.path, message.error)

    def action_open_report(self) -> None:
        path = self.drift_result.report_html if self.drift_result else None
        if not path:
            self.notify("no HTML report yet: run a drift check (d)", severity="warning")
            return
        why_not = open_in_browser(path)
        if why_not:
            self.notify(
                f"{why_not}: the report is {Path(path).resolve()}",
                title="report not opened",
                severity="warning",
                timeout=12,
            )
        else:
            self.notify(f"opened {path} in the browser")

    # -- the rest -------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-toggle":
            self.action_toggle_load()
        elif event.button.id == "drift-run":
            self.action_run_drift()

    def _editing(self) -> bool:
        """A text field has the focus: printable keys type into it, Esc leaves it."""
        return isinstance(self.focused, Input)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer tells the truth about focus: while a field is edited its keys are shown disabled, and
        "esc leave field" appears; with no field to leave, esc is not offered. A replay's keys show in a replay."""
        if action.startswith("replay_") and self.replay is None:
            return False
        if action == "toggle_record" and self.replay is not None:
            return False
        if action == "leave_field":
            return isinstance(self.focused, (Input, Select))
        if self._editing():
            return None
        return True

    def action_leave_field(self) -> None:
        if isinstance(self.focused, (Input, Select)):
            self.screen.set_focus(None)

    def action_pause(self) -> None:
        if self.replay is not None:
            self.replay.playing = not self.replay.playing
            if self.replay.playing:
                self._load_frame(step=1)
            self._show_status()
            return
        self.paused = not self.paused
        self._show_status()

    # -- record and replay ----------------------------------------------------------------------
    def _replaying(self, what: str) -> bool:
        """In a replay, an action on the live service cannot run: it says so."""
        if self.replay is None:
            return False
        self.notify(
            f"cannot {what} in a replay: this is a recording ({self.replay.recording.path})", severity="warning"
        )
        return True

    def _start_recording(self, path: str) -> None:
        try:
            self.recorder = Recorder(
                path,
                interval=self.config.interval,
                source="prometheus" if self.config.prometheus_url else "scrape",
                api_url=self.config.api_url,
            )
        except RecordingError as exc:
            self.notify(str(exc), title="not recording", severity="error", timeout=12)
            return
        self.notify(f"recording every poll to {path} (R stops)")
        self._show_status()

    def action_toggle_record(self) -> None:
        if self._replaying("record"):
            return
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            recorder.close()
            self.notify(f"recording stopped: {recorder.path} (streamflow-tui --replay {recorder.path})")
        else:
            path = self.config.record_path or str(
                Path(self.config.export_dir) / datetime.now().strftime("streamflow-%Y%m%d-%H%M%S.db")
            )
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._start_recording(path)
        self._show_status()

    def _record_event(self, t: float, kind: str, obj) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.add_event(t, kind, obj)
        except RecordingError as exc:
            self.on_recording_failed(RecordingFailed(str(exc)))

    def on_recording_failed(self, message: RecordingFailed) -> None:
        if self.recorder is None:
            return
        recorder, self.recorder = self.recorder, None
        recorder.close()
        self.notify(
            f"{message.error} — recording stopped; what was written before stays readable",
            title="recording failed",
            severity="error",
            timeout=15,
        )
        self._show_status()

    def _load_frame(self, step: int = 0, at: float | None = None) -> None:
        replay = self.replay
        if at is not None:
            replay.seek(at)
        elif step:
            replay.step(step)
        self._frame_worker(replay.index)

    @work(thread=True, exclusive=True, group="replay", exit_on_error=False)
    def _frame_worker(self, index: int) -> None:
        try:
            frame = self.replay.frame(index)
        except Exception as exc:  # a corrupt row, a file gone: said, and the replay stays where it was
            self.post_message(FrameFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(FrameReady(frame))

    def on_frame_failed(self, message: FrameFailed) -> None:
        self.replay.playing = False
        self.notify(message.error, title="cannot show this moment of the recording", severity="error", timeout=12)
        self._show_status()

    def on_frame_ready(self, message: FrameReady) -> None:
        frame, previous = message.frame, self._frame
        self._frame = frame
        self.snapshot = frame.snapshot
        self.timeline = Timeline(self.config.history_points, frame.points)
        self.versions = VersionTracker.from_changes(frame.changes, frame.snapshot)
        drift = frame.drift[1] if frame.drift else None
        if drift != self.drift_result:
            self.drift_result, self._drift_done_at = drift, frame.drift[0] if frame.drift else None
            if drift is not None:
                self.query_one(DriftView).show(drift)
        if frame.retrain is not None and frame.retrain != (previous.retrain if previous else None):
            self.query_one(DriftView).retrain_done(frame.retrain)
        stepped = previous is None or abs(frame.index - previous.index) != 1
        self._show_views(force_charts=stepped)
        self._show_status()
        self._show_load()
        if self.replay.playing:
            self.set_timer(self.replay.delay(), self._play_next)

    def _play_next(self) -> None:
        if self.replay.playing and self.replay.advance():
            self._frame_worker(self.replay.index)
        else:
            self._show_status()

    def action_replay_step(self, n: float) -> None:
        if self.replay is None:
            self.notify("stepping moves through a recording: streamflow-tui --replay FILE", severity="warning")
            return
        self.replay.playing = False
        self._load_frame(step=int(n))

    def action_replay_jump(self) -> None:
        if self.replay is None:
            self.notify("g jumps to a time in a recording: streamflow-tui --replay FILE", severity="warning")
            return

        def jump(text: str | None) -> None:
            if text:
                self.replay.playing = False
                self._load_frame(at=self.replay.target(text))

        self.push_screen(JumpScreen(self.replay.target), jump)

    def action_tab(self, tab: str) -> None:
        views = self.query_one(TabbedContent)
        if self.focused is not None and views.active_pane is not None and views.active_pane in self.focused.ancestors:
            # A control of the view being left keeps no focus: Textual would hand it to the next control of
            # that view, and the tabs would follow that focus straight back.
            self.screen.set_focus(None)
        views.active = tab

    def action_help(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self.BINDINGS if b.show]
        self.push_screen(
            HelpScreen(keys + [("1–5", "Overview, Traffic, Model, Drift, Load"), ("tab", "next field or table")])
        )

    def action_export(self) -> Path:
        folder = Path(self.config.export_dir) / datetime.now().strftime("streamflow-%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "series.csv").write_text(self.timeline.to_csv())
        document = {
            "series": self.timeline.to_json(),
            "last_snapshot": to_json(self.snapshot) if self.snapshot else None,
            "drift": self.drift_result.to_json() if self.drift_result else None,
        }
        (folder / "series.json").write_text(json.dumps(document, indent=1))
        # The screenshot shows the console, not the toasts on it: taken once they are gone from the screen.
        self.clear_notifications()
        self.call_after_refresh(self._export_screenshot, folder)
        return folder

    def _export_screenshot(self, folder: Path) -> None:
        self.save_screenshot("screenshot.svg", str(folder))
        self.notify(f"exported series and screenshot to {folder}")

    async def action_quit(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.replay is not None:
            self.replay.recording.close()
        if self.load is not None:
            self.load.stop()
        if self._drift_engine is not None:
            self._drift_engine.close()
        if self._source is not None:
            self._source.close()
        self.exit()


def numeric(threshold: float | str) -> float:
    """The Drift view's threshold as a number; the text typed, when it is not one, as a DriftError."""
    if isinstance(threshold, str):
        raise DriftError(f"threshold {threshold!r} is not a number: a drift share in (0, 1], e.g. 0.3")
    return threshold


def build_source(config: ConsoleConfig) -> MetricSource:
    from .core.scrape import ScrapeSource

    scrape = None
    if config.api_url:
        scrape = ScrapeSource(
            config.api_url,
            config.names,
            history_points=config.history_points,
            timeout=config.timeout,
            preset=config.preset,
            options=config.api_options,
            exclude=config.exclude,
            performance_window=config.performance_window,
        )
    if not config.prometheus_url:
        assert scrape is not None, "the CLI gives an API URL or a Prometheus URL"
        return scrape
    from .core.prometheus import PrometheusSource

    prometheus = PrometheusSource(
        config.prometheus_url,
        config.names,
        api_url=config.api_url,
        timeout=config.timeout,
        preset=config.preset,
        options=config.prometheus_options,
        exclude=config.exclude,
        job=config.job,
        performance_window=config.performance_window,
    )
    return prometheus if scrape is None else WithFallback(prometheus, scrape)


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
