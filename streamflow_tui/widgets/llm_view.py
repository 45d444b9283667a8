"""The LLM view (tab 6, shown when the target is an LLM engine): per model, TTFT, ITL, end-to-end and queue time
as p50/p95/p99 — a quantile whose bucket is wide shown as that range, not a false-precise number —, tokens/s,
the queue, the KV cache, preemptions and the prefix cache; what the engine does not expose says so."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ..core.format import num, pct
from ..core.llm_report import shown
from ..core.llm_types import ALL, LlmModel, LlmStats
from ..core.state import ConsoleState
from .quiet import set_if_changed
from .view import View

LATENCIES = (("ttft", "TTFT"), ("itl", "ITL"), ("e2e", "end to end"), ("queue", "queue"))


def _quantiles(llm: LlmStats, m: LlmModel, role: str) -> list[Text]:
    spec = llm.spec
    if spec.metric(role) is None:
        why = spec.reason(role) or "not served"
        return [Text(why, style="dim"), Text(""), Text("")]
    lat = m.of(role)
    if lat is None:
        return [Text("–", style="dim")] * 3
    out = []
    for key in ("p50", "p95", "p99"):
        e = lat.quantile(key)
        out.append(Text(shown(e), style="yellow" if e.coarse else ""))
    return out


def _value(llm: LlmStats, role: str, text: str) -> Text:
    if llm.spec.metric(role) is None:
        return Text(llm.spec.reason(role) or "not served", style="dim")
    return Text(text)


def llm_text(llm: LlmStats) -> Table:
    spec = llm.spec
    era = f" · naming era {spec.era}" if spec.era else ""
    table = Table(
        title=f"{spec.name}{era} — {spec.era_note}",
        title_justify="left",
        expand=False,
        box=None,
        pad_edge=False,
    )
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("p50", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("p99", justify="right")
    for m in llm.models:
        name = "all models" if m.model == ALL else (m.model or "the served model")
        table.add_row(Text(name, style="bold cyan"), "", "", "")
        for role, label in LATENCIES:
            if role == "itl" and spec.itl_kind == "tpot":
                label = "TPOT (per request)"
            table.add_row(f"  {label}", *_quantiles(llm, m, role))
        tokens = f"prompt {num(m.prompt_tokens_per_s)}  generation {num(m.generation_tokens_per_s)}"
        table.add_row("  tokens/s", _value(llm, "generation_tokens", tokens), "", "")
        table.add_row("  running / waiting", f"{num(m.running, '{:,.0f}')} / {num(m.waiting, '{:,.0f}')}", "", "")
        table.add_row("  KV cache", _value(llm, "kv_usage", pct(m.kv_usage)), "", "")
        table.add_row("  preemptions/s", _value(llm, "preemptions", num(m.preemptions_per_s, "{:,.2f}")), "", "")
        table.add_row("  prefix-cache hits", _value(llm, "prefix_hits", pct(m.prefix_hit_ratio)), "", "")
    return table


class LlmView(View):
    DEFAULT_CSS = """
    LlmView { height: 1fr; }
    LlmView #llm-table { height: auto; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="llm-table")

    def draw(self, state: ConsoleState, *, charts: bool) -> None:
        self.state = state
        s = state.shown
        assert s is not None, "drawn once a poll has read the target"
        box = self.query_one("#llm-table", Static)
        if s.llm is None:
            set_if_changed(box, Text("the target serves no LLM engine's families", style="dim"))
            return
        box.update(llm_text(s.llm))
