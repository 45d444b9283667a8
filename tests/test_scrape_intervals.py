"""Prometheus at the scrape intervals real deployments use: the shipped compose's 5 s, Prometheus's
default 15 s, and 60 s. The window widens to four intervals (as Grafana's $__rate_interval), so
rates, percentiles and backfilled charts exist; the scrape and Prometheus sources agree."""

from __future__ import annotations

import math
import time
from contextlib import ExitStack

import pytest
import yaml
from conftest import REPO, running_api
from live_stack import SteadyTraffic
from prometheus_server import backfill, query, running_prometheus, scrape_config
from waiting import wait_until

from streamflow_tui.core.prometheus import PrometheusSource, go_duration
from streamflow_tui.core.scrape import ScrapeSource


def shipped_interval() -> str:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    return config["global"]["scrape_interval"]


def test_go_durations():
    assert [go_duration(t) for t in ("5s", "15s", "1m", "1m30s", "500ms", "2h")] == [5, 15, 60, 90, 0.5, 7200]
    assert go_duration("soon") is None and go_duration("5") is None


def wait_samples(url: str, n: int, timeout: float) -> None:
    def samples() -> bool:
        rows = query(url, 'count_over_time(api_requests_total{endpoint="/predict",code="200"}[10m])', time.time())
        return bool(rows) and float(rows[0]["value"][1]) >= n

    wait_until(samples, timeout, f"{url} holds {n} samples", interval=0.5)


def test_live_at_the_shipped_5s_and_the_default_15s():
    interval = shipped_interval()
    assert interval == "5s"
    with ExitStack() as stack:
        apis = [stack.enter_context(running_api()) for _ in range(2)]
        proms = [
            stack.enter_context(running_prometheus(scrape_config([a.removeprefix("http://")], interval=i)))
            for a, i in zip(apis, (interval, "15s"))
        ]
        traffic = SteadyTraffic(apis, 40.0).start()
        stack.callback(traffic.stop)
        wait_samples(proms[0], 5, 60)
        wait_samples(proms[1], 4, 90)
        for api, prom, seconds in zip(apis, proms, (5, 15)):
            source = PrometheusSource(prom)
            direct = ScrapeSource(api, history_points=30)
            try:
                direct.poll()
                time.sleep(10)  # the scrape source's rate window: two polls 10 s apart, deliberately
                direct.poll()
                scraped = direct.snapshot(direct.span_seconds())
                snap = source.snapshot(5)  # the console's default window
                history = source.history(300, 1, 5)
            finally:
                source.close()
                direct.close()
            assert snap.scrape_interval_s == seconds
            assert snap.window_seconds == 4 * seconds, "widened to four scrape intervals"
            assert snap.requests.rps is not None and snap.latency.p95 is not None and snap.latency_histogram
            # The same traffic through both sources (the headline leaves out /metrics and /health in both).
            assert snap.requests.rps == pytest.approx(scraped.requests.rps, rel=0.05)
            assert not any(x.endpoint in ("/metrics", "/health") for x in snap.requests.by_series)
            steps = [b - a for a, b in zip(history.times_s, history.times_s[1:])]
            assert steps and min(steps) >= seconds - 1e-6, "backfill steps at least one scrape interval"
            assert sum(v is not None for v in history.rps) >= 2


def test_sixty_second_scrapes_from_backfilled_data(tmp_path):
    """A minute between samples (backfilled with promtool: no waiting for real minutes)."""
    now = math.floor(time.time())
    end = now - 5
    counts, ups = [], []
    for i in range(31):  # 30 minutes, one sample a minute, 10 requests a second, 1 in 10 an error
        t = end - (30 - i) * 60
        counts.append(f'api_requests_total{{endpoint="/predict",status="success",code="200"}} {540 * i} {t}')
        counts.append(f'api_requests_total{{endpoint="/predict",status="error",code="404"}} {60 * i} {t}')
        counts.append(f'api_requests_total{{endpoint="/metrics",status="success",code="200"}} {i} {t}')
        ups.append(f'up{{job="api",instance="127.0.0.1:1"}} 1 {t}')
    text = "\n".join(["# TYPE api_requests counter", *counts, "# TYPE up gauge", *ups, "# EOF"]) + "\n"
    data = tmp_path / "data"
    data.mkdir()
    backfill(text, data)
    with running_prometheus(data_dir=data) as url:
        source = PrometheusSource(url)
        try:
            snap = source.snapshot(5)
            history = source.history(1800, 1, 5)
        finally:
            source.close()
    assert snap.prometheus.error is None, snap.prometheus.error
    assert snap.scrape_interval_s == 60 and snap.window_seconds == 240
    assert snap.requests.rps == pytest.approx(10.0, rel=0.01)  # /metrics left out: 540 + 60 a minute
    assert snap.requests.error_ratio == pytest.approx(0.1, rel=0.01)
    assert min(b - a for a, b in zip(history.times_s, history.times_s[1:])) >= 60
    measured = [v for v in history.rps if v is not None]
    # Past the first four minutes (where the window reaches back before the first sample): exact.
    assert len(measured) >= 20 and all(v == pytest.approx(10.0, rel=0.02) for v in measured[4:])
