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
import webbrowser
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from loadgen import LoadConfig, LoadConfigError, LoadRunner, LoadSnapshot

from .config import ConsoleConfig
from .widgets.charts import CHART_POINTS
from .core.drift import DriftEngine, DriftError, DriftRequest, DriftResult, RetrainError, RetrainJob
from .core.drift_history import DriftHistory
from .core.report import to_json
from .core.results import Snapshot
from .core.timeline import Timeline
from .core.versions import VersionTracker
from .messages import DriftDone, DriftFailed, HtmlReady, PollFailed, RetrainDone, RetrainFailed, SnapshotReady
from .widgets.drift_view import DriftView, heatmap_text
from .widgets.help_screen import HelpScreen
from .widgets.load_panel import LoadPanel
from .widgets.model_view import ModelView
from .widgets.status import Banner, StatusLine
from .widgets.traffic import TrafficView

RATE_STEP = 1.25


class StreamFlowApp(App[None]):
    CSS_PATH = "streamflow.tcss"
    TITLE = "StreamFlow"
    BINDINGS = [
        Binding("d", "run_drift", "Drift"),
        Binding("l", "toggle_load", "Load"),
        Binding("plus,equals_sign", "faster", "+ rate", key_display="+"),
        Binding("minus", "slower", "- rate", key_display="-"),
        Binding("p", "pause", "Pause"),
        Binding("e", "export", "Export"),
        Binding("o", "open_report", "Open report"),
        Binding("t", "toggle_scheduled_drift", "Timed drift"),
        Binding("r", "retrain", "Retrain"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("1", "tab('traffic')", "Traffic", show=False),
        Binding("2", "tab('model')", "Model", show=False),
        Binding("3", "tab('drift')", "Drift", show=False),
        Binding("4", "tab('load')", "Load", show=False),
    ]

    def __init__(
        self,
        config: ConsoleConfig,
        *,
        sources: tuple | None = None,
        drift_engine: DriftEngine | None = None,
        clock: Callable[[], float] = time.time,
        handle_signals: bool = False,
    ):
        super().__init__()
        self._handle_signals = handle_signals
        self.config = config
        self._clock = clock
        self._sources = sources  # (primary, fallback scrape source or None); built on mount if not given
        self._drift_engine = drift_engine
        self.timeline = Timeline(config.history_points)
        self.versions = VersionTracker()
        self.snapshot: Snapshot | None = None
        self._fallback: str | None = None
        self._last_ok: float | None = None
        self.paused = False
        self.load: LoadRunner | None = None
        self._load_snapshot: LoadSnapshot | None = None
        self._load_error: str | None = None
        self.drift_result: DriftResult | None = None
        self.drift_history = DriftHistory()
        self._drift_every = config.drift_every
        self._scheduled_timer = None
        self._scheduled_run = False  # the running check was started by the schedule
        self._drift_started: float | None = None
        self._retrain_started: float | None = None
        self._retrain_data: str | None = None
        self.retrain_decision: dict | None = None
        self.polls = 0
        self.poll_errors = 0
        self._charts_at = 0.0
        self._chart_interval = config.chart_interval if config.chart_interval is not None else max(5.0, config.history / CHART_POINTS)

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line")
        yield Banner(id="banner")
        with TabbedContent(id="views", initial="traffic"):
            with TabPane("Traffic", id="traffic"):
                yield TrafficView(id="traffic-view")
            with TabPane("Model", id="model"):
                yield ModelView(id="model-view")
            with TabPane("Drift", id="drift"):
                yield DriftView(id="drift-view")
            with TabPane("Load", id="load"):
                yield LoadPanel(id="load-panel")
        yield Footer()

    def on_mount(self) -> None:
        if self._handle_signals:
            # kill -TERM, or the terminal closing (SIGHUP): quit as q does, so the load stops, the drift
            # worker ends, and the CLI stops the embedded API — nothing left running, the terminal restored.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, lambda: self.call_later(self.action_quit))
        if self._sources is None:
            self._sources = build_sources(self.config)
        self.query_one(LoadPanel).show(None)
        self._show_status()
        if self._sources[0].kind == "prometheus":
            self._backfill()
        self._poll()
        if self._drift_every:
            self._arm_scheduled_drift()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.show:
                yield SystemCommand(binding.description, f"key {binding.key_display or binding.key}",
                                    lambda action=binding.action: self.run_action(action))  # fmt: skip

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
            snapshot, fallback = poll_once(self._sources, self.config.window)
            load = self.load
            message = SnapshotReady(snapshot, fallback, load.snapshot() if load else None, id(load))
        except Exception as exc:  # anything at all: the loop must go on, and say why it missed a beat
            self.post_message(PollFailed(f"{type(exc).__name__}: {exc}"))
            return
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
            self.notify(f"{type(error).__name__}: {error}", title=f"{event.worker.name or event.worker.group} failed",
                        severity="error", timeout=10)  # fmt: skip

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        try:
            self._take_snapshot(message)
        finally:
            self.set_timer(self.config.interval, self._poll)  # re-armed only now, and always: polls never overlap or stop

    def _take_snapshot(self, message: SnapshotReady) -> None:
        self.polls += 1
        s = message.snapshot
        self.snapshot, self._fallback = s, message.fallback
        # A load started or stopped since the poll began is shown fresh by _current_load instead.
        self._load_snapshot = message.load if message.load_run == id(self.load) else None
        if s.ok:
            self._last_ok = self._clock()
            change = self.versions.observe(s)
            if change:
                self.notify(f"{change.old} → {change.new}", title="the API serves a new model")
            self.timeline.add_snapshot(s, self._load_snapshot.achieved_rps if self._load_snapshot else None)
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
        if active == "traffic":
            self.query_one(TrafficView).show(s, self.timeline, slo_p95=self.config.slo_p95,
                                             slo_error_ratio=self.config.slo_error_ratio, charts=charts, versions=self.versions)  # fmt: skip
        elif active == "model":
            self.query_one(ModelView).show(s, self.timeline, charts=charts, versions=self.versions)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._show_views(force_charts=True)

    def _show_status(self) -> None:
        s = self.snapshot
        age = None if self._last_ok is None else self._clock() - self._last_ok
        load = "–"
        ls = self._current_load()
        if ls is not None:
            if ls.running:
                load = f"▶ {ls.model} {ls.target_rate:g}/s" if ls.model == "open" else f"▶ closed {ls.concurrency} workers"
            else:
                load = "■ stopped"
        self.query_one(StatusLine).show(s, age_s=age, fallback=self._fallback, load=load, paused=self.paused,
                                        change=self.versions.last)  # fmt: skip
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
        """Charts start with history when Prometheus has it: about one point per chart column."""
        from .core.prometheus import PrometheusError

        source = self._sources[0]
        step = max(self.config.interval, self.config.history / 120)
        try:
            history = source.history(self.config.history, step, self.config.window)
        except PrometheusError as exc:
            self.call_from_thread(self.notify, f"charts start empty: {exc.message}", title="no history from Prometheus",
                                  severity="warning", timeout=8)  # fmt: skip
            return
        self.call_from_thread(self._apply_backfill, history)

    def _apply_backfill(self, history) -> None:
        from .core.timeline import Point

        if self.timeline.points:
            return  # live points arrived first; keep them
        for i, t in enumerate(history.times_s):
            self.timeline.add(Point(t, history.rps[i], history.error_ratio[i], history.p50[i], history.p95[i], history.p99[i], None))

    # -- load --------------------------------------------------------------------------------
    def _current_load(self) -> LoadSnapshot | None:
        """The last polled load snapshot; a fresh one right after a load action changed things."""
        if self.load is None:
            return None
        if self._load_snapshot is None:
            self._load_snapshot = self.load.snapshot()
        return self._load_snapshot

    def _show_load(self) -> None:
        self.query_one(LoadPanel).show(self._current_load(), self._load_error, self.load.feedback() if self.load else None)

    def action_toggle_load(self) -> None:
        if self.load is not None and self.load.running:
            self._stop_load(self.load)
            return
        self._start_load()
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
            self._load_error = f"labels after: {s['feedback_delay']!r} is not a number of seconds (blank: send no labels)"
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
        self._change_load(RATE_STEP)

    def action_slower(self) -> None:
        self._change_load(1 / RATE_STEP)

    # -- drift --------------------------------------------------------------------------------
    def action_run_drift(self) -> None:
        if self._drift_started is not None:
            self.notify("a drift check is already running", severity="warning")
            return
        self.query_one(TabbedContent).active = "drift"
        view = self.query_one(DriftView)
        reference, current, threshold = view.choice()
        try:
            request = DriftRequest(reference, current, threshold=threshold if threshold is not None else -1,
                                   reports_dir=self.config.reports_dir, api_url=self.config.api_url)  # fmt: skip
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
        if self._retrain_started is not None:
            self.notify("retraining is already running", severity="warning")
            return
        result = self.drift_result
        if result is None:
            self.notify("run a drift check first (d): r retrains on its current data", severity="warning")
            return
        self.query_one(TabbedContent).active = "drift"
        job = RetrainJob(result.current, api_url=self.config.api_url if result.current == "live" else None,
                         min_gain=self.config.min_gain, registry=self.config.registry,
                         registry_location=self.config.registry_location)  # fmt: skip
        self._retrain_started, self._retrain_data = self._clock(), job.data
        self.query_one(DriftView).retrain_running(job.data, 0.0)
        self._retrain_worker(job)

    @work(thread=True, exclusive=True, group="retrain", exit_on_error=False)
    def _retrain_worker(self, job: RetrainJob) -> None:
        try:
            self.post_message(RetrainDone(self._drift_engine.submit_retrain(job).result()))
        except Exception as exc:  # RetrainError says what is wrong; anything else (a dead worker) with its type
            self.post_message(RetrainFailed(str(exc) if isinstance(exc, RetrainError) else f"{type(exc).__name__}: {exc}"))

    def on_retrain_done(self, message: RetrainDone) -> None:
        self._retrain_started = None
        self.retrain_decision = message.decision
        self.query_one(DriftView).retrain_done(message.decision)
        d = message.decision
        self.notify(d["reason"], title=f"retrain: {d['decision']}", severity="information" if d["decision"] == "PROMOTED" else "warning")

    def on_retrain_failed(self, message: RetrainFailed) -> None:
        self._retrain_started = None
        self.query_one(DriftView).retrain_failed(message.error)
        self.notify(message.error, title="retraining failed", severity="error", timeout=10)

    # -- scheduled live drift -------------------------------------------------------------------
    def action_toggle_scheduled_drift(self) -> None:
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
            request = DriftRequest(reference, "live", threshold=threshold or 0.3, reports_dir=None, api_url=self.config.api_url)
        except DriftError as exc:
            self.notify(str(exc), title="scheduled drift", severity="error")
            return
        self._drift_started = self._clock()
        self._scheduled_run = True
        self._drift_worker(request)

    def on_drift_done(self, message: DriftDone) -> None:
        self._drift_started = None
        self.drift_result = message.result
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
        webbrowser.open(Path(path).resolve().as_uri())
        self.notify(f"opened {path}")

    # -- the rest -------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-toggle":
            self.action_toggle_load()
        elif event.button.id == "drift-run":
            self.action_run_drift()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._show_status()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        self.push_screen(HelpScreen([(b.key_display or b.key, b.description) for b in self.BINDINGS]))

    def action_export(self) -> Path:
        folder = Path(self.config.export_dir) / datetime.now().strftime("streamflow-%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "series.csv").write_text(self.timeline.to_csv())
        document = {"series": self.timeline.to_json(), "last_snapshot": to_json(self.snapshot) if self.snapshot else None,
                    "drift": self.drift_result.to_json() if self.drift_result else None}  # fmt: skip
        (folder / "series.json").write_text(json.dumps(document, indent=1))
        self.save_screenshot("screenshot.svg", str(folder))
        self.notify(f"exported series and screenshot to {folder}")
        return folder

    async def action_quit(self) -> None:
        if self.load is not None:
            self.load.stop()
        if self._drift_engine is not None:
            self._drift_engine.close()
        for source in self._sources or ():
            if source is not None:
                source.close()
        self.exit()


def build_sources(config: ConsoleConfig) -> tuple:
    from .core.scrape import ScrapeSource

    scrape = None
    if config.api_url:
        scrape = ScrapeSource(config.api_url, config.names, history_points=config.history_points, timeout=config.timeout,
                              preset=config.preset, options=config.api_options, exclude=config.exclude,
                              performance_window=config.performance_window)  # fmt: skip
    if config.prometheus_url:
        from .core.prometheus import PrometheusSource

        return PrometheusSource(config.prometheus_url, config.names, api_url=config.api_url, timeout=config.timeout,
                                preset=config.preset, options=config.prometheus_options, exclude=config.exclude,
                                job=config.job, performance_window=config.performance_window), scrape  # fmt: skip
    return scrape, None


def poll_once(sources: tuple, window: float) -> tuple[Snapshot, str | None]:
    """One poll of the primary source; a Prometheus that cannot be read falls back to scraping the API.

    In Prometheus mode the API itself is scraped only while falling back: the console's own scrapes
    would otherwise be traffic on the API it watches."""
    primary, fallback = sources
    if primary.kind == "scrape":
        primary.poll()
        return primary.snapshot(window), None
    snapshot = primary.snapshot(window)
    if not snapshot.ok and fallback is not None:
        fallback.poll()
        return fallback_snapshot(fallback, window, snapshot.prometheus), f"Prometheus unavailable ({snapshot.prometheus.error})"
    return snapshot, None


def fallback_snapshot(source, window: float, prometheus) -> Snapshot:
    """The scrape source's snapshot, saying what happened to Prometheus."""
    from dataclasses import replace

    return replace(source.snapshot(window), prometheus=prometheus)


def create_app(config: ConsoleConfig, *, drift_engine: DriftEngine | None = None, **kwargs) -> StreamFlowApp:
    """The app factory used by the CLI and the tests.

    The drift engine's worker process is spawned here, before Textual takes
    over stdout/stderr (multiprocessing cannot start its helpers after), and it
    warms Evidently in the background while the console starts.
    """
    return StreamFlowApp(config, drift_engine=drift_engine or DriftEngine(), **kwargs)
