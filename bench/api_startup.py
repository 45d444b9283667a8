"""Time from ``streamflow-api`` launch to its first /health answer, with a cold and a warm model cache;
the embedded registry (default) and, side by side, MLflow's on a local SQLite store.

    python bench/api_startup.py [--runs 5] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, machine  # noqa: E402


def time_to_first_answer(cache: str, *registry: str) -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "--port", str(port), *registry],
        env={**os.environ, "XDG_CACHE_HOME": cache},
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                return time.perf_counter() - start
            except httpx.HTTPError:
                time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    out = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    kinds = ["local"] + ([] if args.no_mlflow else ["mlflow"])
    for kind in kinds:
        cold, warm = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as cache:
                registry = (
                    ["--registry", "mlflow", "--registry-location", f"sqlite:///{cache}/mlflow.db"]
                    if kind == "mlflow"
                    else []
                )
                cold.append(time_to_first_answer(cache, *registry))  # trains, registers the first champion
                warm.append(time_to_first_answer(cache, *registry))  # reads it
        out[kind] = {
            "cold_cache_s": {"median": statistics.median(cold), "all": [round(t, 2) for t in cold]},
            "warm_cache_s": {"median": statistics.median(warm), "all": [round(t, 2) for t in warm]},
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
