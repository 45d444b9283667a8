"""Detection: the request counter and latency family of a target no preset recognises, by the shapes HTTP
instrumentation usually has (a counter named like requests with route and code labels; a latency histogram,
summary or cumulative duration counter with the same prefix or route label)."""

from __future__ import annotations

import re

from .naming import (
    _HTTPISH_LABELS,
    _LATENCY,
    _NOT_REQUESTS,
    _REQUEST_COUNTER,
    _RUNTIME,
    CODE_LABELS,
    ENDPOINT_LABELS,
    MODEL_LABELS,
    SELF_MONITORING,
    Catalog,
    MetricNames,
    SampleMeta,
    _none,
    describe,
    env_variable,
    latency_spec,
    otel_error_label,
    pick_label,
    strip_suffix,
    unit_of,
)
from .results import CounterPart, LatencySpec, MetricChoice


def _is_counter(name: str, meta: SampleMeta) -> bool:
    return meta.type == "counter" or (meta.type in ("untyped", "unknown") and name.endswith("_total"))


def generic(names: MetricNames, catalog: Catalog) -> MetricChoice:
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
    latency, how = best_latency(catalog, requests[0].metric if requests else None, labels)
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
        error_label=otel_error_label(code),
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


def best_latency(
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
                    spec.kind == "average",  # a summary without quantiles loses to anything with percentiles
                    not (prefix and base.startswith(prefix)),
                    "highr" not in base,  # the finest buckets win (prometheus-fastapi-instrumentator's highr)
                    not endpoint_match,
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
