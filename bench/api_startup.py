"""Time from ``streamflow-api`` launch to its first /health answer, with a cold and a warm model cache.

    python bench/api_startup.py [--runs 5]
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
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, machine  # noqa: E402


def time_to_first_answer(cache: str) -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "--port", str(port)], env={**os.environ, "XDG_CACHE_HOME": cache}
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
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(time_to_first_answer(cache))
            warm.append(time_to_first_answer(cache))
    print(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "cold_cache_s": {"median": statistics.median(cold), "all": [round(t, 2) for t in cold]},
        "warm_cache_s": {"median": statistics.median(warm), "all": [round(t, 2) for t in warm]},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
