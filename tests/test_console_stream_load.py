"""#29: the Load view against an LLM engine, by key presses. The scripted SSE server (tests/sse_server.py) streams
tokens on a known schedule and serves, on the same address, a vLLM exposition that grows with the streams it
serves: the console reads the engine from ``--api-url``'s /metrics and loads that same address in stream mode."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from llm_fixtures import MODEL
from prometheus_client.parser import text_string_to_metric_families
from sse_server import Script, sse_server
from test_console import console
from test_console_load import load_text, wait_for
from textual.widgets import Select

from loadgen.prompts import DEFAULT_MAX_TOKENS
from streamflow_tui.app import create_app
from streamflow_tui.widgets.load_panel import LoadPanel

TTFT_S = 0.07  # the scripted first-token delay: inside vLLM's (0.06, 0.08] TTFT bucket
# What the client may add to it: the loopback, and two processes' timers on a shared 2-core machine.
TTFT_SLACK_S = 0.03
SCRIPT = Script(ttft=TTFT_S, gaps=(0.01,), tokens=8, metrics=True)
RATE = "20"  # streams/s: 8 tokens each, 140 ms a stream
STREAMS = 40  # before the figures are read


def requests_seen(url: str) -> dict[tuple[str, str, str], float]:
    """What the scripted engine was asked, by (api, stream, model): its own counter, read from its /metrics."""
    body = httpx.get(url + "/metrics", timeout=5).text
    return {
        (s.labels["api"], s.labels["stream"], s.labels["model"]): s.value
        for family in text_string_to_metric_families(body)
        if family.name == "scripted_requests"
        for s in family.samples
        if s.name == "scripted_requests_total"
    }


def shown_ttft_p50(app) -> float:
    """The client's TTFT p50 as the view prints it (the first figure of its TTFT row), in seconds."""
    text = load_text(app)
    match = re.search(r"^\s*TTFT\s+([\d.]+) ms", text, re.MULTILINE)
    assert match, text
    return float(match.group(1)) / 1e3


async def start_stream_load(pilot) -> None:
    """5, a rate typed into its field, l."""
    await pilot.press("5")
    await pilot.click("#load-rate")
    await pilot.press("end", *["backspace"] * 3, *RATE, "escape", "l")


async def llm_recognised(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.state.shown is not None and app.state.shown.llm is not None, what="vLLM read")


