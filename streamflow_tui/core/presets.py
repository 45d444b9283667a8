"""Named presets: how the common model servers and web frameworks count requests and time them.

Each preset is written from the project's own source (the fixture under
``tests/fixtures/expositions/<id>.1.prom`` names the file it follows). A preset
is recognised when one of its signature metrics is served; model servers are
tried before web frameworks, so a vLLM that also serves
prometheus-fastapi-instrumentator's ``http_requests_total`` is read as vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass

from .naming import Catalog, describe, latency_spec, pick_label
from .results import CounterPart, LatencySpec, MetricChoice

LatencyOption = str | LatencySpec  # a histogram/summary base (unit from name/HELP), or a full spec


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    kind: str  # "model_server" | "framework"
    signature: tuple[str, ...]  # sample names, any of which identifies the stack (optionally "name{label}")
    requests: tuple[tuple[CounterPart, ...], ...]  # alternatives: the first whose first counter is served
    latency: tuple[LatencyOption, ...] = ()  # alternatives: the first that is served
    unit: str | None = None  # the unit the stack documents where neither name nor HELP says it
    endpoint: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    errors_known: bool = True
    match: tuple[tuple[str, str, str], ...] = ()  # (label, PromQL op, value): only the series the preset's stack means
    needs: tuple[str, ...] = ()  # sample names that must all be served too
    error: str | None = None  # a label naming the failure when the code is empty (OpenTelemetry's error_type)
    update_period_s: float | None = None  # the server publishes its counters in steps this often
    remark: str = ""  # what a user should know (shown in the note)

    def recognised(self, catalog: Catalog) -> bool:
        return bool(self.signature_found(catalog))

    def signature_found(self, catalog: Catalog) -> str:
        if any(n not in catalog for n in self.needs):
            return ""
        for entry in self.signature:
            name, _, label = entry.partition("{")
            label = label.rstrip("}")
            if name in catalog and (not label or label in catalog[name].labels):
                return entry
        return ""

    def build(self, catalog: Catalog) -> MetricChoice | None:
        parts = next((alt for alt in self.requests if alt and alt[0].metric in catalog), None)
        if parts is None:
            return None
        parts = tuple(p for p in parts if p.metric in catalog)
        labels = frozenset().union(*(catalog[p.metric].labels for p in parts))
        latency, how = None, ""
        for option in self.latency:
            if isinstance(option, LatencySpec):
                if option.sum_metric in catalog:
                    latency, how = option, "as the preset documents it"
                    break
            else:
                latency, how = latency_spec(catalog, option, self.unit)
                if latency is not None:
                    break
        endpoint = pick_label(labels, None, self.endpoint)
        code = pick_label(labels, None, self.code)
        status = pick_label(labels, None, self.status)
        model = pick_label(labels, None, self.model)
        errors_known = self.errors_known and bool(code or status or any(p.status or p.code for p in parts))
        note = describe(parts, latency, how, endpoint, code, status, model, errors_known)
        if self.remark:
            note += "; " + self.remark
        return MetricChoice(
            parts,
            latency,
            endpoint,
            status,
            code,
            model,
            errors_known=errors_known,
            error_label=self.error,
            update_period_s=self.update_period_s,
            match=self.match,
            preset=self.id,
            model_server=self.kind == "model_server",
            family=self.name,
            note=note,
        )


def _c(*metrics: str) -> tuple[CounterPart, ...]:
    return tuple(CounterPart(m) for m in metrics)


def _pair(success: str, failure: str) -> tuple[CounterPart, ...]:
    return (CounterPart(success, status="success"), CounterPart(failure, status="error"))


# Model servers first: they often serve a web framework's metrics beside their own.
PRESET_LIST: tuple[Preset, ...] = (
    Preset(
        "vllm",
        "vLLM",
        "model_server",
        ("vllm:request_success_total",),
        requests=(_c("vllm:request_success_total"),),
        latency=("vllm:e2e_request_latency_seconds",),
        status=("finished_reason",),
        model=("model_name",),
        remark="every request the engine finishes, by finished_reason (error = failed; abort = client gone, not an error);"
        " requests rejected before the engine (4xx) are not counted",
    ),
    Preset(
        "sglang",
        "SGLang",
        "model_server",
        ("sglang:num_requests_total",),
        requests=(_c("sglang:num_requests_total"),),
        latency=("sglang:e2e_request_latency_seconds",),
        model=("model_name",),
        errors_known=False,
        remark="every request the engine finishes (sglang:num_requests_total); it counts no failures"
        " (num_aborted_requests_total is clients gone)",
    ),
    Preset(
        "tgi",
        "Hugging Face TGI",
        "model_server",
        ("tgi_request_success", "tgi_request_count"),
        requests=(_pair("tgi_request_success", "tgi_request_failure"),),
        latency=("tgi_request_duration",),
        unit="s",
        remark="tgi_request_count is not used: chat completions count twice in it",
    ),
    Preset(
        "triton",
        "NVIDIA Triton",
        "model_server",
        ("nv_inference_request_success",),
        requests=(_pair("nv_inference_request_success", "nv_inference_request_failure"),),
        latency=(
            LatencySpec(
                "average", "nv_inference_request_duration_us", unit="us", count=("nv_inference_request_success",)
            ),
        ),
        model=("model",),
        remark="latency is an average of cumulative µs counters (successful requests only; no percentiles served)",
    ),
    Preset(
        "bentoml",
        "BentoML",
        "model_server",
        ("bentoml_service_request_total", "bentoml_api_server_request_total"),
        requests=(_c("bentoml_service_request_total"), _c("bentoml_api_server_request_total")),
        latency=("bentoml_service_request_duration_seconds", "bentoml_api_server_request_duration_seconds"),
        endpoint=("endpoint",),
        code=("http_response_code",),
    ),
    Preset(
        "ray_serve",
        "Ray Serve",
        "model_server",
        ("ray_serve_num_http_requests_total",),
        requests=(_c("ray_serve_num_http_requests_total"),),
        latency=("ray_serve_http_request_latency_ms",),
        endpoint=("route",),
        code=("status_code",),
        model=("application",),
        # Ray's metrics agent publishes every metrics_report_period (10 s by default): the counters move in steps.
        update_period_s=10.0,
        remark="counters are published every ~10 s: rates are measured between two updates",
    ),
    Preset(
        "torchserve",
        "TorchServe",
        "model_server",
        ("Requests2XX", "ts_inference_requests_total"),
        # Inference requests only: Requests2XX/4XX/5XX count every request on all three ports (the console's
        # scrapes, /ping probes, management calls), so an idle server would read their rate. They are not even
        # a fallback: the one time ts_inference_requests_total is missing is a server that has served no
        # prediction yet (it has no series before the first), and there they are all scrapes and pings
        # (a real TorchServe 0.12 read 3.9 req/s fresh from them: #25).
        requests=(_c("ts_inference_requests_total"),),
        latency=(
            LatencySpec(
                "average", "ts_inference_latency_microseconds", unit="us", count=("ts_inference_requests_total",)
            ),
        ),
        model=("model_name",),
        remark="requests: ts_inference_requests_total (predictions only, per model; it does not split errors, and"
        " Requests2XX/4XX/5XX count every port's requests, scrapes and pings included, so they are not read);"
        " latency is an average of µs counters",
    ),
    Preset(
        "mlserver",
        "Seldon MLServer",
        "model_server",
        ("model_infer_request_success_total", "model_infer_request_success"),
        requests=(
            _pair("model_infer_request_success_total", "model_infer_request_failure_total"),
            _pair("model_infer_request_success", "model_infer_request_failure"),
        ),
        # The REST server's histogram gives percentiles (the model summary has no quantiles: an average only);
        # it times every route, health probes too, so only the inference route is read.
        latency=(
            LatencySpec("histogram", "rest_server_request_duration_seconds", match=(("path", "=~", ".*/infer"),)),
            "model_infer_request_duration",
        ),
        model=("model",),
        remark="per-model success/failure counters; latency from the REST histogram's inference route"
        " (else the model summary's average: it has no quantiles)",
    ),
    Preset(
        "kserve",
        "KServe model server",
        "model_server",
        ("request_predict_seconds_bucket",),
        requests=(_c("request_predict_seconds_count"),),
        latency=("request_predict_seconds",),
        model=("model_name",),
        errors_known=False,
        remark="KServe counts no requests or errors: requests are the predict histogram's count",
    ),
    Preset(
        "spring_micrometer",
        "Spring Boot (Micrometer)",
        "framework",
        ("http_server_requests_seconds_count",),
        requests=(_c("http_server_requests_seconds_count"),),
        latency=("http_server_requests_seconds",),
        endpoint=("uri",),
        code=("status",),
        remark="Micrometer's percentiles (when published) are per series over its own sliding window",
    ),
    Preset(
        "opentelemetry",
        "OpenTelemetry HTTP server (semantic conventions)",
        "framework",
        (
            "http_server_request_duration_seconds_bucket",
            "http_server_duration_milliseconds_bucket",
            "http_server_duration_seconds_bucket",
            "http_server_duration_bucket",
        ),
        # No request counter: the duration histogram counts every request. Stable conventions first.
        requests=(
            _c("http_server_request_duration_seconds_count"),
            _c("http_server_duration_milliseconds_count"),
            _c("http_server_duration_seconds_count"),
            _c("http_server_duration_count"),
        ),
        latency=(
            "http_server_request_duration_seconds",
            "http_server_duration_milliseconds",
            "http_server_duration_seconds",
            "http_server_duration",
        ),
        unit="ms",  # the old conventions' unit, where the exporter adds no unit suffix
        endpoint=("http_route", "http_target"),
        code=("http_response_status_code", "http_status_code"),
        error="error_type",
        remark="an empty status code is a request that raised (error_type names the exception): an error",
    ),
    Preset(
        "istio",
        "Istio",
        "framework",
        ("istio_requests_total",),
        requests=(_c("istio_requests_total"),),
        latency=("istio_request_duration_milliseconds",),
        endpoint=("destination_service_name", "destination_service"),
        code=("response_code",),
        match=(("reporter", "=", "destination"),),
        remark="reporter=destination only: the source side reports the same requests again",
    ),
    Preset(
        "envoy",
        "Envoy",
        "framework",
        ("envoy_http_downstream_rq_xx",),
        requests=(_c("envoy_http_downstream_rq_xx"),),
        latency=("envoy_http_downstream_rq_time",),
        unit="ms",
        endpoint=("envoy_http_conn_manager_prefix",),
        code=("envoy_response_code_class",),
        match=(("envoy_http_conn_manager_prefix", "!=", "admin"),),
        remark="downstream (what clients saw), the admin listener left out; codes are classes (2 = 2xx)",
    ),
    Preset(
        "nginx_ingress",
        "ingress-nginx",
        "framework",
        ("nginx_ingress_controller_requests",),
        requests=(_c("nginx_ingress_controller_requests"),),
        latency=("nginx_ingress_controller_request_duration_seconds",),
        endpoint=("path", "ingress"),
        code=("status",),
        remark="request_duration_seconds is in seconds whatever its HELP text says",
    ),
    Preset(
        "traefik",
        "Traefik",
        "framework",
        ("traefik_service_requests_total", "traefik_entrypoint_requests_total"),
        requests=(_c("traefik_service_requests_total"), _c("traefik_entrypoint_requests_total")),
        latency=("traefik_service_request_duration_seconds", "traefik_entrypoint_request_duration_seconds"),
        endpoint=("service", "entrypoint"),
        code=("code",),
        remark="service level: the entrypoint level counts the same requests",
    ),
    Preset(
        "go_promhttp",
        "Go client_golang (promhttp middleware)",
        "framework",
        ("go_goroutines",),
        needs=("http_requests_total",),
        requests=(_c("http_requests_total"),),
        latency=("http_request_duration_seconds",),
        endpoint=("handler", "path", "route"),
        code=("code",),
    ),
    Preset(
        "fastapi_instrumentator",
        "prometheus-fastapi-instrumentator",
        "framework",
        ("http_request_duration_highr_seconds_bucket",),
        requests=(_c("http_requests_total"),),
        # highr first: its buckets are fine (the default family's are 0.1/0.5/1 s, so a 2 ms service reads
        # p95 95 ms); it has no handler label, so it times the probes too (the note says so).
        latency=("http_request_duration_highr_seconds", "http_request_duration_seconds"),
        endpoint=("handler",),
        code=("status",),
    ),
    Preset(
        "starlette_exporter",
        "starlette_exporter",
        "framework",
        ("starlette_requests_total{status_code}",),
        requests=(_c("starlette_requests_total"),),
        latency=("starlette_request_duration_seconds",),
        endpoint=("path",),
        code=("status_code",),
    ),
    Preset(
        "starlette_prometheus",
        "starlette-prometheus",
        "framework",
        ("starlette_responses_total",),
        requests=(_c("starlette_responses_total"),),
        latency=("starlette_requests_processing_time_seconds",),
        endpoint=("path_template",),
        code=("status_code",),
        remark="starlette_requests_total has no status code: responses are counted instead",
    ),
    Preset(
        "django_prometheus",
        "django-prometheus",
        "framework",
        ("django_http_responses_total_by_status_view_method_total",),
        requests=(_c("django_http_responses_total_by_status_view_method_total"),),
        latency=(
            "django_http_requests_latency_seconds_by_view_method",
            "django_http_requests_latency_including_middlewares_seconds",
        ),
        endpoint=("view",),
        code=("status",),
    ),
    Preset(
        "flask_exporter",
        "prometheus-flask-exporter",
        "framework",
        ("flask_http_request_total",),
        # The histogram's _count counts the same requests with the path: the health probes can be left out.
        requests=(_c("flask_http_request_duration_seconds_count"), _c("flask_http_request_total")),
        latency=("flask_http_request_duration_seconds",),
        endpoint=("path", "url_rule", "endpoint"),
        code=("status",),
        remark="requests from the duration histogram's _count (flask_http_request_total has no path)",
    ),
)

PRESETS: dict[str, Preset] = {p.id: p for p in PRESET_LIST}


def _metrics_of(p: Preset) -> set[str]:
    names = {e.partition("{")[0] for e in p.signature}
    for alt in p.requests:
        names.update(c.metric for c in alt)
    for option in p.latency:
        names.update(
            option.sample_names()
            if isinstance(option, LatencySpec)
            else {option, option + "_bucket", option + "_sum", option + "_count", option + "_max"}
        )
    return names


# Every sample name a preset may read: their labels are always looked at.
PRESET_METRICS: frozenset[str] = frozenset().union(*(_metrics_of(p) for p in PRESET_LIST))


def match_presets(catalog: Catalog) -> list[tuple[Preset, MetricChoice]]:
    """Every preset recognised in ``catalog`` with its choice, model servers first."""
    out = []
    for p in sorted(PRESET_LIST, key=lambda p: p.kind != "model_server"):
        if p.recognised(catalog):
            choice = p.build(catalog)
            if choice is not None:
                out.append((p, choice))
    return out
