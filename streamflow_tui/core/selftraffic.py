"""The service's own traffic only: the console's scrapes and the health probes are left out of every number.

The endpoint label holds paths (``/health``), route templates (``/v2/models/{name}/ready``) or view names
(django-prometheus's ``prometheus-django-metrics``, ``mysite.health``): the default exclusion matches all
three, so an idle server reads 0 req/s whatever its instrumentation calls its endpoints. The exclusion is a
matcher on the endpoint label, so the scrape source, PromQL and the console apply the same filter; the note
says what was really left out (the values seen), or plainly that nothing can be when there is no endpoint label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from .results import MetricChoice

# Monitoring endpoints as paths or route templates: the console's own scrapes, health and readiness probes
# (Kubernetes', Ray Serve's /-/healthz, Prometheus's /-/ready, Spring's /actuator/*, KServe's and MLServer's
# /v2/health/*). Left out of every number by default.
_PATHS = (
    "/metrics",
    "/health",
    "/monitoring/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/ready",
    "/-/*",
    "/actuator/*",
    "/ping",
    "/v2/health/*",
    "/v2/models/*/ready",
)
# Endpoints named rather than pathed (django's view names, gRPC method names): a name that says health,
# ready, live, ping or metrics as a word of its own (``mysite.health``, ``health_check``, ``prometheus-django-
# metrics``, ``Liveness``), not inside another word (``deliver`` stays). A path never matches: it starts with /.
VIEW_NAMES = "(?i:([^/].*[^a-z])?(health|healthz|healthcheck|ready|readiness|readyz|live|liveness|livez|ping|metrics)([^a-z].*)?)"  # noqa: E501
NAMES_GLOB = "<names saying health|ready|live|ping|metrics>"  # how the name rule shows in excluded_endpoints
DEFAULT_EXCLUDED = (*_PATHS, NAMES_GLOB)


def glob_regex(pattern: str) -> str:
    """An endpoint glob (``/monitoring/*``) as a regex both Python and Prometheus (RE2) read the same."""
    if pattern == NAMES_GLOB:
        return VIEW_NAMES
    return "".join(".*" if c == "*" else ("\\" + c if c in ".^$+?()[]{}|\\" else c) for c in pattern)


def without_endpoints(choice: MetricChoice, patterns: tuple[str, ...], catalog) -> MetricChoice:
    """The choice with the monitoring endpoints left out of every number: a matcher on the endpoint label.
    Without an endpoint label nothing can be left out, and the note says so plainly."""
    if not patterns or not choice.found:
        return choice
    label = choice.endpoint_label
    if not label:
        if choice.model_server:
            # A model server's own counters count model calls: its probes and scrapes are not in them.
            return replace(choice, note=choice.note + _CLAUSE + "not in the model server's own counters")
        return replace(
            choice,
            note=choice.note + f"; self-traffic: included — {', '.join(choice.requests_metrics)} has no endpoint"
            " label, so the health probes and the scrapes it counts are in every number",
        )
    regex = "|".join(glob_regex(p) for p in patterns)
    chosen = replace(choice, match=choice.match + ((label, "!~", regex),), excluded=patterns)
    return with_left_out(chosen, (), catalog)


def left_out_values(choice: MetricChoice, series: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> tuple[str, ...]:
    """The endpoint values of the request series the exclusion really leaves out, from (name, labels) pairs."""
    label = choice.endpoint_label
    if not choice.excluded or not label:
        return ()
    names = set(choice.requests_metrics)
    regex = re.compile("|".join(glob_regex(p) for p in choice.excluded))
    seen = set()
    for name, labels in series:
        if name in names:
            value = dict(labels).get(label, "")
            if regex.fullmatch(value):
                seen.add(value)
    return tuple(sorted(seen))


_CLAUSE = "; self-traffic: "
_CAVEAT = "; the latency ("


def with_left_out(choice: MetricChoice, values: tuple[str, ...], catalog=None) -> MetricChoice:
    """The note's self-traffic clause, naming only what was really left out (the values seen so far)."""
    label = choice.endpoint_label
    base, _, old = choice.note.partition(_CLAUSE)
    if values:
        clause = f"left out {label} {', '.join(values)}"
    else:
        clause = f"nothing left out so far (no {label} matching the exclusions seen)"
    latency = choice.latency
    if catalog is not None:
        meta = catalog.get(latency.count_metrics[0]) if latency else None
        if latency is not None and meta is not None and label not in meta.labels:
            clause += f"{_CAVEAT}{latency.metric}) has no {label} label: it includes them"
    elif _CAVEAT in old:
        clause += _CAVEAT + old.split(_CAVEAT, 1)[1]
    return replace(choice, note=base + _CLAUSE + clause, left_out=values)
