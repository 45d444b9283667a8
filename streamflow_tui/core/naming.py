"""Which metrics and labels to read: ours by default, configurable, a named preset, or detected.

The console watches our API out of the box, any service when told the names
(flags or STREAMFLOW_* variables), the common model servers and web frameworks
by a preset (``presets``: recognised by their own metric names, or forced with
``--preset``), and anything else by the shapes HTTP instrumentation usually has:
a request counter with route and status labels, and a latency histogram,
summary or cumulative duration counter whose unit is in its name or HELP text.

Everything here works on a *catalog*: sample name -> what is known of it (type,
HELP, label names). The scrape source builds it from the exposition's metadata,
the Prometheus source from its metadata and label APIs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from .results import LatencySpec, MetricChoice
from .selftraffic import DEFAULT_EXCLUDED, glob_regex, without_endpoints

__all__ = ["DEFAULT_EXCLUDED", "glob_regex", "without_endpoints"]  # re-exported: they lived here

ENDPOINT_LABELS = (
    "endpoint",
    "handler",
    "path_template",
    "route",
    "path",
    "url_rule",
    "uri",
    "url",
    "view",
    "service",
    "destination_service",
    "api",
    "method_name",
    "http_route",  # OpenTelemetry's HTTP semantic conventions (both eras)
    "http_target",
)
CODE_LABELS = (
    "code",
    "status_code",
    "http_response_code",
    "response_code",
    "status",
    "http_status",
    "http_response_status_code",  # OpenTelemetry, stable HTTP conventions
    "http_status_code",  # OpenTelemetry, the old ones
)
# OpenTelemetry's stable conventions: a request that ended in an unhandled exception has no status code and
# its exception's type in error_type.
ERROR_LABELS = ("error_type",)
MODEL_LABELS = ("model_name", "model", "model_id", "deployment")
ERROR_STATUS_VALUES = frozenset(
    {"error", "errors", "failure", "failed", "fail", "client_error", "server_error", "exception"}
)
ENV_PREFIX = "STREAMFLOW_"
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# Families that count the monitoring itself, never the service's traffic.
SELF_MONITORING = re.compile(r"^(promhttp_metric_handler_|prometheus_target_|scrape_|up$)")
# Names worth reading the labels of when looking for a request counter or a latency family.
CANDIDATE = re.compile(r"(?i)(request|response|_rq|requests|duration|latency|_time|inference|http)")
_REQUEST_COUNTER = re.compile(
    r"(?i)(requests?|responses?|_rq)(_count|_total|_success|_failure)*$|requests?_total_by|responses_total_by"
)
_NOT_REQUESTS = re.compile(
    r"(?i)(in_progress|inprogress|in_flight|inflight|bytes|size|exception|duration|latency|seconds|_time|_created|active|pending|running|waiting|queue)"
)
# Runtimes and host exporters: their "requests" and "durations" are disks, GC pauses and syscalls.
_RUNTIME = re.compile(r"^(go_|process_|python_|jvm_|nodejs_|dotnet_|node_|system_|jetty_threads|hikaricp_)")
_HTTPISH_LABELS = frozenset(ENDPOINT_LABELS + CODE_LABELS + ("method", "outcome"))
_LATENCY = re.compile(r"(?i)(duration|latency|_time\b|_time_|response_time|processing_time)")
_UNIT_SUFFIXES = (
    ("_seconds", "s"),
    ("_milliseconds", "ms"),
    ("_ms", "ms"),
    ("_microseconds", "us"),
    ("_us", "us"),
    ("_nanoseconds", "ns"),
    ("_ns", "ns"),
)
_UNIT_HELP = (
    (re.compile(r"(?i)\bmilliseconds?\b|\(ms\)|\bin ms\b"), "ms"),
    (re.compile(r"(?i)\bmicroseconds?\b|\((us|µs)\)|\bin (us|µs)\b"), "us"),
    (re.compile(r"(?i)\bnanoseconds?\b|\(ns\)"), "ns"),
    (re.compile(r"(?i)\bseconds?\b|\(s\)"), "s"),
)


@dataclass(frozen=True)
class SampleMeta:
    """What a catalog knows of one sample name."""

    type: str = "untyped"  # the family's TYPE: counter, gauge, histogram, summary, untyped
    help: str = ""
    labels: frozenset[str] = frozenset()
    declared_only: bool = False  # announced by HELP/TYPE with no series yet (a model server before its first call)


Catalog = Mapping[str, SampleMeta]


@dataclass(frozen=True)
class MetricNames:
    requests: str = "api_requests_total"
    latency: str = "api_request_latency_seconds"
    endpoint_label: str = "endpoint"
    status_label: str = "status"
    code_label: str = "code"
    model_label: str = "model_name"
    predictions: str = "api_predictions_total"
    probability: str = "api_prediction_probability"
    model_info: str = "api_model_info"
    labelled: str = "api_labelled_predictions_total"
    labelled_probability: str = "api_labelled_probability"
    reference_probability: str = "api_reference_probability"  # the training month's scores, observed once at start
    # Fields the user set (flag or environment): those override a preset's or detection's choice.
    explicit: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "explicit":
                continue
            value = getattr(self, f.name)
            pattern = LABEL_NAME if f.name.endswith("_label") else METRIC_NAME
            if not pattern.fullmatch(value):
                raise ValueError(f"{f.name.replace('_', ' ')} {value!r} is not a valid Prometheus name")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str | None) -> MetricNames:
        """Defaults, then STREAMFLOW_REQUESTS_METRIC-style variables, then explicit overrides (flags)."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            if f.name != "explicit" and env.get(env_variable(f.name)):
                values[f.name] = env[env_variable(f.name)]
        values.update({k: v for k, v in overrides.items() if v})
        return replace(cls(), explicit=frozenset(values), **values)


