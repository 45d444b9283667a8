"""The first screen: is the model service healthy? Traffic, latency, the model and drift at a glance."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ..core.compute import churn_departs, reference_churn_rate
from ..core.drift_types import DriftResult
from ..core.format import num, pct, quantile
from ..core.performance import MIN_SAMPLE
from ..core.results import RequestStats, Snapshot
from ..core.state import ConsoleState
from .charts import TimeChart, draw_latency
from .heatmap import LatencyHeatmap
from .model_view import score_distribution_text
from .quiet import set_if_changed
from .rate_chart import RateChart
from .status import ago
from .view import View

# A card's columns when the caller does not say: room for every long form.
WIDE_CARD = 200
NARROW = 100  # the overview's width below which cards give up their right padding


def _slo(text: Text, label: str, value: str, breached: bool | None) -> None:
    """A reading with an SLO says where it stands: ▲SLO over it, ✓SLO within; None: no SLO or no reading."""
    text.append(label)
    text.append(value, style="bold red" if breached else "bold")
    if breached is None:
        text.append("\n")
    else:
        text.append(" ▲SLO\n" if breached else " ✓SLO\n", style="bold red" if breached else "green")


def per_endpoint(r: RequestStats) -> list[tuple[str, float]]:
    """Requests/s by endpoint, busiest first (the headline sums them: /feedback counts too)."""
    rates: dict[str, float] = {}
    for series in r.by_series:
        if series.rps:  # an endpoint nobody calls is not part of the reading
            rates[series.endpoint] = rates.get(series.endpoint, 0.0) + series.rps
    return sorted(rates.items(), key=lambda item: -item[1])


def traffic_card(s: Snapshot, slo_error_ratio: float, width: int = WIDE_CARD) -> Text:
    """``width``: the card's columns. Where "199.9 req/s /predict" does not fit (80 columns), "199.9/s
    /predict": what the headline counts stays whole rather than the endpoint's name being cut."""
    r = s.requests
    t = Text()
    rate = num(r.rps)
    t.append(rate, style="bold cyan")
    endpoints = per_endpoint(r)
    counted = "all endpoints" if len(endpoints) > 1 else endpoints[0][0] if endpoints else ""
    unit = " req/s" if len(f"{rate} req/s {counted}") <= width else "/s"
    t.append(f"{unit} {counted}".rstrip() + "\n")
    error_ratio = r.error_ratio
    breached = None if error_ratio is None else error_ratio > slo_error_ratio
    label = "errors " if len(f"errors {pct(error_ratio)} ▲SLO") <= width else "err "
    _slo(t, label, pct(error_ratio), breached)
    if len(endpoints) > 1:  # what the headline is made of
        t.append("  ".join(f"{name} {num(rps)}" for name, rps in endpoints), style="dim")
    else:
        t.append(f"total {num(r.total, '{:,.0f}')}", style="dim")
    return t


def latency_card(s: Snapshot, slo_p95: float) -> Text:
    t = Text()
    for key in ("p50", "p95", "p99"):
        value = getattr(s.latency, key)
        shown = quantile(value, s.latency.bounds_of(key))
        _slo(t, f"{key} ", shown, None if key != "p95" or value is None else value > slo_p95)
    t.rstrip()
    return t


def model_card(s: Snapshot) -> Text:
    m, p = s.model, s.performance
    t = Text()
    if m is None:
        t.append("no model metrics", style="dim")
        return t
    t.append("churn ")
    reference = reference_churn_rate(m.reference_histogram)
    departs = churn_departs(m.predicted_churn_rate, reference)
    t.append(pct(m.predicted_churn_rate) + (" ≠ref" if departs else ""), style="bold yellow" if departs else "bold")
    t.append(f"\n  ref {pct(reference)}" if reference is not None else "\n  ref –", style="dim")
    if p and p.realized and p.realized.roc_auc is not None:
        t.append("\nAUC ")
        t.append(f"{p.realized.roc_auc:.3f} ", style="bold green")
        t.append("labels", style="dim")
    elif p and p.estimated and p.estimated.roc_auc is not None:
        t.append("\nAUC ")
        t.append(f"{p.estimated.roc_auc:.3f} ", style="bold cyan")
        t.append("est.", style="dim")
    elif p and p.estimated_reason and p.estimated_reason.startswith("only"):
        t.append(f"\nAUC – <{MIN_SAMPLE} rows", style="dim")
    else:
        t.append("\nAUC – no labels", style="dim")
    return t


