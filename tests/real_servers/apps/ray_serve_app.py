"""A Ray Serve deployment at /predict (?fail=1 answers 500); the proxy's /-/healthz is the probe and Ray's
metrics agent serves /metrics on a second port. ``python ray_serve_app.py PORT METRICS_PORT``."""

import sys
import time

import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment
class Predictor:
    async def __call__(self, request: Request):
        fail = bool(request.query_params.get("fail"))
        return JSONResponse({"ok": not fail}, status_code=500 if fail else 200)


if __name__ == "__main__":
    port, metrics_port = int(sys.argv[1]), int(sys.argv[2])
    ray.init(num_cpus=2, include_dashboard=False, _metrics_export_port=metrics_port)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(Predictor.bind(), route_prefix="/predict")
    print("ready", flush=True)
    while True:
        time.sleep(3600)