async def test_l_against_an_llm_engine_streams_and_charts_client_ttft_against_the_engines(tmp_path: Path):
    with sse_server(SCRIPT) as url:
        # Charts every 2 s, not every poll: three plotext charts redrawn every 0.3 s hold the GIL long enough to make
        # the load's sends late (its corrected TTFT p95 then read 300 ms against 100 ms).
        app = create_app(console(tmp_path, api_url=url, chart_interval=2.0))
        async with app.run_test(size=(120, 40)) as pilot:
            await llm_recognised(pilot)
            await pilot.press("5")
            panel = app.query_one(LoadPanel)
            await wait_for(pilot, lambda: panel.has_class("llm"), what="the view in LLM mode")
            # /predict's controls give way to the endpoint, saying why; the model sent is the engine's own.
            assert not app.query_one("#load-predict-row").display and app.query_one("#load-api").display
            note = str(app.query_one("#load-llm-note").render())
            assert f"model {MODEL}" in note and "/predict only" in note, note
            assert "l streams completions to /v1/chat/completions" in load_text(app)

            await start_stream_load(pilot)
            await wait_for(
                pilot,
                lambda: app.state.load is not None and app.state.load.stream.streams >= STREAMS,
                what=f"{STREAMS} streams",
                seen=lambda: app.state.load,
            )
            config = app.loads.runner.config
            assert config.url == url + "/v1/chat/completions" and config.rate == float(RATE)
            assert config.stream.api == "chat" and config.stream.max_tokens == DEFAULT_MAX_TOKENS
            seen = requests_seen(url)
            assert set(seen) == {("chat", "true", MODEL)} and seen[("chat", "true", MODEL)] >= STREAMS, seen

            # The view's client TTFT is the scripted delay plus the loopback: within the slack of the schedule.
            await wait_for(pilot, lambda: "TTFT" in load_text(app), what="the TTFT row")
            assert TTFT_S <= shown_ttft_p50(app) <= TTFT_S + TTFT_SLACK_S, load_text(app)
            text = load_text(app)
            assert "vLLM p50" in text and "tokens/s" in text and "ITL" in text, text

            # One chart point per poll with both TTFT p95s, and both lines drawn.
            def both() -> list:
                return [p for p in app.state.timeline.points if p.client_ttft_p95 and p.server_ttft_p95]

            await wait_for(pilot, lambda: len(both()) >= 3, what="points with client and server TTFT p95")
            newest = both()[-1]
            # The client's p95 is corrected and over the run: every send the in-process load made late counts in
            # it (0.71 s in a full-suite run whose process served 10.6 of the 20 streams/s asked), so no upper
            # bound holds on a shared machine; the schedule is checked by the p50 above. Below the engine's own
            # delay it cannot be.
            assert newest.client_ttft_p95 >= TTFT_S, newest
            assert 0.06 <= newest.server_ttft_p95 <= 0.1, newest  # in vLLM's (0.06, 0.08] bucket, or the next
            plot = app.query_one("#load-ttft-plot")
            await wait_for(
                pilot,
                lambda: "client (corrected)" in str(plot.border_subtitle) and "server" in str(plot.border_subtitle),
                what="the TTFT chart's two lines",
                seen=lambda: (plot.border_title, plot.border_subtitle),
            )
            assert plot.display and "TTFT p95 ms ·" in str(plot.border_title)

            # The endpoint select during the run: said to apply at the next start, which l l makes.
            first = app.loads.runner
            await pilot.click("#load-api")  # opens the select, as a user's click does
            await wait_for(pilot, lambda: app.query_one("#load-api", Select).expanded, what="the endpoint list open")
            await pilot.press("down", "enter", "escape")
            await wait_for(
                pilot,
                lambda: any("endpoint: applies at the next start" in n.message for n in app._notifications),
                what="a toast saying the endpoint waits for the next start",
            )
            await pilot.press("l", "l")
            await wait_for(pilot, lambda: app.loads.runner is not first and app.loads.running, what="the new load")
            assert app.loads.runner.config.url == url + "/v1/completions"
            await wait_for(
                pilot,
                lambda: requests_seen(url).get(("completions", "true", MODEL), 0) >= 5,
                what="streamed completions requests",
                seen=lambda: requests_seen(url),
            )
            await pilot.press("l")
            await wait_for(pilot, lambda: not app.loads.running and not app.loads.stopping, what="the load stopped")
            await pilot.press("q")


@pytest.mark.parametrize(
    "prefix, said",
    [
        ("/status-404", "HTTP 404 on POST {url}/status-404/v1/chat/completions"),
        ("/not-sse", "not_sse"),
    ],
)
async def test_a_refused_stream_is_said_in_the_view(tmp_path: Path, prefix: str, said: str):
    """The engine's /metrics reads (vLLM), its chat endpoint answers 404 or a plain JSON: the view says so."""
    with sse_server(SCRIPT) as url:
        app = create_app(console(tmp_path, api_url=url + prefix))
        async with app.run_test(size=(120, 40)) as pilot:
            await llm_recognised(pilot)
            await start_stream_load(pilot)
            await wait_for(
                pilot,
                lambda: said.format(url=url) in load_text(app),
                what=f"{said!r} in the view",
                seen=lambda: load_text(app),
            )
            assert "errors:" in load_text(app)
            await pilot.press("l")
            await wait_for(pilot, lambda: not app.loads.running and not app.loads.stopping, what="the load stopped")
            await pilot.press("q")


async def test_l_against_an_engine_that_stopped_says_why_and_sends_nothing(tmp_path: Path):
    with ExitStack() as stack:
        url = stack.enter_context(sse_server(SCRIPT))
        app = create_app(console(tmp_path, api_url=url))
        async with app.run_test(size=(120, 40)) as pilot:
            await llm_recognised(pilot)
            stack.close()  # the engine stops
            await wait_for(pilot, lambda: not app.state.snapshot.ok, what="the poll to see the engine down")
            await pilot.press("5", "l")
            assert app.loads.runner is None, "a load was started against a stopped engine"
            text = load_text(app)
            assert "not started" in text and "start vLLM" in text, text
            await pilot.press("q")
