"""Real servers, read truthfully (#25): web frameworks' Prometheus instrumentations and OpenTelemetry's, each
installed from the package registry into its own virtualenv (tests/real_venvs.py, cached by requirements
hash), started for real on a free loopback port, and read by the console with no flags:

- idle, under a health probe at 2/s and the console's own scrapes: 0 req/s (or, where the instrumentation has
  no endpoint label, the probe's rate and a note that says so);
- under a known load of 20 req/s with 10 % failures (and the probe): the rate and the error ratio;
- every histogram quantile within its bucket's bounds, and the bucket's lower edge no higher than what the
  client itself measured (a too-coarse family puts p95 at 95 ms for a 2 ms service: its lower edge, 0.1 s or
  0.05 s, would be above the client's p95).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import free_port
from foreign_servers import wait_ready
from real_load import Sender
from real_venvs import APPS, ensure_all, ensure_venv
from waiting import wait_until

from streamflow_tui.core.embedded import stop_process
from streamflow_tui.core.results import Snapshot
from streamflow_tui.core.scrape import ScrapeSource

RPS, FAIL_EVERY, PROBE_RPS = 20.0, 10, 2.0


@dataclass(frozen=True)
class Server:
    id: str
    venv: str  # requirements file and app module: tests/real_servers/<venv>.txt, apps/<venv>_app.py
    preset: str
    env: dict[str, str] = field(default_factory=dict)
    metrics_port: bool = False  # metrics on a second port (OpenTelemetry's Prometheus exporter)
    endpoint_label: bool = True  # False: the probes cannot be told apart, and the note must say so
    probe: str = "/health"
    post: bool = False  # /predict takes a JSON POST


SERVERS = (
    Server("starlette_exporter", "starlette_exporter", "starlette_exporter"),
    Server("starlette_prometheus", "starlette_prometheus", "starlette_prometheus"),
    Server("instrumentator", "instrumentator", "fastapi_instrumentator"),
    Server("django_prometheus", "django_prometheus", "django_prometheus"),
    Server("flask_exporter", "flask_exporter", "flask_exporter"),
    # OpenTelemetry's old HTTP conventions have no route on aiohttp's server metrics: nothing can be left out.
    Server("otel_old", "otel_aiohttp", "opentelemetry", metrics_port=True, endpoint_label=False),
    Server("otel_stable", "otel_aiohttp", "opentelemetry", {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"}, True),
    Server("bentoml", "bentoml", "bentoml", probe="/healthz", post=True),
)


@pytest.fixture(scope="module", autouse=True)
def _venvs() -> None:
    """Every virtualenv this module needs, built in parallel before the first test (cached after)."""
    ensure_all([s.venv for s in SERVERS])


@dataclass(frozen=True)
class Running:
    url: str  # the app
    metrics_base: str  # what --api-url takes: <metrics_base>/metrics


@contextmanager
def running(server: Server) -> Iterator[Running]:
    python = ensure_venv(server.venv)
    port = free_port()
    args = [str(python), str(APPS / f"{server.venv}_app.py"), str(port)]
    metrics_base = f"http://127.0.0.1:{port}"
    if server.metrics_port:
        mport = free_port()
        args.append(str(mport))
        metrics_base = f"http://127.0.0.1:{mport}"
    log = Path(tempfile.mkstemp(prefix=f"streamflow-{server.id}-", suffix=".log")[1])
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **server.env})
        try:
            wait_ready(f"http://127.0.0.1:{port}{server.probe}", proc, log, timeout=90)
            wait_ready(metrics_base + "/metrics", proc, log, timeout=30)
            yield Running(f"http://127.0.0.1:{port}", metrics_base)
        finally:
            stop_process(proc)
    log.unlink(missing_ok=True)


def observe(url: str, seconds: float) -> tuple[Snapshot, ScrapeSource]:
    """Scrape every 0.5 s until ``seconds`` lie between the first and the last scrape; the snapshot over them."""
    source = ScrapeSource(url, history_points=100)
    try:
        assert source.poll().up, source.status.error

        def long_enough() -> bool:
            assert source.poll().up, source.status.error
            return source.span_seconds() >= seconds

        wait_until(long_enough, seconds + 15, f"{seconds} s of scrapes of {url}", interval=0.5)
        return source.snapshot(source.span_seconds()), source
    finally:
        source.close()


@pytest.mark.parametrize("server", SERVERS, ids=[s.id for s in SERVERS])
def test_real_server_reads_truthfully(server: Server):
    with running(server) as app:
        with Sender(app.url + server.probe, PROBE_RPS):
            idle, _ = observe(app.metrics_base, 3.0)
            c = idle.metrics
            assert idle.api.error is None, idle.api.error
            assert c is not None and c.preset == server.preset, c.note if c else None
            if server.endpoint_label:
                assert idle.requests.rps == 0.0, (idle.requests, c.note)
                assert c.left_out, c.note  # the probe (and any counted scrape) really left out, and named
                assert "left out " + c.endpoint_label in c.note, c.note
            else:
                # No endpoint label: the probes are counted, and the note says so plainly.
                assert "self-traffic: included" in c.note, c.note
                assert idle.requests.rps == pytest.approx(PROBE_RPS, abs=0.6)

            with Sender(app.url + "/predict", RPS, FAIL_EVERY, post=server.post) as load:
                wait_until(lambda: load.sent.answered >= 5, 10, "the load under way")
                busy, _ = observe(app.metrics_base, 4.0)
            probes = 0.0 if server.endpoint_label else PROBE_RPS
            lat = busy.latency
            print(  # the figures docs/TARGETS.md records (pytest -s shows them)
                f"\n{server.id}: idle {idle.requests.rps} req/s; busy {busy.requests.rps:.2f} req/s, errors"
                f" {busy.requests.error_ratio:.3f}; p50 {lat.p50} {lat.bounds_of('p50')}, p95 {lat.p95}"
                f" {lat.bounds_of('p95')}; client p95 {load.sent.quantile(0.95):.4f}; {busy.metrics.note}"
            )
            assert load.sent.refused == 0
            r = busy.requests
            assert r.rps == pytest.approx(RPS + probes, abs=2.0), (r, busy.metrics.note)
            assert r.error_ratio == pytest.approx((RPS / FAIL_EVERY) / (RPS + probes), abs=0.035), r
            check_quantiles(busy, load.sent.quantile(0.95))


def check_quantiles(s: Snapshot, client_p95: float) -> None:
    lat = s.latency
    assert lat.p50 is not None and lat.p95 is not None, lat
    for key in ("p50", "p95", "p99"):
        value, b = getattr(lat, key), lat.bounds_of(key)
        assert b is not None, f"{key} has no bucket bounds"
        assert b.lower <= value <= b.upper, (key, value, b)
    # The server timed less than the client waited: its p95's bucket cannot start above the client's p95.
    p95 = lat.bounds_of("p95")
    assert p95 is not None and p95.lower <= client_p95, (p95, client_p95, s.metrics.note)
    if math.isfinite(p95.upper) and p95.coarse(lat.p95):
        # Everything in a bucket wider than the value: the edges are what is known, not an interpolation.
        assert p95.upper >= lat.p95


def test_once_json_carries_the_bounds_against_opentelemetry():
    server = next(s for s in SERVERS if s.id == "otel_stable")
    with running(server) as app, Sender(app.url + "/predict", RPS, FAIL_EVERY) as load:
        wait_until(lambda: load.sent.answered >= 5, 10, "the load under way")
        answered, began = load.sent.answered, time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", app.metrics_base]
            + ["--window", "3"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        # What the sender achieved while --once read (its 3 s window lies inside): on a busy machine it falls
        # behind its nominal 20/s, then catches up in a burst (22.8/s was read in a full-suite run).
        achieved = (load.sent.answered - answered) / (time.monotonic() - began)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["naming"]["preset"] == "opentelemetry" and doc["naming"]["error_label"] == "error_type"
    assert doc["naming"]["labels"]["endpoint"] == "http_route"
    assert doc["requests"]["rps"] == pytest.approx(achieved, rel=0.2), f"the sender achieved {achieved:.1f}/s"
    assert doc["requests"]["error_ratio"] == pytest.approx(0.1, abs=0.035)
    # The exceptions: empty code, error_type named; shown with the exception's type as their code.
    errors = [x for x in doc["requests"]["by_series"] if x["status"] == "error"]
    assert errors and all(x["code"] == "RuntimeError" for x in errors), errors
    bounds = doc["latency_bounds_seconds"]
    assert set(bounds) == {"p50", "p95", "p99"}
    for key, b in bounds.items():
        value = doc["latency_seconds"][key]
        assert b["lower"] <= value <= (math.inf if b["upper"] == "+Inf" else b["upper"])
        if b["coarse"] and b["lower"] == 0:
            assert b["shown"].startswith("≤ "), b  # everything in the first bucket: "≤ 5 ms", not "4.75 ms"
