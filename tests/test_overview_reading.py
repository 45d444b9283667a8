"""#27 item 13: the overview's reading says what it counts, colours only what departs, says when all is within
its SLOs, and names the model at 80 columns."""

from __future__ import annotations

from dataclasses import replace

from fake_sources import NEW_VERSION, FakeSource, snapshot
from test_console_help import make_app, screen_text
from test_console_snapshots import fill

from streamflow_tui.core.results import RequestStats, SeriesRate
from streamflow_tui.widgets.overview import latency_card, model_card, traffic_card


def with_feedback(s):
    """The API under a 100 req/s load that labels a quarter of its answers: /predict and /feedback."""
    series = (
        SeriesRate("/predict", "success", "200", 1000.0, 100.0),
        SeriesRate("/feedback", "success", "200", 250.0, 27.5),
        SeriesRate("/health", "success", "200", 4.0, 0.0),
    )
    return replace(s, requests=RequestStats(1254.0, 127.5, 0.0, series))


def test_the_headline_says_it_counts_every_endpoint_and_shows_them():
    text = traffic_card(with_feedback(snapshot(20)), 0.01).plain
    assert "127.5 req/s all endpoints" in text, text
    assert "/predict 100.0" in text and "/feedback 27.5" in text, text
    assert "/health" not in text  # nobody calls it: not part of the reading
    one = traffic_card(snapshot(20), 0.05).plain
    assert "req/s /predict" in one, one


def test_within_slo_is_said_and_a_breach_too():
    s = snapshot(20)  # p95 about 5 ms, errors 2 %
    assert "p95 " in latency_card(s, 0.1).plain and "✓SLO" in latency_card(s, 0.1).plain
    assert "▲SLO" in latency_card(s, 0.001).plain
    assert "✓SLO" in traffic_card(s, 0.05).plain and "▲SLO" in traffic_card(s, 0.01).plain


def test_churn_is_coloured_only_when_it_departs_from_the_reference():
    def churn_style(s) -> str:
        card = model_card(s)
        start = card.plain.index("churn ") + len("churn ")
        return " ".join(str(span.style) for span in card.spans if span.start <= start < span.end)

    s = snapshot(20)
    near = replace(s, model=replace(s.model, predicted_churn_rate=0.08))  # its reference month: 7.7 %
    far = replace(s, model=replace(s.model, predicted_churn_rate=0.30))
    assert churn_style(near) == "bold", churn_style(near)
    assert "yellow" in churn_style(far) and "≠ref" in model_card(far).plain


async def test_the_model_version_is_on_screen_at_80_columns_after_a_promotion(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, 5)
        source = app.poller.source
        assert isinstance(source, FakeSource)
        assert "model month_000-2b3f3733a2e6" in screen_text(app)
        source.switch_at = source.i + 1
        await fill(pilot, 5)
        text = screen_text(app)
        assert f"model {NEW_VERSION}" in text and "ago" in text, text


async def test_at_80_columns_the_cards_say_what_they_count_and_the_slo_whole(tmp_path):
    """At 80×24 the cards cut "✓SLO" to "✓S…" and the headline's endpoint to "/pr…"."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, 5)
        text = screen_text(app)
        cards = "\n".join(line for line in text.splitlines()[3:8])
        assert "/predict" in cards and cards.count("✓SLO") + cards.count("▲SLO") == 2, cards
        assert "…" not in "".join(line[:40] for line in cards.splitlines()), cards  # traffic and latency whole
