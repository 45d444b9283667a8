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

from .results import CounterPart, LatencySpec, MetricChoice

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
)
CODE_LABELS = ("code", "status_code", "http_response_code", "response_code", "status", "http_status")
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


def is_candidate(sample_name: str, names: MetricNames) -> bool:
    """Whether the labels of this sample name are needed to choose (cheap: the rest stay unparsed)."""
    from .presets import PRESET_METRICS

    if sample_name in PRESET_METRICS or sample_name in _configured(names):
        return True
    return bool(CANDIDATE.search(sample_name)) and not SELF_MONITORING.search(sample_name)


def _configured(names: MetricNames) -> set[str]:
    base = names.latency
    return {names.requests, base, base + "_bucket", base + "_sum", base + "_count"}


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


def choose(names: MetricNames, catalog: Catalog, *, preset: str | None = None) -> MetricChoice:
    """Pick the metrics to read from ``catalog`` (sample name -> SampleMeta)."""
    from .presets import PRESETS, match_presets

    if preset is not None:
        p = PRESETS[preset]
        choice = p.build(catalog)
        if choice is None:
            missing = ", ".join(p.signature)
            return _none(f"preset {p.id} ({p.name}): none of its metrics ({missing}) are served")
        return _apply_explicit(
            replace(choice, note=f"preset {p.id} (forced with --preset); " + choice.note), names, catalog
        )
    if names.requests in catalog:
        return _apply_explicit(_configured_choice(names, catalog), names, catalog)
    matched = match_presets(catalog)
    if matched:
        p, choice = matched[0]
        others = _generic(names, catalog)
        why = f"recognised {p.name} by {p.signature_found(catalog)}"
        if others.found and not set(others.requests_metrics) & set(choice.requests_metrics):
            why += f"; preferred over the generic {', '.join(others.requests_metrics)}"
        if len(matched) > 1:
            why += f"; also matched: {', '.join(q.id for q, _ in matched[1:])}"
        return _apply_explicit(replace(choice, note=why + "; " + choice.note), names, catalog)
    choice = _generic(names, catalog)
    if not choice.found:
        return choice
    absent = f"{names.requests} not served; " if "requests" in names.explicit else ""
    return _apply_explicit(replace(choice, note=absent + choice.note), names, catalog)


def _none(note: str) -> MetricChoice:
    return MetricChoice((), None, None, None, None, note=note)


def _configured_choice(names: MetricNames, catalog: Catalog) -> MetricChoice:
    labels = catalog[names.requests].labels
    endpoint = pick_label(labels, names.endpoint_label, () if "endpoint_label" in names.explicit else ENDPOINT_LABELS)
    code = pick_label(labels, names.code_label, () if "code_label" in names.explicit else CODE_LABELS)
    status = names.status_label if names.status_label in labels and names.status_label != code else None
    latency, how = latency_spec(catalog, names.latency)
    detected_latency = False
    if latency is None:
        latency, how = _best_latency(catalog, names.requests, labels)
        detected_latency = latency is not None
    model = pick_label(labels, names.model_label, MODEL_LABELS)
    ours = names.requests == MetricNames.requests
    return MetricChoice(
        requests=(CounterPart(names.requests),),
        latency=latency,
        endpoint_label=endpoint,
        status_label=status,
        code_label=code,
        model_label=model,
        family="StreamFlow API" if ours else "configured names",
        detected=detected_latency,
        note=describe((CounterPart(names.requests),), latency, how, endpoint, code, status, model),
    )


def _apply_explicit(choice: MetricChoice, names: MetricNames, catalog: Catalog) -> MetricChoice:
    """Flags and STREAMFLOW_* variables win over whatever was recognised."""
    e = names.explicit
    changes: dict = {}
    if "latency" in e and names.latency not in {choice.latency.metric if choice.latency else None}:
        latency, _ = latency_spec(catalog, names.latency)
        changes["latency"] = latency
    for label in ("endpoint_label", "status_label", "code_label", "model_label"):
        if label in e:
            changes[label] = getattr(names, label)
    if "status_label" in e:
        changes["errors_known"] = True
    return replace(choice, **changes) if changes else choice


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


