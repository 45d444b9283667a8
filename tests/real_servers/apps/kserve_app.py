"""KServe's Python model server with a custom ``kserve.Model``: POST /v1/models/predictor:predict with
{"instances": [...]} (an instance of -1 makes the model raise: KServe answers 500), /v2/health/ready is the
probe, and /metrics is served on the same port. ``python kserve_app.py PORT [METRICS_PORT, unused]``.

KServe's REST server binds 0.0.0.0 with no option to change it; here it is bound to loopback (gRPC off)."""

import sys

import kserve
import kserve.protocol.rest.server as rest
import uvicorn


class LoopbackConfig(uvicorn.Config):
    def __init__(self, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        super().__init__(*args, **kwargs)


rest.uvicorn.Config = LoopbackConfig


class Predictor(kserve.Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.load()

    def load(self) -> bool:
        self.ready = True
        return self.ready

    async def predict(self, payload, headers=None, response_headers=None):
        instances = payload["instances"]
        if any(x < 0 for x in instances):
            raise RuntimeError("the model failed")
        return {"predictions": [x * 2 for x in instances]}


if __name__ == "__main__":
    kserve.ModelServer(http_port=int(sys.argv[1]), enable_grpc=False, workers=1).start([Predictor("predictor")])