def env_variable(field_name: str) -> str:
    return ENV_PREFIX + (field_name.upper() if field_name.endswith("_label") else field_name.upper() + "_METRIC")


# -- units ------------------------------------------------------------------------------------------


def strip_suffix(name: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count", "_max"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unit_of(name: str, help_text: str = "") -> tuple[str | None, str]:
    """(unit, how it was found) for a latency family: from the name, else its HELP text, else None."""
    base = strip_suffix(name)
    for suffix, unit in _UNIT_SUFFIXES:
        if base.endswith(suffix) or suffix + "_" in base:
            return unit, f"from the name ({suffix[1:]})"
    for pattern, unit in _UNIT_HELP:
        if pattern.search(help_text):
            return unit, "from its HELP text"
    return None, "not in the name or HELP"


# -- the choice -------------------------------------------------------------------------------------


def latency_spec(catalog: Catalog, base: str, default_unit: str | None = None) -> tuple[LatencySpec | None, str]:
    """A latency spec for the family ``base`` (histogram, summary or duration counter), and how its unit was found."""
    if base + "_bucket" in catalog:
        spec, meta = LatencySpec("histogram", base), catalog[base + "_bucket"]
    elif base in catalog and "quantile" in catalog[base].labels:
        spec, meta = LatencySpec("summary", base), catalog[base]
    elif base + "_sum" in catalog and base + "_count" in catalog:
        # A summary without quantiles (Micrometer's default): an average, and its _max gauge if served.
        spec = LatencySpec(
            "average",
            base + "_sum",
            count=(base + "_count",),
            max_metric=base + "_max" if base + "_max" in catalog else None,
        )
        meta = catalog[base + "_sum"]
    else:
        return None, ""
    unit, how = unit_of(base, meta.help)
    return replace(spec, unit=unit or default_unit or "s"), how if unit else _assumed(default_unit)


def _assumed(default_unit: str | None) -> str:
    return "as the preset documents it" if default_unit else "assumed seconds (not in the name or HELP)"


def pick_label(labels: frozenset[str], preferred: str | None, candidates: tuple[str, ...]) -> str | None:
    return next((label for label in ((preferred,) if preferred else ()) + candidates if label in labels), None)


def _none(note: str) -> MetricChoice:
    return MetricChoice((), None, None, None, None, note=note)


def describe(requests, latency, how, endpoint, code, status, model, errors_known=True) -> str:
    parts = ["requests: " + " + ".join(p.metric for p in requests)]
    if latency:
        parts.append(f"latency: {latency.metric} ({latency.kind}, {latency.unit} {how})".replace(" )", ")"))
    else:
        parts.append("latency: none found")
    status_text = status or ("(from code)" if code else "(none)")
    parts.append(f"labels: endpoint={endpoint or '-'} code={code or '-'} status={status_text} model={model or '-'}")
    if not errors_known:
        parts.append("errors: not counted by the target")
    return "; ".join(parts)


def otel_error_label(code: str | None) -> str | None:
    """OpenTelemetry's error label where the code label is OpenTelemetry's: there an empty code is a request
    that raised (the stable conventions also name the exception in error_type; the old ones leave it empty)."""
    return ERROR_LABELS[0] if code in ("http_response_status_code", "http_status_code") else None


def derive_status(code: str | None) -> str:
    """success/error from a status code such as "404", "5xx" or a class digit, for services without a status label."""
    return "error" if code and code[:1] in ("4", "5") else "success"


def status_of(value: str | None) -> str | None:
    """A status label's value as success/error (ours: success/error; Micrometer's outcome: CLIENT_ERROR…)."""
    if value is None:
        return None
    return "error" if value.lower() in ERROR_STATUS_VALUES else "success"
