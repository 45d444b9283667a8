"""The drift view: pick two datasets, run Evidently in the worker, read the per-feature table."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.validation import Number
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from streamflow_data import MONTHS

from ..controllers.drift import DriftChoice
from ..controllers.fleet import FLEET
from ..core.drift_alarms import AlarmEvent, DetectorView
from ..core.drift_history import DriftHistory
from ..core.drift_types import DEFAULT_THRESHOLD, RETRAIN, ColumnDrift, DriftResult
from ..core.format import num, pct
from ..core.retraining import RetrainDecision
from .bars import shares_text
from .quiet import set_if_changed

NARROW = 120
# The table keeps its header, 5 rows and a scrollbar's row below the blocks above it, at any height.
TABLE_ROWS_KEPT = 7
ABOVE_DETAILS_ROWS = 4  # the controls (with their margin) and the status line
MIN_DETAILS_ROWS = 4  # the verdict's lines, at least
CHOICES = [(m, m) for m in MONTHS] + [("live (what the API scored)", "live")]
FLEET_CHOICE = ("live, fleet (Prometheus)", FLEET)  # with --prometheus-url: every replica, from the backend


class DriftView(Widget):
    DEFAULT_CSS = """
    DriftView { height: 1fr; layout: vertical; }
    DriftView #drift-controls { height: 1; margin: 1 1 0 1; }
    DriftView #drift-controls Label { padding: 0 1; }
    DriftView #drift-controls Select { width: 18; }
    DriftView #drift-controls Input { width: 7; }
    DriftView #drift-controls Button { margin-left: 2; }
    /* Fixed heights: their text changes while a check runs, without a layout pass. */
    DriftView #drift-status { height: 2; padding: 1 1 0 1; text-overflow: ellipsis; text-wrap: nowrap; }
    /* The verdict, the retrain decision, the heatmap and the alarms: as tall as they are, up to what leaves the
       table its rows (on_resize), then scrolled by keyboard (tab to it, PageDown/End). */
    DriftView #drift-details { height: auto; scrollbar-size-vertical: 1; }
    DriftView #drift-heatmap { height: auto; max-height: 18; padding: 0 1; }
    DriftView #drift-summary { height: 4; padding: 1 1 0 1; }
    DriftView #retrain-result { height: auto; max-height: 9; padding: 0 1; }
    DriftView #drift-alarms { height: auto; max-height: 10; padding: 0 1; display: none; }
    DriftView #drift-body { height: 1fr; }  /* min-height: TABLE_ROWS_KEPT, set on mount */
    DriftView #drift-table { width: 1fr; }
    DriftView #drift-distribution {
        width: 1fr; max-width: 64; padding: 0 1; border-left: vkey $primary 30%;
        height: 1fr; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DriftView.narrow #drift-distribution { display: none; }
    /* A failed drift check leaves the previous result readable, and visibly not current. */
    DriftView.stale #drift-summary, DriftView.stale #drift-body { opacity: 50%; }
    """

    def compose(self) -> ComposeResult:
        # Compact controls, one line: at 80 columns the threshold and the button still fit.
        with Horizontal(id="drift-controls"):
            yield Select(
                CHOICES, value=MONTHS[0], allow_blank=False, type_to_search=False, compact=True, id="drift-reference"
            )
            yield Label("vs")
            yield Select(
                CHOICES, value="month_003", allow_blank=False, type_to_search=False, compact=True, id="drift-current"
            )
            yield Label("threshold")
            yield Input(
                f"{DEFAULT_THRESHOLD:.2f}",
                placeholder=f"{DEFAULT_THRESHOLD:g}",
                id="drift-threshold",
                type="number",
                compact=True,
                validators=[Number(minimum=0.0, maximum=1.0)],  # a share of the columns; shown red when not
                valid_empty=True,  # blank: the default
            )
            yield Button("Run drift (d)", id="drift-run", variant="primary", compact=True)
        yield Static("press d to compare the datasets (Evidently runs in a background process)", id="drift-status")
        with DriftDetails(id="drift-details"):
            yield Static(id="drift-summary")
            yield Static(id="retrain-result")
            yield Static(id="drift-heatmap")
            yield Static(id="drift-alarms")
        with Horizontal(id="drift-body"):
            yield DataTable(id="drift-table", zebra_stripes=True, cursor_type="row")
            yield DistributionBox(id="drift-distribution")

    _columns: tuple[ColumnDrift, ...] = ()

    def on_resize(self) -> None:
        # Below 120 columns the table needs the whole width (score and verdict would be cut): the
        # side-by-side distributions are left out there.
        self.set_class(self.size.width < NARROW, "narrow")
        # The details take at most half of what the controls and the status leave, and never the table's kept
        # rows: the rest of them scrolls.
        details = self.query_one(DriftDetails)
        below_status = self.size.height - ABOVE_DETAILS_ROWS
        details.styles.max_height = max(MIN_DETAILS_ROWS, min(below_status - TABLE_ROWS_KEPT, below_status // 2))

    def on_mount(self) -> None:
        self.query_one("#drift-body").styles.min_height = TABLE_ROWS_KEPT
        self.query_one("#drift-table", DataTable).add_columns("column", "type", "test", "score", "threshold", "drifted")

    class RunRequested(Message):
        """The Run button: a check of the view's choice (the App starts it, as d does)."""

        def __init__(self, choice: DriftChoice) -> None:
            super().__init__()
            self.choice = choice

    @on(Button.Pressed, "#drift-run")
    def _run(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.RunRequested(self.choice()))

    def choice(self) -> DriftChoice:
        """The two datasets and the threshold: a number, or the text typed when it is not one (blank: the default)."""
        typed = self.query_one("#drift-threshold", Input).value.strip()
        try:
            threshold: float | str = float(typed) if typed else DEFAULT_THRESHOLD
        except ValueError:
            threshold = typed
        return DriftChoice(
            str(self.query_one("#drift-reference", Select).value),
            str(self.query_one("#drift-current", Select).value),
            threshold,
        )

    def _status(self, text: Text) -> None:
        # One line in a fixed-height row: the "… 1.2 s" of a running check must not cost a layout pass.
        set_if_changed(self.query_one("#drift-status", Static), text)

    def _ticking(self, draw: Callable[[], None] | None) -> None:
        """Redraw ``draw`` (an elapsed time) twice a second until it is replaced or stopped (None)."""
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if draw is not None:
            draw()
            self._ticker = self.set_interval(0.5, draw)

    _ticker: Timer | None = None
    _retrain_ticker: Timer | None = None

    def running(self, reference: str, current: str, started: float, clock: Callable[[], float]) -> None:
        self._ticking(
            lambda: self._status(
                Text(f"⏳ comparing {reference} → {current} … {clock() - started:.1f} s", style="bold yellow")
            )
        )

    def failed(self, error: str) -> None:
        """The previous result, if any, stays for context, dimmed and labelled: it is not this check's."""
        self._ticking(None)
        previous = "the table below is the previous check's — " if self._columns else ""
        self._status(Text(f"✖ drift check failed: {previous}{error}", style="bold red"))
        self.set_class(bool(self._columns), "stale")

    def html(self, path: str | None, error: str | None) -> None:
        if error:
            self._status(Text(f"table ready; HTML report failed: {error}", style="yellow"))
        elif path:
            self._status(Text(f"✔ done — HTML report {path} (o opens it)", style="green"))

    def retrain_running(self, data: str, started: float, clock: Callable[[], float]) -> None:
        def draw() -> None:
            set_if_changed(
                self.query_one("#retrain-result", Static),
                Text(
                    f"⏳ retraining on {data}: training a challenger, comparing it with the champion"
                    f" … {clock() - started:.1f} s",
                    style="bold yellow",
                ),
                layout=True,
            )

        self._retrain_ticking(draw)

    def _retrain_ticking(self, draw: Callable[[], None] | None) -> None:
        if self._retrain_ticker is not None:
            self._retrain_ticker.stop()
            self._retrain_ticker = None
        if draw is not None:
            draw()
            self._retrain_ticker = self.set_interval(0.5, draw)

    def retrain_failed(self, error: str) -> None:
        self._retrain_ticking(None)
        set_if_changed(
            self.query_one("#retrain-result", Static),
            Text(f"✖ retraining failed: {error}", style="bold red"),
            layout=True,
        )

    def retrain_done(self, d: RetrainDecision) -> None:
        self._retrain_ticking(None)
        set_if_changed(self.query_one("#retrain-result", Static), retrain_text(d), layout=True)

    def show_history(self, history: DriftHistory) -> None:
        """The scheduled runs as a features × time heatmap."""
        self.query_one("#drift-heatmap", Static).update(heatmap_text(history, self.size.width - 4))

    def enable_fleet(self) -> None:
        """With a metrics backend: "live, fleet" joins the current choices, and is chosen."""
        current = self.query_one("#drift-current", Select)
        current.set_options(CHOICES + [FLEET_CHOICE])
        current.value = FLEET

    def fleet_status(self, text: str, *, error: bool = False) -> None:
        self._ticking(None)
        self._status(Text(text, style="bold red" if error else "green"))

    def show_alarms(self, detectors: tuple[DetectorView, ...], alarms: list[AlarmEvent], window_s: float) -> None:
        """Each detector's state and time to alarm; the alarms raised."""
        box = self.query_one("#drift-alarms", Static)
        box.display = bool(detectors or alarms)
        set_if_changed(box, alarms_text(detectors, alarms, window_s, self.size.width - 2), layout=True)

    def show(self, r: DriftResult) -> None:
        self._ticking(None)
        self.remove_class("stale")
        badge_style = "bold white on red" if r.decision == RETRAIN else "bold black on green"
        t = Text()
        t.append(f" {r.decision} ", style=badge_style)
        t.append(f"  {r.reference} → {r.current}   drift share ")
        t.append(f"{r.drift_share:.2f}", style="bold")
        t.append(f" ({r.drifted_columns}/{r.total_columns} columns, threshold {r.threshold:.2f})")
        if r.target_drift is not None:
            t.append(
                f"\ntarget drift {r.target_drift:.3f}  (churn {pct(r.churn_rate_reference)} → {pct(r.churn_rate_current)}"
                f", label drift {'yes' if r.label_drift else 'no'})"
            )
        else:
            t.append("\ntarget drift –  (no churn_label in the current data)", style="dim")
        t.append(f"\nreports {r.report_json or '–'}", style="dim")
        set_if_changed(self.query_one("#drift-summary", Static), t)
        follow = "writing the HTML report…" if r.token else "no report files (scheduled check)"
        self._status(Text(f"✔ table ready in {r.seconds:.2f} s; {follow}", style="green"))
        table = self.query_one("#drift-table", DataTable)
        selected = self._columns[table.cursor_row].column if 0 <= table.cursor_row < len(self._columns) else None
        self._columns = r.columns
        table.clear()
        for c in r.columns:
            style = "bold red" if c.drifted else ""
            table.add_row(
                Text(c.column, style=style),
                c.type,
                c.stattest,
                num(c.score, "{:.4g}"),
                f"{c.threshold:g}",
                Text("DRIFT", style="bold red") if c.drifted else Text("no", style="dim"),
            )
        # The same feature stays selected across runs (scheduled checks redraw the table every minute).
        names = [c.column for c in r.columns]
        table.move_cursor(row=names.index(selected) if selected in names else 0)
        self._show_distribution(table.cursor_row)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_distribution(event.cursor_row)

    def _show_distribution(self, row: int) -> None:
        self.query_one(DistributionBox).column = self._columns[row] if 0 <= row < len(self._columns) else None


