"""The model view: what the model says, not just how fast it answers."""

from __future__ import annotations

import statistics

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ..core.format import num, pct
from ..core.results import Snapshot
from ..core.timeline import Timeline, downsample
from .bars import histogram_text
from .charts import CHART_POINTS
from .quiet import set_if_changed


def _score_label(bucket, previous: float) -> str:
    return f"{previous:.2f}–{bucket.le:.2f}" if bucket.le <= 1 else "> 1"


def quality_text(p) -> Text:
    """Realised performance (labels), the estimate beside it, and the reliability table, since the API started."""
    t = Text()
    if p is None:
        return t
    t.append("\nquality ", style="bold")
    if p.realized:
        t.append(f"AUC {num(p.realized.roc_auc, '{:.3f}')}", style="bold green")
        t.append(f" realised  precision {pct(p.realized.precision)}  recall {pct(p.realized.recall)}"
                 f"  ({num(p.labels, '{:,.0f}')} labels, {pct(p.coverage)} of predictions)")  # fmt: skip
    else:
        t.append("no labels yet (POST /feedback)", style="dim")
    if p.estimated:
        t.append(f"   estimated AUC {num(p.estimated.roc_auc, '{:.3f}')}", style="bold cyan")
        t.append(f" precision {pct(p.estimated.precision)} (assumes calibrated scores)", style="dim")
    if p.reliability:
        t.append("\nreliability ", style="bold")
        t.append("observed churn by score band  ", style="dim")
        t.append("  ".join(f"≤{r.high:.1f} {r.observed_rate * 100:.0f}%" for r in p.reliability if r.observed_rate is not None))
    return t


class ModelView(Widget):
    def compose(self) -> ComposeResult:
        yield Static(id="model-summary")
        with Horizontal(id="model-body"):
            yield Static(id="score-histogram")
            yield PlotextPlot(id="churn-plot")

    def show(self, s: Snapshot, timeline: Timeline, charts: bool = True) -> None:
        m = s.model
        summary = Text()
        if m is None:
            summary.append("no model metrics on this target (api_predictions_total, api_prediction_probability)", style="dim")
        else:
            summary.append("model ", style="bold")
            summary.append(f"{m.version or '–'}  trained on {m.training_month or '–'}  serving {m.served_month or '–'}\n")
            summary.append("predicted churn rate ", style="bold")
            summary.append(pct(m.predicted_churn_rate), style="bold magenta")
            summary.append(f"   predictions/s {num(m.predictions_per_s)}")
        summary.append_text(quality_text(s.performance))
        set_if_changed(self.query_one("#model-summary", Static), summary)
        scores = m.score_histogram if m else ()
        set_if_changed(self.query_one("#score-histogram", Static), histogram_text("predicted churn probability, window", scores, label=_score_label))
        if not charts:
            return
        plot = self.query_one("#churn-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        xs, ys = downsample(list(timeline.points), "churn_rate", CHART_POINTS, reduce=statistics.fmean)
        if xs:
            plt.plot(xs, [y * 100 for y in ys], color="magenta", marker="braille")
        plt.title("predicted churn rate (%) over time (s)")
        plot.refresh()
