"""The Load view against an LLM engine: a streamed-completions load's client TTFT / ITL / end-to-end beside the
engine's own histograms, tokens/s, what went wrong, and the TTFT chart (client p95 vs the engine's p95)."""

from __future__ import annotations

from rich.text import Text
from textual_plotext import PlotextPlot

from loadgen.prompts import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT_TOKENS, ENDPOINTS
from streamflow_data.load import LoadSnapshot

from ..controllers.load import StreamTarget, served_model
from ..core.format import ms, num
from ..core.llm_report import shown
from ..core.llm_types import LlmStats
from .charts import Key, caption, client_vs_server, plot_lines, redrawn_on_resize, start, time_axis, y_axis

LABEL, CLIENT, SERVER = 5, 10, 12  # column widths of the client-vs-server table: 74 columns in all
QUANTILES = ("p50", "p95", "p99")
# The error kinds a stream run counts (loadgen/stream.py, engine.py) and what each says about the target.
WHY = {
    "not_sse": "the answers are not event streams: the endpoint does not stream (is it OpenAI-compatible?)",
    "stream_error": "the streams carried an error event: the engine refused or failed the requests",
    "stream_cut": "the streams ended before data: [DONE] (the connection or the body closed early)",
    "timeout": "no answer within the timeout: the engine is overloaded or hangs",
    "connect_refused": "the connection was refused: is the engine running?",
    "connect_error": "no connection: is the engine's address right?",
    "reset": "the engine closed the connection without an answer",
}


def idle_text(text: Text, llm: LlmStats, api: str) -> None:
    """What l will do against this engine, and why /predict's controls are hidden."""
    text.append(f"{llm.spec.name}: ", style="bold")
    text.append(
        f"l streams completions to {ENDPOINTS[api]} (open or closed model as set above; generated prompts of"
        f" ~{DEFAULT_PROMPT_TOKENS:g} tokens, max_tokens {DEFAULT_MAX_TOKENS}) and shows the client's TTFT and ITL"
        f" beside {llm.spec.name}'s own. Month, payload and labels after are /predict's: they do not apply.",
        style="dim",
    )


def stream_note(llm: LlmStats) -> str:
    """Beside the endpoint select: the model field sent, and why /predict's controls are gone."""
    model = served_model(llm)
    sent = f"model {model}" if model else "no model field (the engine's default)"
    return f"{sent} · month, payload, labels after: /predict only"


def served_line(s: LoadSnapshot) -> str:
    """The end of the run's first line: tokens/s (over the run, as the report's) and the streams ended well."""
    st = s.stream
    assert st is not None, "a stream run's snapshot"
    return f"   {num(st.tokens_per_s)} tokens/s  {st.streams:,} streams"


def stream_table(text: Text, s: LoadSnapshot, llm: LlmStats | None) -> None:
    """Client (corrected, over the run) beside the engine's (its histograms, over the window): TTFT, ITL, e2e."""
    st = s.stream
    assert st is not None, "a stream run's snapshot"
    total = llm.total if llm is not None else None
    server = llm.spec.name if llm is not None else "server"
    text.append(f"{'':{LABEL}}" + "".join(f"{'client ' + q if q == 'p50' else q:>{CLIENT}}" for q in QUANTILES))
    text.append(" │" + "".join(f"{server + ' ' + q if q == 'p50' else q:>{SERVER}}" for q in QUANTILES))
    rows = (
        ("TTFT", st.ttft_corrected, "ttft"),
        ("ITL" if llm is None or llm.spec.itl_kind == "itl" else "TPOT", st.itl, "itl"),
        ("e2e", s.corrected, "e2e"),
    )
    for label, client, role in rows:
        text.append(f"\n{label:<{LABEL}}" + "".join(f"{ms(client.get(q)):>{CLIENT}}" for q in QUANTILES) + " │")
        if llm is not None and llm.spec.metric(role) is None:
            text.append(f" {llm.spec.reason(role) or 'not served'}", style="dim")
            continue
        lat = total.of(role) if total is not None else None
        text.append("".join(f"{shown(lat.quantile(q) if lat else None):>{SERVER}}" for q in QUANTILES))


def stream_problem(s: LoadSnapshot, target: StreamTarget | None) -> str | None:
    """Why the stream's requests fail, in words, from its most common error (None while they succeed)."""
    if not s.errors:
        return None
    url = target.url if target is not None else "the endpoint"
    statuses = sorted(((n, code) for code, n in s.status_codes.items() if int(code) >= 400), reverse=True)
    kinds = sorted(((n, kind) for kind, n in s.error_kinds.items()), reverse=True)
    if statuses and (not kinds or statuses[0][0] * 2 >= kinds[0][0]):
        n, code = statuses[0]
        hint = {
            "404": ": no such endpoint on this engine (the endpoint select has the other)",
            "400": ": the engine refused the request (a model it does not serve?)",
        }.get(code, "")
        return f"HTTP {code} on POST {url} ({n:,}){hint}"
    n, kind = kinds[0]
    return f"{kind} ({n:,}) from {url}: {WHY.get(kind, 'see the errors above')}"


def draw_ttft(plot: PlotextPlot, points) -> None:
    """Client TTFT p95 (corrected, over the run) and the engine's TTFT p95 (its histogram, over the window),
    one point per poll: the gap is the network and the queueing the engine does not count."""
    redrawn_on_resize(plot, lambda: draw_ttft(plot, points))
    plt = start(plot)
    keys, values = plot_lines(plt, points, client_vs_server("client_ttft_p95", "server_ttft_p95"), scale=1000)
    if values:
        y_axis(plt, plot, min(values), max(values))
    time_axis(plt, points, plot.size.width)
    if not any(k.label.startswith("client") for k in keys):
        keys.append(Key("no client TTFT", mark=""))
    caption(plot, "TTFT p95 ms", points, keys)
    plot.refresh()
