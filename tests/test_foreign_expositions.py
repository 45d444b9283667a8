"""Every model server and web framework of tests/fixtures/expositions is read with no flags.

Each case is served by a real uvicorn server (gzipped, as prometheus-client's own
handlers serve it) in two states; the console's scrape source reads both and
its numbers are checked against what the two states imply, computed here
independently: plain sums of deltas, and a textbook linear interpolation in
the histogram buckets.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from exposition_server import exposition_server
from prometheus_client.parser import text_string_to_metric_families

from streamflow_tui.core.report import naming_json
from streamflow_tui.core.scrape import ScrapeSource

FIXTURES = Path(__file__).parent / "fixtures" / "expositions"
CASES = sorted(p.stem for p in FIXTURES.glob("*.json"))
UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
# The monitoring endpoints as paths or route templates, and as names (django's view names): a name that says
# health, ready, live, ping or metrics as a word of its own.
MONITORING = re.compile(
    r"/metrics|/health|/monitoring/.*|/healthz|/livez|/readyz|/ready|/-/.*|/actuator/.*|/ping|/v2/health/.*"
    r"|/v2/models/.*/ready"
    r"|(?i:([^/].*[^a-z])?(health|healthz|healthcheck|ready|readiness|readyz|live|liveness|livez|ping|metrics)([^a-z].*)?)"
)


def load(case: str) -> tuple[dict, str, str]:
    spec = json.loads((FIXTURES / f"{case}.json").read_text())
    return spec, (FIXTURES / f"{case}.1.prom").read_text(), (FIXTURES / f"{case}.2.prom").read_text()


def samples(text: str) -> dict[tuple, float]:
    """Every sample by the name the target serves (the text parser adds _total to counters that lack it)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            served = s.name
            if family.type == "counter" and s.name == family.name + "_total" and f"\n{s.name}" not in text:
                served = family.name
            out[(served, tuple(sorted(s.labels.items())))] = s.value
    return out


def delta(a: dict, b: dict, keep) -> float:
    return sum(v - a.get(k, 0.0) for k, v in b.items() if keep(k[0], dict(k[1])))


def textbook_quantile(q: float, cumulative: list[tuple[float, float]]) -> float:
    """Linear interpolation inside the bucket holding rank q·n; the +Inf bucket answers its lower bound."""
    cumulative = sorted(cumulative)
    total = cumulative[-1][1]
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in cumulative:
        if count >= rank:
            if math.isinf(le):
                return lower_le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    raise AssertionError("no bucket holds the rank")


def kept(spec: dict, d: dict) -> dict:
    """The series the console reads: the stack's own filter (Istio's destination reporter…), and not the
    monitoring endpoints (the console's own scrapes, health probes), which are left out everywhere."""
    if spec.get("series_filter"):
        f = spec["series_filter"]
        d = {k: v for k, v in d.items() if re.search(f["match"], dict(k[1]).get(f["label"], ""))}
    endpoint = spec["endpoint_label"]
    if endpoint and any(name in spec["requests"] and endpoint in dict(labels) for name, labels in d):
        d = {k: v for k, v in d.items() if not MONITORING.fullmatch(dict(k[1]).get(endpoint, ""))}
    return d


def expected(spec: dict, first: str, second: str, span_s: float) -> dict:
    a, b = kept(spec, samples(first)), kept(spec, samples(second))
    requests = set(spec["requests"])
    n = delta(a, b, lambda name, _: name in requests)
    errors = spec["errors"]
    if errors is None:
        bad = None
    elif "metrics" in errors:
        bad = delta(a, b, lambda name, _: name in set(errors["metrics"]))
    else:
        bad = delta(
            a,
            b,
            lambda name, lab: name in requests and re.search(errors["match"], lab.get(errors["label"], "")) is not None,
        )
    out = {"rps": n / span_s, "error_ratio": None if bad is None else bad / n}
    lat = spec["latency"]
    scale = UNIT[lat["unit"]]
    only = lat.get("series_filter")  # the latency family's own filter (MLServer: the inference route)

    def timed(labels: tuple) -> bool:
        return not only or re.search(only["match"], dict(labels).get(only["label"], "")) is not None

    if lat["kind"] == "histogram":
        by_le: dict[float, float] = {}
        for (name, labels), value in b.items():
            if name == lat["metric"] + "_bucket" and timed(labels):
                le = float(dict(labels)["le"])
                by_le[le] = by_le.get(le, 0.0) + value - a.get((name, labels), 0.0)
        buckets = sorted(by_le.items())
        out["p50"] = textbook_quantile(0.5, buckets) * scale
        out["p95"] = textbook_quantile(0.95, buckets) * scale
    elif lat["kind"] == "summary":
        for key, q in (("p50", "0.5"), ("p95", "0.95")):
            values = [
                v for (name, labels), v in b.items() if name == lat["metric"] and dict(labels).get("quantile") == q
            ]
            out[key] = values[0] * scale if len(values) == 1 else None
    if lat["kind"] == "average" or lat.get("sum"):
        total_name = lat["sum"] or lat["metric"] + "_sum"
        counts = lat["count"] if isinstance(lat["count"], list) else [lat["count"] or lat["metric"] + "_count"]
        out["avg"] = (
            delta(a, b, lambda name, _: name == total_name) / delta(a, b, lambda name, _: name in counts) * scale
        )
    else:
        total = delta(a, b, lambda name, lab: name == lat["metric"] + "_sum" and timed(tuple(lab.items())))
        count = delta(a, b, lambda name, lab: name == lat["metric"] + "_count" and timed(tuple(lab.items())))
        out["avg"] = total / count * scale if count else None
    return out