def drift_card(result: DriftResult | None, age_s: float | None, load: str) -> Text:
    t = Text()
    if result is None:
        t.append("not checked\n", style="dim")
        t.append("d runs a check\n", style="dim")
    else:
        drifted = result.decision != "NO_RETRAINING_NEEDED" if result.decision else result.drifted_columns > 0
        t.append("DRIFT " if drifted else "no drift ", style="bold red" if drifted else "bold green")
        t.append(f"{result.drifted_columns}/{result.total_columns} columns\n")
        when = f"{ago(age_s)} ago" if age_s is not None else ""
        t.append(f"{when} · {result.current}\n", style="dim")
    t.append(f"load {load}")
    return t


class Overview(View):
    """Four cards of numbers, the two time charts, and (where there is room) the heatmap and the scores."""

    DEFAULT_CSS = """
    Overview { height: 1fr; layout: vertical; }
    Overview #ov-cards { height: 5; }
    Overview .card {
        width: 1fr; height: 5; padding: 0 1;
        border: round $primary 50%; border-title-color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    /* Below 100 columns a card's right padding goes: "p95 12.34 ms ✓SLO" fits whole at 80. */
    Overview.narrow .card { padding: 0 0 0 1; }
    Overview #ov-charts { height: 3fr; min-height: 8; }
    Overview #ov-rps { width: 1fr; height: 1fr; border: round $primary 50%; border-title-color: $text-muted; }
    Overview #ov-latency { width: 1fr; border: round $primary 50%; }
    Overview #ov-bottom { height: 2fr; }
    Overview #ov-heatmap { width: 1fr; height: 1fr; padding: 0 1; }
    Overview #ov-scores { width: 1fr; height: 1fr; max-width: 64; padding: 0 1; border-left: vkey $primary 30%;
                          text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="ov-cards"):
            for name in ("traffic", "latency", "model", "drift"):
                card = Static(id=f"ov-{name}-card", classes="card")
                card.border_title = name
                yield card
        with Horizontal(id="ov-charts"):
            yield RateChart(title="requests/s", id="ov-rps")
            yield TimeChart(id="ov-latency")
        with Horizontal(id="ov-bottom"):
            yield LatencyHeatmap(id="ov-heatmap")
            yield Static(id="ov-scores")

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")
        # Drawn again once the cards are laid out with their new padding: the traffic card's wording follows
        # its width.
        self.call_after_refresh(super().on_resize)

    def draw(self, state: ConsoleState, *, charts: bool) -> None:
        self.state = state
        s, timeline, versions = state.shown, state.timeline, state.versions
        assert s is not None, "drawn once a poll has read the target"
        slo_p95, slo_error_ratio = state.config.slo_p95, state.config.slo_error_ratio
        drift, drift_age_s, load = state.drift_result, state.drift_age_s(), state.load_text()
        traffic = self.query_one("#ov-traffic-card", Static)
        set_if_changed(traffic, traffic_card(s, slo_error_ratio, traffic.content_size.width or WIDE_CARD))
        set_if_changed(self.query_one("#ov-latency-card", Static), latency_card(s, slo_p95))
        set_if_changed(self.query_one("#ov-model-card", Static), model_card(s))
        model = self.query_one("#ov-model-card", Static)
        title = f"model {s.model.version}" if s.model and s.model.version else "model"
        if model.border_title != title:  # assigning repaints the card, even with the same title
            model.border_title = title
        set_if_changed(self.query_one("#ov-drift-card", Static), drift_card(drift, drift_age_s, load))
        self.query_one("#ov-rps", RateChart).set_values(timeline.column("rps"), timeline.times())
        box = self.query_one("#ov-scores", Static)
        if s.model and box.display:
            width = box.content_size.width or 40
            set_if_changed(
                box, score_distribution_text(s.model.score_histogram, s.model.reference_histogram, width, coarse=True)
            )
        if charts:
            points = list(timeline.points)
            draw_latency(self.query_one("#ov-latency", PlotextPlot), points, slo_p95, versions)
            if self.query_one(LatencyHeatmap).display:
                self.query_one(LatencyHeatmap).show(points)
