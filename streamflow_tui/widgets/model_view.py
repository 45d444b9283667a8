"""The model view: what the model says, not just how fast it answers."""

from __future__ import annotations

import math
import statistics

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ..core.compute import churn_departs, reference_churn_rate
from ..core.format import num, pct
from ..core.state import ConsoleState
from ..core.timeline import downsample
from ..core.versions import reference_spans
from .bars import shares_text
from .charts import (
    CHART_POINTS,
    MODEL_CHANGE,
    Key,
    TimeChart,
    caption,
    mark_versions,
    redrawn_on_resize,
    start,
    time_axis,
    y_axis,
)
from .quiet import set_if_changed
from .view import View


def _shares(buckets) -> dict[float, float]:
    total = sum(b.count or 0.0 for b in buckets)
    return {b.le: (b.count or 0.0) / total for b in buckets if b.le <= 1} if total else {}


def _coarser(shares: dict[float, float]) -> dict[float, float]:
    merged: dict[float, float] = {}
    for le, share in shares.items():
        top = min(1.0, round(math.ceil(round(le * 10, 6)) / 10, 1))
        merged[top] = merged.get(top, 0.0) + share
    return merged


def score_distribution_text(current, reference, width: int = 56, previous=(), coarse: bool = False) -> Text:
    """The window's scores beside the reference (training) month's, as shares of each, in 0.05-wide bands;
    after a model change, the previous model's last window too."""
    sides = [("window", _shares(current)), ("reference", _shares(reference))]
    if coarse:  # 0.1-wide bands: half the rows, for the overview
        sides = [(name, _coarser(shares)) for name, shares in sides]
    if previous:
        sides.insert(1, ("old model", _shares(previous)))
    edges = sorted(set().union(*(s for _, s in sides)))
    used = [le for le in edges if any(s.get(le) for _, s in sides)]
    names = tuple(name for name, _ in sides)
    if not used:
        return shares_text("predicted churn probability", [], names)
    rows, low = [], 0.0
    for le in edges:
        if used[0] <= le <= used[-1]:
            rows.append((f"{low:.2f}–{le:.2f}", *(s.get(le) if s else None for _, s in sides)))
        low = le
    # Each side: its bar, then " 12.3% " (7 columns), after the band's label ("0.00–0.05") and a space.
    bar = (width - len("0.00–0.05") - 1) // len(sides) - 7
    if bar < MIN_BAR:  # narrow (three sides at 80 columns): short names, the shares with small bars, no wrapping
        names = tuple(SHORT_NAMES.get(name, name) for name in names)
    title = "scores: window vs " + (" vs ".join(names[1:]) if sides[-1][1] else "(no reference)")
    return shares_text(title, rows, names, width=max(1, bar))


MIN_BAR = 4
WIDE = 200  # a quality line's width when the caller does not say (no wrapping concern)
SHORT_NAMES = {"old model": "old", "reference": "ref."}


def quality_text(p, width: int = WIDE) -> Text:
    """Realised performance (labels), the estimate beside it, and the reliability table, since the API started:
    a line each at ``width`` columns. Where the whole quality line does not fit, precision and recall are left
    to wider screens; where the reliability line does not, its explanation (the bands wrap to the spare line)."""
    t = Text()
    if p is None:
        return t
    quality = _quality_line(p, compact=False)
    if quality.cell_len > width:
        quality = _quality_line(p, compact=True)
    t.append("\n")
    t.append_text(quality)
    bands = "  ".join(
        f"≤{r.high:.1f} {r.observed_rate * 100:.0f}%" for r in p.reliability if r.observed_rate is not None
    )
    if bands:
        why = "observed churn by score band  "
        t.append("\nreliability ", style="bold")
        if len("reliability ") + len(why) + len(bands) <= width:
            t.append(why, style="dim")
        t.append(bands)
    return t


def _quality_line(p, compact: bool) -> Text:
    t = Text()
    t.append("quality ", style="bold")
    if p.realized:
        t.append(f"AUC {num(p.realized.roc_auc, '{:.3f}')} ", style="bold green")
        if compact:
            t.append(f"realised ({num(p.labels, '{:,.0f}')} labels)")
        else:
            t.append(
                f"realised  precision {pct(p.realized.precision)}  recall {pct(p.realized.recall)}"
                f"  ({num(p.labels, '{:,.0f}')} labels, {pct(p.coverage)} of predictions, {p.window})"
            )
    elif p.realized_reason and p.realized_reason != "no labels yet":
        t.append(f"realised – ({p.realized_reason})", style="dim")
    else:
        t.append("no labels yet (POST /feedback)", style="dim")
    if p.estimated:
        t.append(f"   estimated AUC {num(p.estimated.roc_auc, '{:.3f}')} ", style="bold cyan")
        if not compact:
            t.append(f"precision {pct(p.estimated.precision)} (assumes calibrated scores)", style="dim")
    elif p.estimated_reason:
        t.append(f"   estimated – ({p.estimated_reason})", style="dim")
    return t


