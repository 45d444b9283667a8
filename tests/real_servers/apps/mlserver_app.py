"""An MLServer custom runtime ("predictor") behind MLServer's own REST server: POST
/v2/models/predictor/infer with a V2 inference request (an input holding -1 makes the model raise: MLServer
answers an error and counts a failure), /v2/health/ready is the probe, and /metrics is served on a second port.
``python mlserver_app.py PORT METRICS_PORT`` (one process: parallel_workers 0; gRPC on a free loopback port)."""

import json
import os
import socket
import sys
import tempfile

MODEL = """
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class Predictor(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        if (x < 0).any():
            raise RuntimeError("the model failed")
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("y", x * 2)])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    port, metrics_port = sys.argv[1], sys.argv[2]
    folder = tempfile.mkdtemp(prefix="streamflow-mlserver-")
    with open(os.path.join(folder, "predictor_model.py"), "w") as f:
        f.write(MODEL)
    settings = {
        "host": "127.0.0.1",
        "http_port": int(port),
        "grpc_port": free_port(),
        "metrics_port": int(metrics_port),
        "parallel_workers": 0,
        "debug": False,
    }
    with open(os.path.join(folder, "settings.json"), "w") as f:
        json.dump(settings, f)
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump({"name": "predictor", "implementation": "predictor_model.Predictor"}, f)
    os.chdir(folder)
    sys.path.insert(0, folder)
    from mlserver.cli.main import main

    sys.argv = ["mlserver", "start", folder]
    main()
