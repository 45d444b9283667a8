"""Real foreign targets and backends, really started: node_exporter and Prometheus's own /metrics
(Go, gzip), a prometheus-client app (its own gzip-capable server), VictoriaMetrics in front of the
bundled API (path prefix, basic auth), and the connection options against servers that check them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from conftest import running_api
from fake_targets import Reply, fake_target
from foreign_servers import running_client_app, running_node_exporter, running_victoria_metrics
from prometheus_server import running_prometheus, scrape_config
from reference_scores import reference_shares, shares_of
from waiting import wait_until, wait_until_async

from streamflow_tui.core.connection import ConnectionOptions
from streamflow_tui.core.prometheus import PrometheusSource
from streamflow_tui.core.scrape import ScrapeSource


def once(*args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def two_polls(source: ScrapeSource, between=lambda: None):
    assert source.poll().up, source.status.error
    between()
    status = source.poll()
    return status, source.snapshot(source.span_seconds())


def wait_scraped(vm: str, server, case: str, scrapes: int, timeout: float = 30) -> None:
    """Until VictoriaMetrics has scraped ``case`` ``scrapes`` more times and can answer for it: it holds an
    ``up`` sample for every scrape the server counted (it is the only scraper of this server)."""
    target = server.hits.get(case, 0) + scrapes
    wait_until(
        lambda: server.hits.get(case, 0) >= target,
        timeout,
        f"VictoriaMetrics scraped {case} {scrapes} more times",
        interval=0.1,
        seen=lambda: server.hits.get(case, 0),
    )

    def searchable() -> float:
        rows = httpx.get(vm + "/api/v1/query", params={"query": "count_over_time(up[10m])"}).json()["data"]["result"]
        return float(rows[0]["value"][1]) if rows else 0.0

    wait_until(lambda: searchable() >= target, timeout, f"the {target} scrapes of {case} searchable", seen=searchable)


def test_node_exporter_is_read_through_gzip():
    with running_node_exporter() as url:
        # No HTTP request counter of the usual shape: it says so, exit 1, no numbers.
        code, doc = once("--api-url", url, "--window", "0")
        assert code == 1 and doc["api"]["up"] is True and "no request counter found" in doc["api"]["error"]
        assert doc["requests"]["rps"] is None and doc["requests"]["total"] is None
        # Told which counter to read (its own /metrics handler's), it reads it.
        code, doc = once(
            "--api-url", url, "--window", "1", "--requests-metric", "promhttp_metric_handler_requests_total"
        )
        assert code == 0, doc["api"]
        assert doc["requests"]["total"] >= 2 and doc["requests"]["rps"] > 0
        assert doc["naming"]["requests"] == ["promhttp_metric_handler_requests_total"]
        source = ScrapeSource(url, history_points=5)
        try:
            status, _ = two_polls(source)
            assert status.up and source.last_scrape.encoding == "gzip"
            assert source.last_scrape.raw_bytes < len(source.last_scrape.exposition.text) / 3  # really compressed
            assert len(source.last_scrape.exposition.families) > 100  # the whole exporter was indexed…
            assert len(source._store) == 0  # …and nothing of it was kept: no request family of ours
        finally:
            source.close()


def test_prometheus_own_metrics_are_recognised_with_no_flags():
    with running_prometheus(scrape_config([])) as url:
        source = ScrapeSource(url, history_points=5)
        try:

            def twenty_queries():
                with httpx.Client() as client:
                    for _ in range(20):
                        client.get(url + "/api/v1/query", params={"query": "1"})

            status, snap = two_polls(source, twenty_queries)
        finally:
            source.close()
    assert status.up and status.error is None, status.error
    assert source.last_scrape.encoding == "gzip"
    c = snap.metrics
    assert (
        c.requests_metrics == ("prometheus_http_requests_total",)
        and c.latency.metric == "prometheus_http_request_duration_seconds"
    )
    assert c.endpoint_label == "handler" and c.code_label == "code"
    rows = [x for x in snap.requests.by_series if x.endpoint == "/api/v1/query"]
    assert len(rows) == 1 and rows[0].rps * source.span_seconds() == pytest.approx(20, abs=1e-6)
    assert snap.latency.p50 is not None and snap.latency.p50 > 0


def test_a_prometheus_client_app_served_gzipped():
    with running_client_app() as app:
        app.record("/predict", "200", 5, 0.02)
        source = ScrapeSource(app.url, history_points=5)
        try:
            status, snap = two_polls(
                source, lambda: (app.record("/predict", "200", 90, 0.02), app.record("/predict", "500", 10, 0.2))
            )
        finally:
            source.close()
    assert status.up and status.error is None and source.last_scrape.encoding == "gzip"
    span = source.span_seconds()
    assert snap.requests.rps * span == pytest.approx(100, abs=1e-6)
    assert snap.requests.error_ratio == pytest.approx(0.1)
    # 90 observations in (0.01, 0.025], 10 in (0.1, 0.25]: p50 interpolates in the first, p95 in the second.
    assert snap.latency.p50 == pytest.approx(0.01 + 0.015 * 50 / 90)
    assert snap.latency.p95 == pytest.approx(0.1 + 0.15 * 5 / 10)


@pytest.fixture(scope="module")
def api_behind_victoria():
    """The bundled API scraped by VictoriaMetrics under a path prefix, with basic auth on its API."""
    with running_api() as api:
        with running_victoria_metrics(
            [api.removeprefix("http://")], path_prefix="/prometheus", user="ops", password="s3cret"
        ) as vm:
            with httpx.Client(timeout=5) as client:
                for i in range(60):
                    client.post(api + "/predict", json={"user_id": "4369-PFYCS" if i % 4 else "0000-NOONE"})

                def predictions() -> float:
                    rows = client.get(
                        vm + "/api/v1/query",
                        params={"query": 'sum(api_requests_total{endpoint="/predict"})'},
                        auth=("ops", "s3cret"),
                    ).json()["data"]["result"]
                    return float(rows[0]["value"][1]) if rows else 0.0

                # Until VictoriaMetrics holds the last of them.
                wait_until(lambda: predictions() >= 60, 40, "VictoriaMetrics holds the 60 requests", interval=0.5)
            yield api, vm


def test_once_reads_the_api_through_victoria_metrics(api_behind_victoria, monkeypatch):
    api, vm = api_behind_victoria
    code, doc = once("--prometheus-url", vm, "--window", "5")
    assert code == 1 and "401" in (doc["prometheus"]["error"] or "") and "--basic-auth" in doc["prometheus"]["error"]
    monkeypatch.setenv("STREAMFLOW_PROMETHEUS_PASSWORD", "s3cret")
    code, doc = once("--prometheus-url", vm, "--basic-auth", "ops", "--window", "5")
    assert code == 0, doc["prometheus"]
    own = httpx.get(api + "/metrics").text
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in own.splitlines()
        if line.startswith("api_requests_total{") and 'endpoint="/predict"' in line
    )
    predict = sum(x["total"] for x in doc["requests"]["by_series"] if x["endpoint"] == "/predict")
    assert predict == served == 60
    assert doc["naming"]["family"] == "StreamFlow API" and doc["naming"]["requests"] == ["api_requests_total"]
    assert doc["source"] == "prometheus" and doc["prometheus"]["url"] == vm


async def test_console_reads_the_api_through_victoria_metrics(api_behind_victoria, monkeypatch):
    from streamflow_tui.app import create_app
    from streamflow_tui.core.config import ConsoleConfig

    api, vm = api_behind_victoria
    monkeypatch.setenv("STREAMFLOW_PROMETHEUS_PASSWORD", "s3cret")
    options = ConnectionOptions(basic_auth_user="ops", basic_auth_password_env="STREAMFLOW_PROMETHEUS_PASSWORD")
    app = create_app(ConsoleConfig(api_url=None, prometheus_url=vm, prometheus_options=options, window=10))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until_async(
            lambda: app.state.snapshot and app.state.snapshot.ok and app.state.snapshot.requests.total,
            30,
            "a snapshot with the requests",
            interval=0.2,
            pause=pilot.pause,
            seen=lambda: app.state.snapshot and app.state.snapshot.prometheus.error,
        )
        s = app.state.snapshot
        assert s is not None and s.ok, s and s.prometheus.error
        assert s.source == "prometheus" and sum(x.total for x in s.requests.by_series if x.endpoint == "/predict") == 60
        await app.action_quit()


def test_headers_and_bearer_token_reach_the_backend(tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("abc123\n")
    with fake_target() as t:
        t.reply = Reply(status=200, body=b'{"status":"success","data":[]}', content_type="application/json")
        options = ConnectionOptions(
            headers=ConnectionOptions.parse_headers(["X-Scope-OrgID=tenant-1"]), bearer_token_file=str(token)
        )
        source = PrometheusSource(t.url + "/select/0/prometheus", options=options)
        source.snapshot(30)
        source.close()
    assert t.requests[0].startswith("/select/0/prometheus/api/v1/")  # the path prefix is kept
    assert (
        t.request_headers[0]["x-scope-orgid"] == "tenant-1" and t.request_headers[0]["authorization"] == "Bearer abc123"
    )
    monkeypatch.setenv("API_TOKEN", "xyz")
    with fake_target() as t:
        t.reply = Reply(body=b'# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 1\n')
        source = ScrapeSource(t.url, options=ConnectionOptions(bearer_token_env="API_TOKEN"))
        assert source.poll().up
        source.close()
    assert t.request_headers[0]["authorization"] == "Bearer xyz"


def test_a_private_ca_and_insecure(tmp_path):
    from tls_cert import self_signed

    tls, cert_file = self_signed(tmp_path)
    body = b'# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 1\n'
    with fake_target(tls=tls) as t:
        t.reply = Reply(body=body)
        for options, up in (
            (ConnectionOptions(), False),
            (ConnectionOptions(ca_file=str(cert_file)), True),
            (ConnectionOptions(insecure=True), True),
        ):
            source = ScrapeSource(t.url, options=options)
            status = source.poll()
            source.close()
            assert status.up is up, status.error
            if not up:
                assert "certificate" in status.error.lower() and "--ca-file" in status.error


def test_connection_flags_are_usage_errors_when_they_cannot_apply(tmp_path):
    def run(*a):
        return subprocess.run(
            [sys.executable, "-m", "streamflow_tui.cli", "--once", *a], capture_output=True, text=True, timeout=60
        )

    done = run("--api-url", "http://127.0.0.1:9", "--header", "X-A=1")
    assert done.returncode == 2 and "--header applies to --prometheus-url" in done.stderr
    done = run("--prometheus-url", "http://127.0.0.1:9", "--bearer-token-file", str(tmp_path / "missing"))
    assert done.returncode == 2 and "cannot read the bearer token file" in done.stderr
    done = run("--prometheus-url", "http://127.0.0.1:9", "--header", "no-equals-sign")
    assert done.returncode == 2 and "NAME=VALUE" in done.stderr


VM_CASES = ["torchserve", "mlserver", "istio", "spring_micrometer_percentiles", "vllm"]


@pytest.mark.parametrize("case", VM_CASES)
def test_presets_through_a_prometheus_compatible_backend(case):
    """The Prometheus source's PromQL for each kind (names with the status in them, success/failure
    pairs, series filters, ms and µs units, summaries) against VictoriaMetrics scraping the fixture."""
    from exposition_server import exposition_server
    from test_foreign_expositions import expected, kept, load, samples

    spec, first, second = load(case)
    with exposition_server() as server:
        server.set(case, first)
        target = server.target(case).removeprefix("http://")
        host, _, path = target.partition("/")
        with running_victoria_metrics([host], metrics_path=f"/{path}/metrics") as vm:
            wait_scraped(vm, server, case, 3)
            switch_at = time.time()
            server.set(case, second)
            wait_scraped(vm, server, case, 3)
            window = time.time() - switch_at + 2.5  # one sample before the switch, the rest after
            source = PrometheusSource(vm)
            snap = source.snapshot(window)
            source.close()
    assert snap.prometheus.error is None, snap.prometheus.error
    c = snap.metrics
    assert c.preset == spec["preset"] and c.latency.unit == spec["latency"]["unit"], c.note
    b = kept(spec, samples(second))
    assert snap.requests.total == pytest.approx(sum(v for (n, _), v in b.items() if n in spec["requests"]))
    want = expected(spec, first, second, 1.0)
    if want["error_ratio"] is None:
        assert snap.requests.error_ratio is None
    else:
        assert snap.requests.error_ratio == pytest.approx(want["error_ratio"], rel=1e-6, abs=1e-9)
    assert snap.latency.avg == pytest.approx(want["avg"], rel=1e-6)
    if "p95" in want:
        assert (snap.latency.p95 is None) == (want["p95"] is None)


async def test_console_on_node_exporter():
    """Without a request counter the banner says so and no number is shown; told the counter, it reads it."""
    from streamflow_tui.app import create_app
    from streamflow_tui.core.config import ConsoleConfig
    from streamflow_tui.core.naming import MetricNames
    from streamflow_tui.widgets.status import Banner

    async def first_snapshot(app, pilot):
        await wait_until_async(
            lambda: app.state.snapshot is not None and app.state.polls >= 3,
            20,
            "three polls",
            interval=0.2,
            pause=pilot.pause,
        )
        return app.state.snapshot

    with running_node_exporter() as url:
        app = create_app(ConsoleConfig(api_url=url))
        async with app.run_test(size=(120, 40)) as pilot:
            s = await first_snapshot(app, pilot)
            assert s.api.up and "no request counter found" in s.api.error
            assert "no request counter found" in str(app.query_one(Banner).render())
            assert s.requests.rps is None
            await app.action_quit()
        names = MetricNames.from_env({}, requests="promhttp_metric_handler_requests_total")
        app = create_app(ConsoleConfig(api_url=url, names=names))
        async with app.run_test(size=(120, 40)) as pilot:
            s = await first_snapshot(app, pilot)
            assert s.ok and s.requests.rps and s.requests.rps > 0  # its own scrapes, about one a second
            assert not app.query_one(Banner).has_class("visible")
            await app.action_quit()


def test_performance_through_a_prometheus_compatible_backend(api_behind_victoria, monkeypatch):
    """The labelled-prediction metrics summed by PromQL: labels and coverage as the API counted them."""
    api, vm = api_behind_victoria
    answer = httpx.post(api + "/feedback", json={"user_id": "4369-PFYCS", "actual": 1}).json()
    labelled = answer["labelled"]
    assert labelled == 45  # the 45 known-user predictions of the fixture's 60 requests
    options = ConnectionOptions(basic_auth_user="ops", basic_auth_password_env="VM_PASSWORD")
    monkeypatch.setenv("VM_PASSWORD", "s3cret")
    source = PrometheusSource(vm, options=options)

    def with_the_labels():
        snap = source.snapshot(5)
        return snap if snap.performance and snap.performance.labels == labelled else None

    try:
        snapshot = wait_until(with_the_labels, 30, f"the {labelled} labels through PromQL", interval=0.5)
        perf = snapshot.performance
    finally:
        source.close()
    # The training month's score distribution, served by the API and read by PromQL: what the model gives
    # the month_000 rows, computed here from the rows themselves.
    expected = reference_shares("month_000")
    served = shares_of(snapshot.model.reference_histogram)
    assert served.keys() == expected.keys()
    assert all(served[le] == pytest.approx(expected[le], abs=1e-9) for le in expected)
    assert perf.labels == 45 and perf.coverage == pytest.approx(1.0)
    # All 45 churned (actual 1) and were predicted 0 (p = 0.0019): no positive prediction, recall 0, no AUC.
    assert perf.realized.precision is None and perf.realized.recall == 0.0 and perf.realized.accuracy == 0.0
    assert perf.realized.roc_auc is None
    assert perf.estimated.roc_auc == pytest.approx(0.5)  # one score for every prediction: all ties
