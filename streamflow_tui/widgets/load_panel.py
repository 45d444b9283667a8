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

from streamflow_data import MONTHS
from streamflow_data.load import LoadSnapshot

from ..controllers.load import LoadSettings
from ..core.format import ms, num, pct
from ..core.results import RemoteLoad
from ..core.timeline import downsample
from .charts import CHART_POINTS, start, time_axis
from .quiet import set_if_changed


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
    LoadPanel #load-stats { height: 7; padding: 1 1 0 1; }
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
        with Horizontal(classes="load-controls"):
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
            yield PlotextPlot(id="load-rate-plot")
            yield PlotextPlot(id="load-latency-plot")

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
        try:
            typed = checked("#load-feedback", "labels after")
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
        )

    def draw_charts(self, points) -> None:
        """Target vs achieved rate (and what the server saw); client-side vs server-side p95: the gap is the
        queueing the server cannot see (a request's wait before it is read)."""
        plt = start(self.query_one("#load-rate-plot", PlotextPlot))
        drawn, top = False, 0.0
        for name, color, label in (
            ("load_target", "gray", "target"),
            ("load_rps", "cyan", "achieved (client)"),
            ("rps", "orange", "served (server)"),
        ):
            xs, ys = downsample(points, name, CHART_POINTS, reduce=statistics.fmean)
            if xs:
                plt.plot(xs, ys, color=color, marker="braille", label=label)
                drawn, top = drawn or name == "load_target", max(top, *ys)
        if top:
            plt.ylim(0, top * 1.15)  # from zero: a rate 5 % short must not look like half
        time_axis(plt, points, self.query_one("#load-rate-plot").size.width)
        plt.title("requests/s: target, achieved, served" if drawn else "requests/s (no load run in the history)")
        self.query_one("#load-rate-plot", PlotextPlot).refresh()

        plt = start(self.query_one("#load-latency-plot", PlotextPlot))
        for name, color, label in (
            ("client_p95", "magenta", "client p95 (corrected)"),
            ("p95", "orange", "server p95"),
        ):
            xs, ys = downsample(points, name, CHART_POINTS)
            if xs:
                plt.plot(xs, [y * 1000 for y in ys], color=color, marker="braille", label=label)
        time_axis(plt, points, self.query_one("#load-latency-plot").size.width)
        plt.title("p95 ms: client vs server (the gap is queueing)")
        self.query_one("#load-latency-plot", PlotextPlot).refresh()

    def show_target(self, rate: float | None, concurrency: int | None) -> None:
        if rate is not None:
            self.query_one("#load-rate", Input).value = f"{rate:g}"
        if concurrency is not None:
            self.query_one("#load-concurrency", Input).value = str(concurrency)

    def show(
        self,
        s: LoadSnapshot | None,
        error: str | None = None,
        feedback: dict | None = None,
        remote: RemoteLoad | None = None,
        server_p95: float | None = None,
    ) -> None:
        """The console's own load; when it drives none, the load generators Prometheus scrapes (``remote``)."""
        button = self.query_one("#load-toggle", Button)
        running = bool(s and s.running)
        button.label = "Stop load (l)" if running else "Start load (l)"
        button.variant = "error" if running else "success"
        text = Text()
        if error:
            text.append(error + "\n", style="bold red")
        if remote is not None and not running:
            remote_text(text, remote, server_p95)
        elif s is None:
            text.append(
                "not running — l starts it, + and - change the rate while it runs; the charts below show "
                "target vs achieved rate and client vs server latency",
                style="dim",
            )
        else:
            target = f"{s.target_rate:g} req/s" if s.model == "open" else f"{s.concurrency} workers"
            text.append(f"{'running' if running else 'stopped'}  {s.model} model, {target}  ", style="bold")
            text.append(f"elapsed {s.elapsed_s:.0f} s\n")
            text.append(
                f"achieved {num(s.achieved_rps)} req/s   sent {s.sent:,}  ok {s.ok:,}  errors {s.errors:,}  cancelled {s.cancelled:,}\n"
            )
            text.append("corrected latency  ")
            for key in ("p50", "p95", "p99"):
                text.append(f"{key} {ms(s.corrected[key])}   ")
            if s.error_kinds:
                text.append(
                    "\nerrors: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.error_kinds.items())), style="red"
                )
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
        set_if_changed(self.query_one("#load-stats", Static), text)


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
