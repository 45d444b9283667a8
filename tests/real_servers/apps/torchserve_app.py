"""TorchServe serving a tiny model archive made here with torch-model-archiver from a few-line handler (no
downloads): POST /predictions/predictor with a JSON body ({"fail": 1} makes the handler raise), /ping is the
probe, and /metrics (``metrics_mode=prometheus``) is served on the metrics port; the management API on a free
loopback port. ``python torchserve_app.py PORT METRICS_PORT`` (torchserve --foreground: its Java frontend is a
child process, in this process's group)."""

import os
import socket
import subprocess
import sys
import tempfile

HANDLER = """
import json


def handle(data, context):
    if data is None:  # the worker's warm-up call
        return None
    out = []
    for row in data:
        body = row.get("body") or row.get("data") or {}
        if isinstance(body, (bytes, bytearray)):
            body = json.loads(body or b"{}")
        if body.get("fail"):
            raise RuntimeError("the model failed")
        out.append({"ok": True})
    return out
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    port, metrics_port = sys.argv[1], sys.argv[2]
    folder = tempfile.mkdtemp(prefix="streamflow-torchserve-")
    store = os.path.join(folder, "store")
    os.makedirs(store)
    handler = os.path.join(folder, "predictor_handler.py")
    with open(handler, "w") as f:
        f.write(HANDLER)
    # torch-model-archiver's own entry point (the venv's console scripts may name a moved interpreter).
    subprocess.run(
        [sys.executable, "-c", "from model_archiver.model_packaging import generate_model_archive as g; g()"]
        + ["--model-name", "predictor", "--version", "1.0", "--handler", handler, "--export-path", store],
        check=True,
    )
    config = os.path.join(folder, "config.properties")
    with open(config, "w") as f:
        f.write(
            f"inference_address=http://127.0.0.1:{port}\n"
            f"management_address=http://127.0.0.1:{free_port()}\n"
            f"metrics_address=http://127.0.0.1:{metrics_port}\n"
            f"grpc_inference_port={free_port()}\n"
            f"grpc_management_port={free_port()}\n"
            "metrics_mode=prometheus\n"
            "disable_token_authorization=true\n"
            "default_workers_per_model=1\n"
            "install_py_dep_per_model=false\n"
            f"model_store={store}\n"
            "load_models=predictor=predictor.mar\n"
        )
    # Anything started as plain "python" is this virtualenv's (the frontend itself is given this interpreter).
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    os.chdir(folder)
    sys.argv = ["torchserve", "--start", "--foreground", "--ncs", "--ts-config", config, "--model-store", store]
    from ts.model_server import start

    start()
