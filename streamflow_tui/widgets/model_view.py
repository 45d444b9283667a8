"""The model view: what the model says, not just how fast it answers."""

from __future__ import annotations

import math
import statistics

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ..core.compute import reference_churn_rate
from ..core.format import num, pct
from ..core.state import ConsoleState
from ..core.timeline import downsample
from .bars import shares_text
from .charts import CHART_POINTS, mark_versions, start, time_axis
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
    title = "scores: window vs " + (" vs ".join(names[1:]) if sides[-1][1] else "(no reference)")
    bar = max(3, (width - 10 - len(sides) * 8) // len(sides))  # label, and " 12.3% " after each bar
    return shares_text(title, rows, names, width=bar)


def quality_text(p, compact: bool = False) -> Text:
    """Realised performance (labels), the estimate beside it, and the reliability table, since the API started.
    ``compact``: one line of quality (below 120 columns), precision and recall left to the wide layout."""
    t = Text()
    if p is None:
        return t
    t.append("\nquality ", style="bold")
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
    if p.reliability:
        t.append("\nreliability ", style="bold")
        t.append("observed churn by score band  ", style="dim")
        t.append(
            "  ".join(
                f"≤{r.high:.1f} {r.observed_rate * 100:.0f}%" for r in p.reliability if r.observed_rate is not None
            )
        )
    return t


def draw_churn(plot: PlotextPlot, points, reference: float | None, versions=None) -> None:
    """The predicted churn rate from zero, the reference month's rate as a line: a 1-point wobble stays small."""
    plt = start(plot)
    xs, ys = downsample(points, "churn_rate", CHART_POINTS, reduce=statistics.fmean)
    top = max([y * 100 for y in ys] + [reference * 100 if reference is not None else 0.0], default=0.0)
    if xs:
        plt.plot(xs, [y * 100 for y in ys], color="magenta", marker="braille")
    if reference is not None:
        plt.hline(reference * 100, "cyan")
    plt.ylim(0, max(5.0, math.ceil(top * 1.25 / 5) * 5))
    mark_versions(plt, points, versions)
    time_axis(plt, points, plot.size.width)
    plt.title("predicted churn %" + (" · ref (line)" if reference is not None else ""))
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
                yield PlotextPlot(id="churn-plot")
                yield PlotextPlot(id="quality-plot")

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
            summary.append(pct(m.predicted_churn_rate) + " ", style="bold magenta")
            reference = reference_churn_rate(m.reference_histogram)
            if reference is not None:
                summary.append(f"(reference month {pct(reference)})  ", style="dim")
            summary.append(f"predictions/s {num(m.predictions_per_s)}")
        summary.append_text(quality_text(s.performance, compact=self.size.width < 120))
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
        plt = start(plot)
        drawn, lowest = False, 0.5
        # Drawn last, on top: realised AUC where the lines share a row.
        for name, color, label, side, scale in (
            ("label_coverage", "gray", "label coverage % (right)", "right", 100),
            ("auc_estimated", "cyan", "estimated AUC", "left", 1),
            ("auc_realised", "green", "realised AUC", "left", 1),
        ):
            xs, ys = downsample(points, name, CHART_POINTS, reduce=statistics.fmean)
            if xs:
                plt.plot(xs, [y * scale for y in ys], color=color, marker="braille", label=label, yside=side)
                drawn = True
                if side == "left":
                    lowest = min(lowest, math.floor(min(ys) * 10) / 10)  # an AUC below 0.5 stays on the chart
        if drawn:
            mark_versions(plt, points, versions)
            time_axis(plt, points, plot.size.width)
        plt.ylim(lowest, 1, yside="left")
        plt.ylim(0, 100, yside="right")
        plt.title(
            "model quality: AUC (left), label coverage % (right)"
            if drawn
            else "model quality: no scores or labels on this target yet"
        )
        plot.refresh()
