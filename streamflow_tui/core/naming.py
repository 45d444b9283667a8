"""Which metrics and labels to read: ours by default, configurable, or detected.

The console watches our API out of the box, any service when told the names
(flags or STREAMFLOW_* variables), and falls back to the common HTTP
instrumentation conventions when our names are absent: a counter ending in
``_requests_total`` (prometheus-fastapi-instrumentator, starlette-exporter,
client_golang's promhttp examples…) and a ``*_duration_seconds`` or
``*_latency_seconds`` histogram, with the usual route and status labels.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from typing import Mapping

from .results import MetricChoice

ENDPOINT_LABELS = ("endpoint", "handler", "path_template", "route", "path", "url_rule", "uri", "url")
CODE_LABELS = ("code", "status_code", "status")
LATENCY_BUCKET = re.compile(r"^(?P<base>.+_(?:duration|latency)_seconds)_bucket$")
ENV_PREFIX = "STREAMFLOW_"
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class MetricNames:
    requests: str = "api_requests_total"
    latency: str = "api_request_latency_seconds"
    endpoint_label: str = "endpoint"
    status_label: str = "status"
    code_label: str = "code"
    predictions: str = "api_predictions_total"
    probability: str = "api_prediction_probability"
    model_info: str = "api_model_info"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            pattern = LABEL_NAME if f.name.endswith("_label") else METRIC_NAME
            if not pattern.fullmatch(value):
                raise ValueError(f"{f.name.replace('_', ' ')} {value!r} is not a valid Prometheus name")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str | None) -> "MetricNames":
        """Defaults, then STREAMFLOW_REQUESTS_METRIC-style variables, then explicit overrides (flags)."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            if env.get(env_variable(f.name)):
                values[f.name] = env[env_variable(f.name)]
        values.update({k: v for k, v in overrides.items() if v})
        return replace(cls(), **values)


def env_variable(field_name: str) -> str:
    return ENV_PREFIX + (field_name.upper() if field_name.endswith("_label") else field_name.upper() + "_METRIC")


def choose(names: MetricNames, available: Mapping[str, frozenset[str]]) -> MetricChoice:
    """Pick the metrics to read from ``available`` (sample name -> label names seen on it)."""
    requests, latency = names.requests, names.latency
    detected = False
    if requests not in available:
        candidates = sorted(n for n in available if n.endswith("_requests_total"))
        requests = _best_requests(candidates, available)
        detected = requests is not None
    if latency + "_bucket" not in available:
        latency = _best_latency(available, requests)
        detected = detected or latency is not None

    if requests is None:
        note = (
            f"no request counter found: neither {names.requests} nor any *_requests_total"
            f" (set --requests-metric / {env_variable('requests')})"
        )
        return MetricChoice(None, latency, None, None, None, detected, note)

    labels = available[requests]
    if not detected and {names.endpoint_label, names.code_label} <= labels:
        endpoint_label, code_label = names.endpoint_label, names.code_label
        status_label = names.status_label if names.status_label in labels else None
    else:
        endpoint_label = next((l for l in (names.endpoint_label, *ENDPOINT_LABELS) if l in labels), None)
        code_label = next((l for l in (names.code_label, *CODE_LABELS) if l in labels), None)
        status_label = names.status_label if names.status_label in labels and names.status_label != code_label else None

    parts = [f"requests: {requests}"]
    parts.append(f"latency: {latency}" if latency else "latency: none found (no *_duration_seconds / *_latency_seconds histogram)")
    parts.append(f"labels: endpoint={endpoint_label or '-'} code={code_label or '-'} status={status_label or '(from code)'}")
    note = ("detected " if detected else "") + "; ".join(parts)
    return MetricChoice(requests, latency, endpoint_label, status_label, code_label, detected, note)


def _best_requests(candidates: list[str], available: Mapping[str, frozenset[str]]) -> str | None:
    if not candidates:
        return None

    def score(name: str) -> tuple:
        labels = available[name]
        has_code = any(l in labels for l in CODE_LABELS)
        has_route = any(l in labels for l in ENDPOINT_LABELS)
        return (not has_code, not has_route, name)

    return min(candidates, key=score)


def _best_latency(available: Mapping[str, frozenset[str]], requests: str | None) -> str | None:
    bases = sorted(m.group("base") for n in available if (m := LATENCY_BUCKET.match(n)))
    if not bases:
        return None
    prefix = requests[: -len("_requests_total")] if requests else ""
    # http_requests_total goes with http_request_duration_seconds.
    return min(bases, key=lambda b: (not (prefix and b.startswith(prefix)), b))


def derive_status(code: str | None) -> str:
    """success/error from a status code such as "404" or "5xx", for services without a status label."""
    return "error" if code and code[:1] in ("4", "5") else "success"