class DriftDetails(VerticalScroll):
    """The blocks above the table, scrolled when they do not fit: a stop for tab only when there is more."""

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0


class DistributionBox(Static):
    """The selected feature's distributions, drawn at the box's own width whenever it is laid out: a result that
    arrives while the view is hidden (a timed check) is redrawn at the real width when the view is shown."""

    column: reactive[ColumnDrift | None] = reactive(None, init=False)

    def watch_column(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.column is None:
            set_if_changed(self, Text("select a feature to see its reference and current distributions", style="dim"))
        elif self.content_size.width:  # hidden: drawn when laid out (on_resize)
            set_if_changed(self, distribution_text(self.column, self.content_size.width))


def distribution_text(c: ColumnDrift, width: int) -> Text:
    """The selected feature: reference and current shares side by side, on bins shared by both."""
    d = c.distribution
    if d is None or not d.labels:
        return Text(f"{c.column}: no distribution for this column", style="dim")
    label_width = max(len(label) for label in d.labels)
    bar = max(3, (width - label_width - 1 - 2 * 8) // 2)
    verdict = "DRIFT" if c.drifted else "no drift"
    text = shares_text(
        f"{c.column}: reference vs current ({verdict}, {c.stattest} {num(c.score, '{:.3g}')})",
        list(zip(d.labels, d.reference, d.current)),
        ("reference", "current"),
        width=bar,
    )
    if d.missing_reference or d.missing_current:
        text.append(
            f"missing: reference {pct(d.missing_reference)}, current {pct(d.missing_current)}\n", style="yellow"
        )
    text.append(d.note, style="dim")
    return text


RETRAIN_METRICS = (
    ("log_loss", "log loss", "{:.4f}"),
    ("roc_auc", "ROC AUC", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("calibration_error", "calib. error", "{:.4f}"),
    ("mean_predicted", "predicted churn", "{:.1%}"),
)


def retrain_text(d: RetrainDecision) -> Text:
    """The decision, its reason, and champion vs challenger side by side on the same held-out rows."""
    t = Text()
    t.append(f" {d.decision} ", style="bold black on green" if d.promoted else "bold black on yellow")
    t.append(f"  {d.reason}\n")
    champion, challenger = d.champion, d.challenger
    w = max(12, len(champion.version) + 2, len(challenger.version) + 2)
    t.append(
        f"{'on ' + format(d.data.holdout_rows, ',') + ' held-out rows':<22}{'champion':>{w}}{'challenger':>{w}}\n",
        style="dim",
    )
    t.append(f"{'version':<22}{champion.version:>{w}}{challenger.version:>{w}}\n")
    for key, name, fmt in RETRAIN_METRICS:
        old, new = getattr(champion.metrics, key), getattr(challenger.metrics, key)
        t.append(f"{name:<22}{num(old, fmt):>{w}}{num(new, fmt):>{w}}\n")
    t.append(f"{'observed churn':<22}{pct(champion.metrics.observed_rate):>{2 * w}}   serving {d.serving}", style="dim")
    return t


LEVELS = " ░▒▓█"


def heatmap_text(history, width: int) -> Text:
    """Features × time (oldest left): shade = how far past its threshold, red ■ = drifted; the share below."""
    t = Text()
    if not history.runs:
        return t
    label_width = 30
    names, rows = history.matrix(max(1, width - label_width - 2))
    runs = list(history.runs)[-len(rows[0]) :] if rows else []
    t.append(
        f"scheduled live drift, {len(history.runs)} runs (last {runs[-1].reference} → {runs[-1].current}); shade = score vs its threshold,"
        " ■ drifted\n",
        style="bold",
    )
    for name, cells in zip(names, rows):
        t.append(
            f"{name[:label_width]:<{label_width}}  ",
            style="bold red" if cells and cells[-1] and cells[-1].drifted else "",
        )
        for cell in cells:
            if cell is None or cell.strength is None:
                t.append("·", style="dim")
            elif cell.drifted:
                t.append("■", style="bold red")
            else:
                t.append(LEVELS[min(len(LEVELS) - 1, int(cell.strength * (len(LEVELS) - 1)))], style="yellow")
        t.append("\n")
    t.append(f"{'drift share':<{label_width}}  ", style="bold")
    for run in runs:
        t.append(
            "▁▂▃▄▅▆▇█"[min(7, int(run.share * 8))],
            style="bold red" if run.decision == RETRAIN else "green",
        )
    return t


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def alarms_text(detectors: tuple[DetectorView, ...], alarms: list[AlarmEvent], window_s: float, width: int) -> Text:
    """One cell per detector (alarm first, then the nearest to one): state, CUSUM against its limit, time to
    alarm at the last window's score; then the last alarms raised."""
    import time as _time

    t = Text()
    if detectors:
        alarmed = sum(d.state == "alarm" for d in detectors)
        t.append(
            f"drift alarms: {len(detectors)} detectors (CUSUM, {window_s:g} s windows, calibrated at"
            f" {detectors[0].rows:,} rows; % = CUSUM of its limit), {alarmed} in alarm\n",
            style="bold red" if alarmed else "bold",
        )

        def order(d: DetectorView) -> tuple:
            return (d.state != "alarm", d.windows_to_alarm is None, d.windows_to_alarm or 0, -d.cusum / d.limit)

        cell = 44
        per_line = max(1, width // cell)
        for i, d in enumerate(sorted(detectors, key=order)):
            if d.state == "alarm":
                state, style = "ALARM", "bold red"
            elif d.windows_to_alarm is not None:
                state, style = f"alarm in {_duration(d.windows_to_alarm * window_s)}", "yellow"
            else:
                state, style = "watching", "dim"
            text = f"{d.feature[:22]:<22} {state:<14} {min(d.cusum / d.limit, 9.99):>4.0%}"[: cell - 1]
            t.append(f"{text:<{cell}}", style=style)
            if (i + 1) % per_line == 0 and i + 1 < len(detectors):
                t.append("\n")
    if alarms:
        last = alarms[-3:]
        said = ", ".join(f"{a.feature} {_time.strftime('%H:%M:%S', _time.localtime(a.at))}" for a in reversed(last))
        t.append(f"{chr(10) if detectors else ''}⚠ {len(alarms)} alarm(s), last: {said}", style="bold red")
    return t