@pytest.fixture(scope="module")
def server():
    with exposition_server(gzip=True) as s:
        yield s


@pytest.mark.parametrize("case", CASES)
def test_recognised_with_no_flags(case, server):
    spec, first, second = load(case)
    server.set(case, first)
    source = ScrapeSource(server.target(case), history_points=10)
    try:
        assert source.poll().up, source.status.error
        time.sleep(0.05)  # deliberately: two distinct scrape times; the rate is over whatever span they have
        server.set(case, second)
        status = source.poll()
        assert status.up and status.error is None, status.error
        span = source.span_seconds()
        snap = source.snapshot(span)
        if spec.get("update_period_seconds"):
            # Published in steps (Ray Serve): two scrapes cannot tell a step from a rate, so no rate is given…
            u = snap.counter_updates
            assert u is not None and u.period_s == spec["update_period_seconds"] and u.how == "preset"
            assert snap.requests.rps is None and u.window_s is None, (snap.requests, u)
            # …and the rate arithmetic below is checked as if the counters moved continuously.
            source._choice = replace(source._choice, update_period_s=None)
            snap = source.snapshot(span)
    finally:
        source.close()
    choice = snap.metrics
    want = expected(spec, first, second, span)
    assert choice.preset == spec["preset"], choice.note
    assert set(choice.requests_metrics) == set(spec["requests"]), choice.note
    assert choice.latency is not None and choice.latency.metric == (
        spec["latency"]["sum"] if spec["latency"]["kind"] == "average" else spec["latency"]["metric"]
    ), choice.note
    assert choice.latency.unit == spec["latency"]["unit"]
    on_requests = spec["model_label"] and any(
        name in spec["requests"] and spec["model_label"] in dict(labels) for name, labels in samples(second)
    )
    assert choice.model_label == (spec["model_label"] if on_requests else None), choice.note
    assert snap.requests.rps == pytest.approx(want["rps"], rel=1e-6)
    if want["error_ratio"] is None:
        assert snap.requests.error_ratio is None and not choice.errors_known
    else:
        assert snap.requests.error_ratio == pytest.approx(want["error_ratio"], rel=1e-6, abs=1e-12)
    for key in ("p50", "p95", "avg"):
        if key in want:
            got = getattr(snap.latency, key)
            assert (got is None) == (want[key] is None), (key, got, want[key])
            if want[key] is not None:
                assert got == pytest.approx(want[key], rel=1e-6), key
    if on_requests:
        endpoint = spec["endpoint_label"] or "-"
        models = {
            dict(labels)[spec["model_label"]]
            for name, labels in samples(second)
            if name in spec["requests"] and not MONITORING.fullmatch(dict(labels).get(endpoint, ""))
        }
        assert {x.model for x in snap.requests.by_series} == models, "one row set per model"
        histogram_models = any(
            name == f"{spec['latency']['metric']}_bucket" and spec["model_label"] in dict(labels)
            for name, labels in samples(second)
        )
        if spec["latency"]["kind"] == "histogram" and not spec["endpoint_label"] and histogram_models:
            assert {e for e, _ in snap.latency_by_endpoint} == models, "a p95 per model for the table"
    naming = naming_json(choice)
    assert naming["preset"] == spec["preset"] and naming["latency"]["unit"] == spec["latency"]["unit"]
    assert server.encodings[-1] == "gzip"  # read through compression, like every real target


def test_every_fixture_names_its_source():
    for case in CASES:
        spec, first, second = load(case)
        for text in (first, second):
            assert text.startswith("# source: "), case
        assert spec["id"] == case and spec["source"]
