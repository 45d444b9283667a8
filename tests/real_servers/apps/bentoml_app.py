"""A BentoML (>= 1.2) service: POST /predict ({"fail": 1} raises: BentoML answers 500), and its own /healthz,
/livez, /readyz and /metrics. Started as ``python bentoml_app.py PORT`` (bentoml serve, one worker)."""

import os
import sys

import bentoml


@bentoml.service(workers=1)
class Predictor:
    @bentoml.api
    def predict(self, fail: int = 0) -> dict:
        if fail:
            raise RuntimeError("the model failed")
        return {"ok": True}


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "bentoml_app:Predictor",
            "--port",
            sys.argv[1],
            "--host",
            "127.0.0.1",
            "--working-dir",
            here,
        ],
    )
