"""An aiohttp app instrumented by OpenTelemetry's own aiohttp-server instrumentation, exported by its
Prometheus exporter on a second port: /predict (?fail=1 raises: an unhandled exception) and /health.
OTEL_SEMCONV_STABILITY_OPT_IN=http selects the stable HTTP conventions; unset, the old ones."""

import sys

from aiohttp import web
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import start_http_server

port, metrics_port = int(sys.argv[1]), int(sys.argv[2])
start_http_server(metrics_port, addr="127.0.0.1")
metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
AioHttpServerInstrumentor().instrument()


async def predict(request):
    if request.query.get("fail"):
        raise RuntimeError("the model failed")
    return web.json_response({"ok": True})


async def health(request):
    return web.json_response({"status": "ok"})


app = web.Application()
app.router.add_route("*", "/predict", predict)
app.router.add_get("/health", health)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=port, print=None)
