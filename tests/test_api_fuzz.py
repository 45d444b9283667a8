"""Schema-driven fuzzing of the real API (streamflow-api under uvicorn on a loopback port): schemathesis
reads /openapi.json and sends what it generates from it, valid and invalid (``modes`` positive and
negative), through its examples, coverage (boundary values, each constraint broken in turn, undeclared
methods and content types) and fuzzing phases, and holds every answer to every check it has.

What the checks hold the API to: no 5xx; every status code, content type and body is the one the schema
declares for it; data the schema allows is accepted (2xx, or a 404 for an unknown id) and data it forbids
is rejected (4xx); an undeclared method is a 405 with Allow; a body in an undeclared media type is a 415.

Bounded for CI: 50 generated cases per operation and mode, derandomized (the same cases on every run), no
shrinking; the coverage phase adds its fixed set of cases. ~20-30 s on a busy 2-core machine.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from conftest import running_api
from metrics_text import samples, total
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import ChecksConfig

MAX_EXAMPLES = 50
RESPONSE_TIME_LIMIT_S = 10.0  # schemathesis's default limit; a busy 2-core machine is far below it

# Checks that run on every case but find nothing to check in this API, and why (each still runs: a new route
# that gives them something to check is checked).
INAPPLICABLE = {
    # Both need an operation that creates a resource and one that reads or deletes it by id (OpenAPI links or
    # a path parameter): the API has neither, every route is a fixed path.
    "use_after_free": "no resource is created and then addressed by id",
    "ensure_resource_availability": "no resource is created and then addressed by id",
    # Both need a declared security scheme: the API has none (its private routes are loopback-only, and the
    # fuzzer connects from loopback, where they answer).
    "ignored_auth": "no security scheme is declared",
    "object_level_authorization": "no security scheme is declared",
    # Needs a declared required header parameter: the API declares none.
    "missing_required_header": "no route declares a required header",
    # Compares the headers an answer has with those its response declares: none declares any (the Allow of a 405
    # is checked by unsupported_method and allow_header_conformance, which do apply).
    "response_headers_conformance": "no response declares headers",
}


@pytest.fixture(scope="module")
def fuzzed_api():
    with running_api() as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(fuzzed_api):
    schema = schemathesis.openapi.from_url(fuzzed_api + "/openapi.json")
    config = schema.config
    config.update(base_url=fuzzed_api, request_timeout=30)
    config.generation.update(
        modes=list(schemathesis.GenerationMode),  # positive and negative: `--mode all`
        max_examples=MAX_EXAMPLES,
        deterministic=True,  # derandomized: a red run always means the change
        no_shrink=True,
        database="none",
    )
    # Stateful is left out: it chains operations through links, and the API has none (see below).
    config.phases.update(phases=["examples", "coverage", "fuzzing"])
    config.checks.update(included_check_names=["all"], max_response_time=RESPONSE_TIME_LIMIT_S)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_answer_conforms_to_the_schema(case):
    # No `checks=`: the default is what the config enabled, which test_every_check_is_enabled says is all.
    case.call_and_validate()


def test_every_check_is_enabled():
    """All of schemathesis's checks run on every case (none left out without saying so above)."""
    load_all_checks()
    names = set(CHECKS.get_all_names())
    config = ChecksConfig()
    config.update(included_check_names=["all"], max_response_time=RESPONSE_TIME_LIMIT_S)
    assert {n for n in names if config.get_by_name(name=n).enabled} == names
    assert config.max_response_time.enabled and config.max_response_time.limit == RESPONSE_TIME_LIMIT_S
    assert set(INAPPLICABLE) <= names


def test_what_the_inapplicable_checks_need_is_absent(api_schema):
    """The reasons INAPPLICABLE gives hold for the schema as served; when one stops holding, that check has
    something to check and this test says the comment above is out of date. The same absence of links is why
    the stateful phase (which chains operations through links) is not in the run: it has no transition."""
    doc = api_schema.raw_schema
    operations = [op for path in doc["paths"].values() for op in path.values()]
    assert len(operations) >= 8
    assert not any("{" in path for path in doc["paths"]), "a path parameter: use_after_free now applies"
    assert not any("links" in r for op in operations for r in op["responses"].values())
    assert "securitySchemes" not in doc.get("components", {}) and "security" not in doc
    assert not any(p.get("in") == "header" and p.get("required") for op in operations for p in op.get("parameters", []))
    assert not any("headers" in r for op in operations for r in op["responses"].values())


def test_the_fuzzer_reached_every_route_with_good_and_bad_input(fuzzed_api):
    """After the run above (same server; pytest runs a file's tests in order, so run the file, not this test
    alone): its requests arrived, valid and invalid ones, and were answered with the codes the contract names,
    never a 5xx. Guards against a run that quietly generates nothing."""
    text = httpx.get(fuzzed_api + "/metrics", timeout=10).text
    m = samples(text)
    req = "api_requests_total"
    for endpoint in ("/predict", "/predict/batch", "/feedback"):
        assert total(m, req, endpoint=endpoint) >= MAX_EXAMPLES, endpoint
        assert total(m, req, endpoint=endpoint, code="200") > 0, endpoint
        assert total(m, req, endpoint=endpoint, code="422") > 0, endpoint
        assert total(m, req, endpoint=endpoint, code="415") > 0, endpoint  # the undeclared content type probes
    assert total(m, req, endpoint="/predict", code="404") > 0  # a valid but unknown user_id
    assert total(m, req, code="405") > 0  # the undeclared method probes
    assert sum(v for (n, labels), v in m.items() if n == req and dict(labels)["code"].startswith("5")) == 0
