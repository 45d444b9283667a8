"""The console reads every metric source through one interface (``core.source.MetricSource``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import free_port

from streamflow_tui.core.config import ConsoleConfig
from streamflow_tui.core.prometheus import PrometheusError, PrometheusSource
from streamflow_tui.core.scrape import ScrapeSource
from streamflow_tui.core.source import MetricSource, WithFallback
from streamflow_tui.core.sources import open_source as build_source

APP = Path(__file__).resolve().parents[1] / "streamflow_tui" / "app.py"


def test_every_source_is_a_metric_source(tmp_path):
    scrape_only = build_source(ConsoleConfig(api_url="http://127.0.0.1:9", reports_dir=tmp_path))
    prometheus_only = build_source(
        ConsoleConfig(api_url=None, prometheus_url="http://127.0.0.1:9", reports_dir=tmp_path)
    )
    both = build_source(
        ConsoleConfig(api_url="http://127.0.0.1:9", prometheus_url="http://127.0.0.1:9", reports_dir=tmp_path)
    )
    assert isinstance(scrape_only, ScrapeSource) and isinstance(prometheus_only, PrometheusSource)
    assert isinstance(both, WithFallback)
    for source in (scrape_only, prometheus_only, both):
        assert isinstance(source, MetricSource), type(source)
        source.close()


def test_the_console_never_asks_which_source_it_holds():
    """No ``.kind`` branches: what differs between sources lives in the sources."""
    kinds = [
        node.lineno
        for node in ast.walk(ast.parse(APP.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "kind"
    ]
    assert kinds == [], f"app.py reads .kind at lines {kinds}"


def test_an_unreadable_prometheus_falls_back_to_the_api_and_says_why(api_url, tmp_path):
    prometheus = f"http://127.0.0.1:{free_port()}"
    source = build_source(ConsoleConfig(api_url=api_url, prometheus_url=prometheus, reports_dir=tmp_path))
    try:
        assert source.poll() is None  # Prometheus is read at snapshot time
        snapshot = source.snapshot(5)
        assert snapshot.source == "scrape" and snapshot.api.up and snapshot.ok
        assert snapshot.prometheus.url == prometheus and snapshot.prometheus.error
        assert snapshot.fallback == f"Prometheus unavailable ({snapshot.prometheus.error})"
        with pytest.raises(PrometheusError):  # the console says "charts start empty" and why
            source.history(60, 1, 5)
    finally:
        source.close()


def test_a_scrape_source_has_no_past_to_backfill(api_url):
    source = ScrapeSource(api_url)
    try:
        source.poll()
        assert source.history(600, 5, 5) is None
        assert source.snapshot(5).fallback is None  # no Prometheus was asked for: nothing fell back
    finally:
        source.close()
