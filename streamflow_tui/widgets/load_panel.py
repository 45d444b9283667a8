"""The load panel: drive the built-in load generator and watch its client-side numbers."""

from __future__ import annotations

import statistics

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.validation import Integer, Number
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static
from textual_plotext import PlotextPlot

from loadgen.prompts import DEFAULT_API, ENDPOINTS
from streamflow_data import MONTHS
from streamflow_data.load import LoadSnapshot

from ..controllers.load import LoadSettings, StreamTarget
from ..core.format import ms, num, pct
from ..core.llm_types import LlmStats
from ..core.results import RemoteLoad
from .charts import Key, TimeChart, caption, client_vs_server, plot_lines, redrawn_on_resize, start, time_axis, y_axis
from .quiet import set_if_changed
from .stream_load import draw_ttft, idle_text, served_line, stream_note, stream_problem, stream_table


class LoadPanel(Widget):
    DEFAULT_CSS = """
    LoadPanel { height: 1fr; layout: vertical; }
    LoadPanel .load-controls { height: 1; margin: 1 1 0 1; }
    LoadPanel .load-controls Label { padding: 0 1; }
    LoadPanel .load-controls Select { width: 18; }
    LoadPanel .load-controls Input { width: 7; }
    LoadPanel .load-controls Button { margin-left: 2; }
    LoadPanel #load-mode { width: 19; }
    LoadPanel #load-payload { width: 12; }
    LoadPanel #load-charts { height: 1fr; }
    LoadPanel #load-rate-plot, LoadPanel #load-latency-plot { width: 1fr; border: round $primary 40%; }
    /* As tall as its lines (2 when idle, up to 7 running): the charts keep the rest, even under a DOWN banner. */
    LoadPanel #load-stats { height: auto; max-height: 8; padding: 1 1 0 1; }
    /* An LLM engine (class llm): the stream's endpoint instead of /predict's month, payload and labels; the
       client-vs-server table's lines; the TTFT chart (the latency one gives way below 120 columns, streamflow.tcss). */
    LoadPanel #load-stream-row, LoadPanel #load-ttft-plot { display: none; }
    LoadPanel.llm #load-stream-row, LoadPanel.llm #load-ttft-plot { display: block; }
    LoadPanel.llm #load-predict-row { display: none; }
    LoadPanel #load-api { width: 24; }
    LoadPanel.llm #load-stats { max-height: 9; padding: 0 1; }
    LoadPanel.llm #load-stream-row { margin-top: 0; }
    LoadPanel #load-ttft-plot { width: 1fr; border: round $primary 40%; }
    """

    def compose(self) -> ComposeResult:
        # Compact controls on two lines: everything fits at 80 columns.
        with Horizontal(classes="load-controls"):
            yield Label("model")
            yield Select(
                [("open (rate)", "open"), ("closed (workers)", "closed")],
                value="open",
                allow_blank=False,
                type_to_search=False,
                compact=True,
                id="load-mode",
            )
            yield Label("rate/s")
            yield Input(
                "200", id="load-rate", type="number", compact=True, validators=[Number(minimum=0.1, maximum=1e6)]
            )
            yield Label("workers")
            yield Input(
                "8",
                id="load-concurrency",
                type="integer",
                compact=True,
                validators=[Integer(minimum=1, maximum=10_000)],
            )
            yield Button("Start load (l)", id="load-toggle", variant="success", compact=True)
        with Horizontal(classes="load-controls", id="load-stream-row"):
            yield Label("endpoint")
            yield Select(
                [(path, api) for api, path in ENDPOINTS.items()],
                value=DEFAULT_API,
                allow_blank=False,
                type_to_search=False,
                compact=True,
                id="load-api",
            )
            yield Label(id="load-llm-note")
        with Horizontal(classes="load-controls", id="load-predict-row"):
            yield Label("month")
            yield Select(
                [(m, m) for m in MONTHS],
                value=MONTHS[-1],
                allow_blank=False,
                type_to_search=False,
                compact=True,
                id="load-month",
            )
            yield Label("payload")
            yield Select(
                [("user_id", "user_id"), ("features", "features")],
                value="user_id",
                allow_blank=False,
                type_to_search=False,
                compact=True,
                id="load-payload",
            )
            yield Label("labels after s")
            yield Input(
                "",
                placeholder="off",
                id="load-feedback",
                type="number",
                compact=True,
                validators=[Number(minimum=0)],
                valid_empty=True,  # blank: no labels
            )
        yield Static(id="load-stats")
        with Horizontal(id="load-charts"):
            yield TimeChart(id="load-rate-plot")
            yield TimeChart(id="load-latency-plot")
            yield TimeChart(id="load-ttft-plot")

    class ToggleRequested(Message):
        """The Start/Stop button: the App starts or stops the load, as l does."""

    @on(Button.Pressed, "#load-toggle")
    def _toggle(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.ToggleRequested())

    def settings(self) -> LoadSettings:
        """The controls as a typed load; ValueError saying which field is wrong."""

        def checked(selector: str, what: str) -> str:
            """The field's text, once its validators pass; ValueError naming the field and why, otherwise."""
            field = self.query_one(selector, Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                raise ValueError(f"{what}: {field.value!r} {'; '.join(result.failure_descriptions)}")
            return field.value.strip()

        open_model = self.query_one("#load-mode", Select).value == "open"
        # Delayed ground truth (blank: none): the true churn_label of each answered row, sent to /feedback.
        # Not against an LLM engine: the field is hidden, and what it holds must not stop a stream load.
        try:
            typed = "" if self.has_class("llm") else checked("#load-feedback", "labels after")
        except ValueError:
            typed = self.query_one("#load-feedback", Input).value
            raise ValueError(f"labels after: {typed!r} is not a number of seconds (blank: send no labels)") from None
        return LoadSettings(
            open_model=open_model,
            rate=float(checked("#load-rate", "rate/s")) if open_model else 0.0,
            concurrency=int(checked("#load-concurrency", "workers")) if not open_model else 0,
            month=str(self.query_one("#load-month", Select).value),
            payload=str(self.query_one("#load-payload", Select).value),
            feedback_delay=float(typed) if typed else None,
            api=str(self.query_one("#load-api", Select).value),
        )

    def draw_charts(self, points) -> None:
        """Target vs achieved rate (and what the server saw); client-side vs server-side p95: the gap is the
        queueing the server cannot see (a request's wait before it is read)."""
        plot = self.query_one("#load-rate-plot", PlotextPlot)
        redrawn_on_resize(plot, lambda: self.draw_charts(points))
        plt = start(plot)
        rates = (("load_target", "gray", "target"), ("load_rps", "cyan", "achieved"), ("rps", "orange", "served"))
        keys, values = plot_lines(plt, points, rates, reduce=statistics.fmean)
        if values:
            y_axis(plt, plot, 0.0, max(values), from_zero=True)  # a rate 5 % short must not look like half
        time_axis(plt, points, plot.size.width)
        if not any(k.label == "target" for k in keys):
            keys.append(Key("no load run", mark=""))
        caption(plot, "requests/s", points, keys)
        plot.refresh()

        plot = self.query_one("#load-latency-plot", PlotextPlot)
        redrawn_on_resize(plot, lambda: self.draw_charts(points))
        plt = start(plot)
        keys, values = plot_lines(plt, points, client_vs_server("client_p95", "p95"), scale=1000)
        if values:
            y_axis(plt, plot, min(values), max(values))
        time_axis(plt, points, plot.size.width)
        caption(plot, "p95 ms", points, keys)
        plot.refresh()

    def show_target(self, rate: float | None, concurrency: int | None) -> None:
        if rate is not None:
            self.query_one("#load-rate", Input).value = f"{rate:g}"
        if concurrency is not None:
            self.query_one("#load-concurrency", Input).value = str(concurrency)

    def draw_ttft_chart(self, points) -> None:
        """An LLM engine's: client TTFT p95 vs the engine's (stream_load.draw_ttft); nothing to draw otherwise."""
        if self.has_class("llm"):
            draw_ttft(self.query_one("#load-ttft-plot", PlotextPlot), points)

    def show(
        self,
        s: LoadSnapshot | None,
        error: str | None = None,
        feedback: dict | None = None,
        remote: RemoteLoad | None = None,
        server_p95: float | None = None,
        llm: LlmStats | None = None,
        stream_to: StreamTarget | None = None,
    ) -> None:
        """The console's own load; when it drives none, the load generators Prometheus scrapes (``remote``).
        ``llm``: the target's LLM engine (l then streams completions: ``stream_to`` says where the last one went)."""
        self.set_class(llm is not None, "llm")
        if llm is not None:
            set_if_changed(self.query_one("#load-llm-note", Label), stream_note(llm))
        button = self.query_one("#load-toggle", Button)
        running = bool(s and s.running)
        button.label = "Stop load (l)" if running else "Start load (l)"
        button.variant = "error" if running else "success"
        text = Text()
        if error:
            text.append(error + "\n", style="bold red")
        if remote is not None and not running:
            remote_text(text, remote, server_p95)
        elif s is None and llm is not None:
            idle_text(text, llm, str(self.query_one("#load-api", Select).value))
        elif s is None:
            text.append(
                "not running — l starts it, + and - change the rate while it runs; the charts below show "
                "target vs achieved rate and client vs server latency",
                style="dim",
            )
        else:
            target = f"{s.target_rate:g} req/s" if s.model == "open" else f"{s.concurrency} workers"
            text.append(f"{'running' if running else 'stopped'}  {s.model} model, {target}  ", style="bold")
            text.append(f"elapsed {s.elapsed_s:.0f} s" + (served_line(s) if s.stream is not None else "") + "\n")
            text.append(
                f"achieved {num(s.achieved_rps)} req/s   sent {s.sent:,}  ok {s.ok:,}  errors {s.errors:,}  cancelled {s.cancelled:,}\n"
            )
            if s.stream is not None:
                stream_table(text, s, llm)
            else:
                text.append("corrected latency  ")
                for key in ("p50", "p95", "p99"):
                    text.append(f"{key} {ms(s.corrected[key])}   ")
            if s.error_kinds:
                text.append(
                    "\nerrors: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.error_kinds.items())), style="red"
                )
            problem = stream_problem(s, stream_to) if s.stream is not None else None
            if problem:
                text.append(f"\n{problem}", style="bold red")
            if feedback:
                text.append(
                    f"\nlabels {feedback['delay_s']:g} s after each answer: {feedback['sent']:,} taken by /feedback"
                    f", {feedback['unknown']:,} unknown, {feedback['failed']:,} not delivered"
                )
                if feedback["error"]:
                    text.append(f"\nfeedback failed: {feedback['error']}", style="bold red")
            if s.fell_behind:
                text.append(
                    f"\nthe target fell behind: {s.late:,} late, {s.not_sent:,} never sent", style="bold yellow"
                )
        set_if_changed(self.query_one("#load-stats", Static), text, layout=True)


def remote_text(text: Text, r: RemoteLoad, server_p95: float | None) -> None:
    """The remote load's line: its segments, target, achieved, errors, and client p95 beside the server's."""
    hosts = f" ({_some(r.hosts)})" if r.hosts else ""
    if r.complete:
        text.append(f"remote load: {r.segments} segment{'s' if r.segments != 1 else ''}{hosts}", style="bold")
    else:
        # Some segments are not scraped: the sums below are theirs only, said so and never passed off as the run's.
        text.append(f"remote load: {r.segments_up}/{r.segments} segments up{hosts}", style="bold yellow")
    partial = "" if r.complete else " (segments up only)"
    text.append(
        f" · target {num(r.target_rps, '{:,.4g}')} req/s · achieved {num(r.achieved_rps)} req/s{partial}"
        f" · errors {pct(r.error_ratio)}\n"
    )
    text.append(f"client p95 {ms(r.p95)} vs server p95 {ms(server_p95)}", style="bold")
    text.append(f"   client p50 {ms(r.p50)}  p99 {ms(r.p99)} (corrected)\n")
    text.append(f"in flight {num(r.in_flight, '{:,.0f}')}   late sends {num(r.late_rps)}/s   ")
    text.append("(via Prometheus; l starts the console's own)", style="dim")
    if r.down:
        text.append(f"\nnot scraped: {_some(r.down)}", style="yellow")


def _some(names: tuple[str, ...], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (f" +{len(names) - shown} more" if len(names) > shown else "")