# -- generic detection ----------------------------------------------------------------------------


def _is_counter(name: str, meta: SampleMeta) -> bool:
    return meta.type == "counter" or (meta.type in ("untyped", "unknown") and name.endswith("_total"))


def _generic(names: MetricNames, catalog: Catalog) -> MetricChoice:
    counters = [
        n
        for n, m in catalog.items()
        if _is_counter(n, m)
        and _REQUEST_COUNTER.search(strip_suffix(n) if n.endswith("_total") else n)
        and not _NOT_REQUESTS.search(n)
        and not SELF_MONITORING.search(n)
        and _httpish(n, m.labels)
    ]
    requests: tuple[CounterPart, ...] = ()
    labels: frozenset[str] = frozenset()
    errors_known = True
    if counters:
        best = min(counters, key=lambda n: _request_score(n, catalog[n].labels))
        labels = catalog[best].labels
        requests = (CounterPart(best),)
        if not any(label in labels for label in CODE_LABELS + ("outcome",)):
            pair = _failure_sibling(best, catalog)
            if pair:
                requests = (CounterPart(best, status="success"), CounterPart(pair, status="error"))
            else:
                errors_known = False
    latency, how = _best_latency(catalog, requests[0].metric if requests else None, labels)
    if not requests and latency is not None and latency.kind in ("histogram", "summary"):
        # No counter: the latency family's own count is the number of requests (KServe-style servers).
        requests = (CounterPart(latency.metric + "_count"),)
        labels = catalog[latency.metric + "_count"].labels if latency.metric + "_count" in catalog else frozenset()
        errors_known = any(label in labels for label in CODE_LABELS)
    if not requests:
        return _none(
            f"no request counter found: neither {names.requests} nor a recognised model server, nor any"
            f" *_requests_total-like counter (set --requests-metric / {env_variable('requests')}, or --preset)"
        )
    endpoint = pick_label(labels, None, ENDPOINT_LABELS)
    code = pick_label(labels, None, CODE_LABELS)
    status = "outcome" if "outcome" in labels else None
    model = pick_label(labels, None, MODEL_LABELS)
    if status is None and code is None and requests[0].status is None:
        errors_known = False
    note = describe(requests, latency, how, endpoint, code, status, model, errors_known)
    return MetricChoice(
        requests,
        latency,
        endpoint,
        status,
        code,
        model,
        errors_known=errors_known,
        family=f"detected ({requests[0].metric})",
        detected=True,
        note="detected " + note,
    )


def _httpish(name: str, labels: frozenset[str]) -> bool:
    """A family that counts or times requests to a service: not a runtime's, and named or labelled like HTTP/RPC."""
    if _RUNTIME.search(name):
        return False
    return (
        bool(re.search(r"(?i)http|request|response|_rq|rpc|grpc|inference", name) and labels & _HTTPISH_LABELS)
        or "http" in name.lower()
    )


def _request_score(name: str, labels: frozenset[str]) -> tuple:
    has_code = any(label in labels for label in CODE_LABELS + ("outcome",))
    has_route = any(label in labels for label in ENDPOINT_LABELS)
    return (not has_code, not has_route, not name.startswith("http"), "request" not in name, len(name), name)


def _failure_sibling(name: str, catalog: Catalog) -> str | None:
    stem = re.sub(r"_?(success(ful)?|ok)(_total)?$", "", name)
    if stem == name:
        return None
    for suffix in ("_failure", "_failures", "_failed", "_error", "_errors", "_fail"):
        for candidate in (stem + suffix, stem + suffix + "_total"):
            if candidate in catalog:
                return candidate
    return None