def draw_churn(plot: PlotextPlot, points, reference: float | None, versions=None) -> None:
    """The predicted churn rate from zero, each model version's reference month's rate as a line over the time
    that version served (``reference``: the serving one's): a 1-point wobble stays small, and a promoted
    model's reference is never drawn over the old model's predictions."""
    redrawn_on_resize(plot, lambda: draw_churn(plot, points, reference, versions))
    plt = start(plot)
    xs, ys = downsample(points, "churn_rate", CHART_POINTS, reduce=statistics.fmean)
    keys = []  # the one line with no key: the title names it
    if xs:
        plt.plot(xs, [y * 100 for y in ys], color="magenta", marker="braille")
    spans = (
        reference_spans(versions.changes if versions else (), points[0].t, points[-1].t, reference) if points else []
    )
    for span in spans:
        x = [span.start - points[-1].t, span.end - points[-1].t]
        plt.plot(x, [span.reference * 100] * 2, color="cyan", marker="─")
    if spans:
        keys.append(Key("reference", "cyan", "─"))  # each version's: the line steps where the model changed
    if points:
        top = max([y * 100 for y in ys] + [s.reference * 100 for s in spans], default=0.0)
        y_axis(plt, plot, 0.0, max(5.0, top), from_zero=True)
        if mark_versions(plt, points, versions):
            keys.append(MODEL_CHANGE)
        time_axis(plt, points, plot.size.width)
    caption(plot, "predicted churn %", points, keys)
    plot.refresh()


class ModelView(View):
    DEFAULT_CSS = """
    ModelView { height: 1fr; layout: vertical; }
    ModelView #model-summary {
        height: 5;  /* model, churn rate, quality (realised and estimated), reliability */
        padding: 0 1;
    }
    ModelView #model-body { height: 1fr; }
    ModelView #score-histogram {
        width: 1fr; height: 1fr; padding: 0 1; border-right: vkey $primary 30%;
        max-width: 60;  /* two bars side by side: the window's scores and the reference month's */
    }
    ModelView #model-charts { width: 1fr; }
    ModelView #churn-plot, ModelView #quality-plot { width: 1fr; border: round $primary 40%; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="model-summary")
        with Horizontal(id="model-body"):
            yield Static(id="score-histogram")
            with Vertical(id="model-charts"):
                yield TimeChart(id="churn-plot")
                yield TimeChart(id="quality-plot")

    def draw(self, state: ConsoleState, *, charts: bool) -> None:
        self.state = state
        s, timeline, versions = state.shown, state.timeline, state.versions
        assert s is not None, "drawn once a poll has read the target"
        m = s.model
        summary = Text()
        if m is None:
            summary.append(
                "no model metrics on this target (api_predictions_total, api_prediction_probability)", style="dim"
            )
        else:
            summary.append("model ", style="bold")
            summary.append(
                f"{m.version or '–'}  trained on {m.training_month or '–'}  serving {m.served_month or '–'}\n"
            )
            summary.append("predicted churn rate ", style="bold")
            reference = reference_churn_rate(m.reference_histogram)
            departs = churn_departs(m.predicted_churn_rate, reference)
            summary.append(pct(m.predicted_churn_rate) + " ", style="bold yellow" if departs else "bold")
            if reference is not None:
                summary.append(
                    f"(reference month {pct(reference)}{', far from it' if departs else ''})  ",
                    style="yellow" if departs else "dim",
                )
            summary.append(f"predictions/s {num(m.predictions_per_s)}")
        summary.append_text(
            quality_text(s.performance, self.query_one("#model-summary").content_size.width or self.size.width - 2)
        )
        set_if_changed(self.query_one("#model-summary", Static), summary)
        box = self.query_one("#score-histogram", Static)
        # Before the first layout the box has no size yet: half the view is what the stylesheet gives it.
        width = box.content_size.width or max(20, self.size.width // 2 - 3)
        change = versions.last if versions else None
        previous = change.old_scores if change and change.new == (m.version if m else None) else ()
        text = score_distribution_text(m.score_histogram, m.reference_histogram, width, previous) if m else Text()
        set_if_changed(box, text)
        if not charts:
            return
        points = list(timeline.points)
        plot = self.query_one("#churn-plot", PlotextPlot)
        draw_churn(plot, points, reference_churn_rate(m.reference_histogram) if m else None, versions)
        self._quality_chart(points, versions)

    def _quality_chart(self, points, versions) -> None:
        """Realised and estimated AUC (left, 0.5–1: 0.5 is a coin toss) and label coverage (right, %).

        The estimate is all there is until labels arrive; where the two part, the calibration assumption has
        failed (docs/PERFORMANCE.md). Fixed scales: an autoscaled 0.005 wobble would look like a collapse.
        """
        plot = self.query_one("#quality-plot", PlotextPlot)
        redrawn_on_resize(plot, lambda: self._quality_chart(points, versions))
        plt = start(plot)
        keys: list[Key] = []
        lowest = 0.5
        # Drawn last, on top: realised AUC where the lines share a row.
        for name, color, label, side, scale in (
            ("label_coverage", "gray", "label coverage", "right", 100),
            ("auc_estimated", "cyan", "estimated AUC", "left", 1),
            ("auc_realised", "green", "realised AUC", "left", 1),
        ):
            xs, ys = downsample(points, name, CHART_POINTS, reduce=statistics.fmean)
            if xs:
                plt.plot(xs, [y * scale for y in ys], color=color, marker="braille", yside=side)
                keys.insert(0, Key(label, color))
                if side == "left":
                    lowest = min(lowest, math.floor(min(ys) * 10) / 10)  # an AUC below 0.5 stays on the chart
        if keys:
            y_axis(plt, plot, lowest, 1.0, yside="left")
            y_axis(plt, plot, 0.0, 100.0, from_zero=True, yside="right")
            if mark_versions(plt, points, versions):
                keys.append(MODEL_CHANGE)
            time_axis(plt, points, plot.size.width)
        title = (
            "AUC (left), label coverage % (right)" if keys else "model quality: no scores or labels on this target yet"
        )
        caption(plot, title, points, keys)
        plot.refresh()
