"""``streamflow-load --stream`` against a real LLM engine on this CPU: llama.cpp's server through
``llama-cpp-python``, serving a tiny random-weight GGUF written here (``bench/tiny_gguf.py``), no download.

    python bench/llm_engine.py [--venv /tmp/llama/venv] [--seconds 10] [--max-tokens 64]

``--venv``: a virtualenv with ``llama-cpp-python[server]`` and ``gguf``; made (and timed) when it does not
exist: ``pip install`` compiles llama.cpp, ~7 minutes on the 2-core benchmark machine, which is why this
is a benchmark and not a test (CI's budget for it would be under a minute). The server runs with
``--interrupt_requests False``: by default llama-cpp-python ends a stream when another request comes in,
and serves one request at a time either way, so concurrent streams queue (their TTFT shows it).

Runs, each ``--seconds``: closed model with 1 and 4 workers on ``/v1/chat/completions``, the open model at
a rate below and above what one stream at a time sustains, and ``/v1/completions``. Prints one JSON
document: the install's time (when it installed), the model, and per run the stream block's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def ensure_venv(venv: Path) -> float | None:
    """Seconds the install took, or None when the environment was there."""
    python = venv / "bin" / "python"
    if python.exists():
        return None
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "CMAKE_ARGS": "-DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"}
    subprocess.run(
        ["nice", "-n", "19", str(python), "-m", "pip", "install", "-q", "llama-cpp-python[server]", "gguf"],
        check=True,
        env={**env, "CMAKE_BUILD_PARALLEL_LEVEL": "2"},
    )
    return time.monotonic() - started


@contextmanager
def llama_server(python: Path, model: Path):
    port = free_port()
    cmd = [str(python), "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", "2048", "--interrupt_requests", "False"]
    log = model.with_suffix(".log")  # a file, not a pipe: its access log would fill a pipe nobody reads
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                httpx.get(url + "/v1/models", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load(url: str, endpoint: str, model_args: list[str], seconds: float, max_tokens: int) -> dict:
    cmd = [sys.executable, "-m", "loadgen.cli", "--url", url, "--endpoint", endpoint, "--stream", "--json"]
    cmd += ["--no-progress", "--duration", f"{seconds:g}", "--max-tokens", str(max_tokens), *model_args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=seconds + 120)
    doc = json.loads(out.stdout)
    st = doc["stream"]

    def ms(block: dict, key: str) -> float | None:
        return None if block[key] is None else round(block[key] * 1e3, 2)

    return {
        "load": " ".join(model_args),
        "endpoint": endpoint,
        "sent": doc["totals"]["sent"],
        "ok": doc["totals"]["ok"],
        "errors": doc["error_kinds"],
        "streams": st["streams"],
        "tokens": st["tokens"],
        "tokens_per_s": round(st["tokens_per_s"], 1),
        "ttft_corrected_ms": {p: ms(st["ttft_seconds"]["corrected"], p) for p in ("p50", "p99")},
        "ttft_uncorrected_ms": {p: ms(st["ttft_seconds"]["uncorrected"], p) for p in ("p50", "p99")},
        "itl_ms": {p: ms(st["itl_seconds"]["uncorrected"], p) for p in ("p50", "p99")},
        "e2e_corrected_ms": {p: ms(st["e2e_seconds"]["corrected"], p) for p in ("p50", "p99")},
        "ttft_split": st["ttft_split"]["available"],
        "late": doc["totals"]["late"],
        "not_sent": doc["totals"]["not_sent"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venv", default="/tmp/llama/venv")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--max-tokens", type=int, default=64)
    a = p.parse_args()
    venv = Path(a.venv)
    install_s = ensure_venv(venv)
    python = venv / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import llama_cpp; print(llama_cpp.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "tiny.gguf"
        made = subprocess.run(
            [str(python), str(ROOT / "bench" / "tiny_gguf.py"), str(model)], capture_output=True, text=True, check=True
        ).stdout.strip()
        runs = []
        with llama_server(python, model) as url:
            for endpoint, model_args in (
                ("/v1/chat/completions", ["--concurrency", "1"]),
                ("/v1/chat/completions", ["--concurrency", "4"]),
                ("/v1/completions", ["--concurrency", "1"]),
                ("/v1/chat/completions", ["--rate", "10"]),
                ("/v1/chat/completions", ["--rate", "40"]),
            ):
                runs.append(load(url, endpoint, model_args, a.seconds, a.max_tokens))
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "engine": f"llama-cpp-python {version} (llama_cpp.server)",
                "install_s": install_s,
                "model": made,
                "args": vars(a),
                "runs": runs,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
