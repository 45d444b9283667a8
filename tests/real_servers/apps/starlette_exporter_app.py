"""starlette_exporter's middleware on a Starlette app: /predict (?fail=1 answers 500) and /health."""

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette_exporter import PrometheusMiddleware, handle_metrics


async def predict(request):
    return JSONResponse(
        {"ok": False} if request.query_params.get("fail") else {"ok": True},
        status_code=500 if request.query_params.get("fail") else 200,
    )


async def health(request):
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/predict", predict, methods=["GET", "POST"]), Route("/health", health)])
app.add_middleware(PrometheusMiddleware, group_paths=True)
app.add_route("/metrics", handle_metrics)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
