"""prometheus-fastapi-instrumentator's defaults on a FastAPI app: /predict (?fail=1 answers 500) and /health."""

import sys

import uvicorn
from fastapi import FastAPI, Response
from prometheus_fastapi_instrumentator import Instrumentator

app = FastAPI()


@app.api_route("/predict", methods=["GET", "POST"])
async def predict(response: Response, fail: int = 0):
    response.status_code = 500 if fail else 200
    return {"ok": not fail}


@app.get("/health")
async def health():
    return {"status": "ok"}


Instrumentator().instrument(app).expose(app)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