def _best_latency(
    catalog: Catalog, requests: str | None, request_labels: frozenset[str]
) -> tuple[LatencySpec | None, str]:
    bases = set()
    for n, meta in catalog.items():
        if SELF_MONITORING.search(n):
            continue
        if n.endswith("_bucket") and meta.type in ("histogram", "untyped", "unknown"):
            bases.add(n[: -len("_bucket")])
        elif meta.type == "summary" and not n.endswith(("_sum", "_count")):
            bases.add(n)
    bases = {
        b
        for b in bases
        if _LATENCY.search(b)
        and not re.search(r"(?i)bytes|size", b)
        and _httpish(b, catalog.get(b + "_count", catalog.get(b, SampleMeta())).labels)
    }
    prefix = _prefix(requests)
    # (sort key, spec, how): the key's shape differs between histograms/summaries and duration counters.
    specs: list[tuple[tuple, LatencySpec, str]] = []
    for base in bases:
        spec, how = latency_spec(catalog, base)
        if spec is None:
            continue
        labels = catalog.get(base + "_count", SampleMeta()).labels
        endpoint_match = any(label in labels for label in ENDPOINT_LABELS if label in request_labels)
        specs.append(
            (
                (
                    not (prefix and base.startswith(prefix)),
                    not endpoint_match,
                    "highr" in base,
                    unit_of(base)[0] is None,
                    spec.kind != "histogram",
                    len(base),
                    base,
                ),
                spec,
                how,
            )
        )
    if not specs and requests:
        # Cumulative duration counters (Triton's *_duration_us, TorchServe's *_latency_microseconds).
        for n, meta in catalog.items():
            if (
                _is_counter(n, meta)
                and _LATENCY.search(n)
                and unit_of(n, meta.help)[0]
                and (not prefix or n.startswith(prefix))
            ):
                unit, how = unit_of(n, meta.help)
                specs.append(((len(n), n), LatencySpec("average", n, unit=unit or "s", count=(requests,)), how))
    if not specs:
        return None, ""
    _, spec, how = min(specs, key=lambda s: s[0])
    return spec, how


def _prefix(requests: str | None) -> str:
    if not requests:
        return ""
    m = re.match(r"^([a-zA-Z0-9]+_(?:[a-zA-Z0-9]+_)?)", requests)
    stem = re.sub(r"(requests?|responses?)(_total)?$", "", strip_suffix(requests))
    return stem or (m.group(1) if m else "")


# Monitoring endpoints: the console's own scrapes, health and readiness probes (Kubernetes', Ray Serve's
# /-/healthz, Prometheus's /-/ready, Spring's /actuator/*). Left out of every number by default.
DEFAULT_EXCLUDED = (
    "/metrics",
    "/health",
    "/monitoring/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/ready",
    "/-/*",
    "/actuator/*",
)


def glob_regex(pattern: str) -> str:
    """An endpoint glob (``/monitoring/*``) as a regex both Python and Prometheus (RE2) read the same."""
    return "".join(".*" if c == "*" else ("\\" + c if c in ".^$+?()[]{}|\\" else c) for c in pattern)


def without_endpoints(choice: MetricChoice, patterns: tuple[str, ...], catalog: Catalog) -> MetricChoice:
    """The choice with the monitoring endpoints (the console's own scrapes, health checks) left out of
    every number: a matcher on the endpoint label, so both sources and PromQL apply the same filter."""
    label = choice.endpoint_label
    if not patterns or not label or not choice.found:
        return choice
    regex = "|".join(glob_regex(p) for p in patterns)
    note = choice.note + f"; left out: {label} {' '.join(patterns)}"
    latency = catalog.get(choice.latency.count_metrics[0]) if choice.latency else None
    if latency is not None and label not in latency.labels:
        note += f" (not from the latency, which has no {label} label)"
    return replace(choice, match=choice.match + ((label, "!~", regex),), excluded=patterns, note=note)


def derive_status(code: str | None) -> str:
    """success/error from a status code such as "404", "5xx" or a class digit, for services without a status label."""
    return "error" if code and code[:1] in ("4", "5") else "success"


def status_of(value: str | None) -> str | None:
    """A status label's value as success/error (ours: success/error; Micrometer's outcome: CLIENT_ERROR…)."""
    if value is None:
        return None
    return "error" if value.lower() in ERROR_STATUS_VALUES else "success"
