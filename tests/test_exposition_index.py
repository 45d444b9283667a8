"""The indexed exposition hands prometheus-client's parser only the wanted families, and the values
it returns for them are exactly the full parse's (differential test on synthetic and real bodies)."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_exposition import large_exposition

from streamflow_tui.core.choice import is_candidate
from streamflow_tui.core.exposition import Exposition, ScrapeError, parse_body
from streamflow_tui.core.naming import MetricNames

FIXTURES = Path(__file__).parent / "fixtures" / "expositions"
TEXT = "text/plain; version=0.0.4"
OM = "application/openmetrics-text; version=1.0.0"
WANTED = {
    "api_requests_total",
    "api_request_latency_seconds_bucket",
    "api_request_latency_seconds_sum",
    "api_request_latency_seconds_count",
}


def subset(samples: dict, names: set[str]) -> dict:
    return {k: v for k, v in samples.items() if k[0] in names}


@pytest.mark.parametrize("content_type, openmetrics", [(TEXT, False), (OM, True)])
def test_wanted_families_equal_the_full_parse(content_type, openmetrics):
    body = large_exposition(20_000, openmetrics=openmetrics).encode()
    full = parse_body(body, content_type)
    exposition = Exposition.parse(body, content_type)
    part = exposition.samples(WANTED)
    assert len(full) >= 20_000
    assert part == subset(full, WANTED) and len(part) == 23
    # Only the wanted families were handed to the parser: nothing else came back.
    assert {k[0] for k in part} <= WANTED


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.prom")))
def test_candidate_families_of_real_expositions_equal_the_full_parse(fixture):
    body = (FIXTURES / fixture).read_bytes()
    exposition = Exposition.parse(body, TEXT)
    names = MetricNames()
    wanted = {n for n in exposition.sample_names() if is_candidate(n, names)}
    full = exposition.samples()  # the whole body through the parser, served names kept
    assert exposition.samples(wanted) == subset(full, wanted | {k[0] for k in exposition.samples(wanted)})
    assert wanted, "every fixture has request-like families"


def test_a_body_without_metadata_is_parsed_whole():
    body = b'http_requests_total{code="200"} 3\nother_metric 1\n'
    exposition = Exposition.parse(body, TEXT)
    assert not exposition.families
    assert exposition.samples({"http_requests_total"}) == parse_body(body, TEXT)


def test_metadata_repeated_for_a_family_falls_back_to_the_full_parser():
    body = b"# TYPE a counter\na 1\n# TYPE b gauge\nb 2\n# TYPE a counter\na 3\n"
    exposition = Exposition.parse(body, TEXT)
    with pytest.raises(ScrapeError):
        exposition.samples({"a"})  # the full parser's verdict on a body Prometheus rejects too
