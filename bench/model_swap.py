"""A hot model swap under load: p99 of /predict in the second around the swap against the steady state
of the same run.

    python bench/model_swap.py [--rate 200] [--seconds 20] [--swaps 3]

The API (one uvicorn worker, registry poll 0.5 s) serves month_000's model; a month_004 challenger is
registered beforehand, and the champion alias is moved at the middle of each run — the API's part of a
promotion (reading the record, building the model, swapping it). Latency is measured by an open-model
client from the scheduled send time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, uvicorn_server  # noqa: E402

import streamflow_data as sd  # noqa: E402
from api.registry import CHAMPION, LocalRegistry  # noqa: E402
from api.retrain import RetrainRequest, bootstrap_champion, retrain  # noqa: E402


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[max(0, int(0.99 * len(values)) - 1)]


async def load(url: str, users: list[str], rate: float, seconds: float, answers: list) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=64)) as client:

        async def one(i: int, intended: float) -> None:
            r = await client.post("/predict", json={"user_id": users[i % len(users)]})
            answers.append((intended, time.perf_counter() - intended, r.status_code, r.json().get("model_version")))

        start = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            intended = start + i / rate
            await asyncio.sleep(max(0.0, intended - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, intended)))
        await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--swaps", type=int, default=3)
    args = parser.parse_args()
    users = [r["user_id"] for r in sd.iter_rows("month_005")]
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "runs": []}
    cache = Path(tempfile.mkdtemp())
    for _ in range(args.swaps):
        folder = Path(tempfile.mkdtemp())
        registry = LocalRegistry(folder)
        first = bootstrap_champion(registry, cache).version
        challenger = retrain(RetrainRequest("month_004"), registry, cache)["challenger"]["version"]
        registry.set_alias(CHAMPION, first)  # serve the old one; the challenger waits, registered
        env = {
            "STREAMFLOW_API_REGISTRY_LOCATION": str(folder),
            "STREAMFLOW_API_REGISTRY_POLL_S": "0.5",
            "XDG_CACHE_HOME": str(cache),
        }
        with uvicorn_server(env) as url:
            answers: list = []

            async def scenario() -> float:  # run within this iteration: the loop variables it reads are current
                task = asyncio.create_task(load(url, users, args.rate, args.seconds, answers))  # noqa: B023
                await asyncio.sleep(args.seconds / 2)
                await asyncio.to_thread(registry.set_alias, CHAMPION, challenger)  # noqa: B023
                await task
                return 0.0

            asyncio.run(scenario())
        answers.sort()
        switch = min(t for t, _, _, v in answers if v == challenger)  # first request answered by the new model
        around = [lat for t, lat, _, _ in answers if abs(t - switch) <= 0.5]
        steady = [lat for t, lat, _, _ in answers if abs(t - switch) > 1.5 and t - answers[0][0] > 2]  # after warm-up
        out["runs"].append(
            {
                "errors": sum(1 for a in answers if a[2] != 200),
                "answers": len(answers),
                "versions": sorted({a[3] for a in answers}),
                "p99_steady_ms": 1000 * p99(steady),
                "p99_around_swap_ms": 1000 * p99(around),
                "ratio": p99(around) / p99(steady),
            }
        )
    out["median_ratio"] = statistics.median(r["ratio"] for r in out["runs"])
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
