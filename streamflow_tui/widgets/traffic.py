"""The traffic view: requests/s, latency lines, the latency histogram and heatmap, the per-series table."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from ..core.format import ms, num, pct, quantile
from ..core.results import Snapshot
from ..core.state import ConsoleState
from .bars import histogram_text
from .charts import TimeChart, draw_latency
from .heatmap import LatencyHeatmap
from .quiet import set_if_changed
from .rate_chart import RateChart
from .view import View


class TrafficView(View):
    DEFAULT_CSS = """
    TrafficView { height: 1fr; layout: vertical; }
    TrafficView #traffic-top { height: 1fr; min-height: 8; }
    TrafficView #rps-panel {
        width: 1fr; max-width: 60; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;  /* bars sized to the box; never folded into a second line */
    }
    /* Fixed heights: these update every poll without a layout pass. */
    TrafficView #rps-summary, TrafficView #latency-summary { height: 2; }
    TrafficView #rps-chart { height: 1fr; min-height: 4; margin: 1 0 0 0; }
    TrafficView #latency-plot { width: 1fr; border: round $primary 40%; }
    TrafficView #traffic-bottom { height: 1fr; }
    TrafficView #latency-heatmap { width: 1fr; padding: 0 1; border-right: vkey $primary 30%; }
    TrafficView #latency-histogram {
        width: 40; padding: 0 1; border-right: vkey $primary 30%;
        height: 1fr;  /* fixed by the container: updated without a layout pass */
    }
    TrafficView #series-table { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="traffic-top"):
            with Vertical(id="rps-panel"):
                yield Static(id="rps-summary")
                yield RateChart(id="rps-chart")
                yield Static(id="latency-summary")
            yield TimeChart(id="latency-plot")
        with Horizontal(id="traffic-bottom"):
            yield Static(id="latency-histogram")
            yield LatencyHeatmap(id="latency-heatmap")
            yield DataTable(id="series-table", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#series-table", DataTable).add_columns(
            "endpoint", "status", "code", "req/s", "err %", "p95", "total"
        )

    def draw(self, state: ConsoleState, *, charts: bool) -> None:
        """Update the numbers; redraw the time charts only when ``charts`` (they cost ~50 ms each)."""
        self.state = state
        s, timeline, versions = state.shown, state.timeline, state.versions
        assert s is not None, "drawn once a poll has read the target"
        slo_p95, slo_error_ratio = state.config.slo_p95, state.config.slo_error_ratio
        r, lat = s.requests, s.latency
        summary = Text()
        summary.append("requests/s ", style="bold")
        summary.append(f"{num(r.rps):>9}", style="bold cyan")
        summary.append("   errors ")
        breached_err = r.error_ratio is not None and r.error_ratio > slo_error_ratio
        summary.append(pct(r.error_ratio), style="bold red" if breached_err else "")
        if breached_err:
            summary.append(" ▲SLO", style="bold red")
        summary.append(f"   total {num(r.total, '{:,.0f}')}")
        set_if_changed(self.query_one("#rps-summary", Static), summary)
        self.query_one("#rps-chart", RateChart).set_values(timeline.column("rps"), timeline.times())

        # Two short lines, not one long one: at 80 columns the panel is 38 wide and p99 must not be cut.
        latency = Text()
        for key in ("p50", "p95", "p99"):
            value = getattr(lat, key)
            breached = key == "p95" and value is not None and value > slo_p95
            latency.append(f"{key} ")
            latency.append(quantile(value, lat.bounds_of(key)), style="bold red" if breached else "bold")
            latency.append("▲ " if breached else "  ", style="bold red")
        latency.append(f"\navg {ms(lat.avg)} over the last {s.window_seconds:g} s", style="dim")
        set_if_changed(self.query_one("#latency-summary", Static), latency)

        if charts:
            points = list(timeline.points)
            draw_latency(self.query_one("#latency-plot", PlotextPlot), points, slo_p95, versions)
            self.query_one(LatencyHeatmap).show(points)
        box = self.query_one("#latency-histogram", Static)
        bar = max(6, (box.content_size.width or 38) - 19)  # the bound's label, a space, and the count beside the bar
        set_if_changed(box, histogram_text("latency histogram, window", s.latency_histogram, bar))
        self._fill_table(s)

    def _fill_table(self, s: Snapshot) -> None:
        """Cells are updated in place while the set of series stays the same; rebuilt when it changes."""
        table = self.query_one("#series-table", DataTable)
        several = any(x.instance for x in s.requests.by_series)
        p95_by_endpoint = dict(s.latency_by_endpoint)
        # Error % is the endpoint's (its error rows over all its rows), not the row's own 0 or 100 %.
        per_endpoint: dict[tuple, list[float]] = {}
        for x in s.requests.by_series:
            agg = per_endpoint.setdefault((x.endpoint, x.model, x.instance), [0.0, 0.0])
            agg[0] += x.rps or 0.0
            agg[1] += (x.rps or 0.0) if x.status == "error" else 0.0
        rows = {}
        for x in s.requests.by_series:
            key = f"{x.endpoint}@{x.instance}" if x.instance else x.endpoint
            p95 = p95_by_endpoint.get(key) or p95_by_endpoint.get(x.endpoint) or p95_by_endpoint.get(x.model or "")
            endpoint = x.endpoint or "–"
            if x.model:
                endpoint = f"{x.model} {x.endpoint}".strip()
            if several and x.instance:
                endpoint = f"{endpoint} @{x.instance}"
            total_rps, error_rps = per_endpoint[(x.endpoint, x.model, x.instance)]
            err = "–" if not total_rps or x.status is None else pct(error_rps / total_rps)
            rows[f"{endpoint}|{x.status}|{x.code}"] = (
                Text(endpoint, style="red" if x.status == "error" else ""),
                x.status or "–",
                x.code or "–",
                num(x.rps),
                err,
                ms(p95.p95 if p95 else None),
                num(x.total, "{:,.0f}"),
            )
        if list(rows) != [key.value for key in table.rows]:
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
            return
        columns = list(table.columns)
        for key, cells in rows.items():
            for column, value in zip(columns[3:], cells[3:]):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value, update_width=True)
