"""The prediction log's costs: /predict with it on vs off, /feedback labels per second, a million rows.

    python bench/prediction_log.py [--seconds 10] [--rounds 3] [--million]

1. hey -c 16 on /predict against two API processes, the log on and off (the baseline), interleaved.
2. /feedback: 100,000 predictions, then their labels in batches of 1,000 by prediction id.
3. --million: 1,000,000 rows logged through /predict/batch; log size, /monitoring/recent?limit=10000
   time, and the API's RSS as the log grows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import hey, machine, uvicorn_process, uvicorn_server  # noqa: E402

import streamflow_data as sd  # noqa: E402

USER = json.dumps({"user_id": "4369-PFYCS"})


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def predict_batches(c: httpx.Client, users: list[str], n: int) -> list[str]:
    ids = []
    for start in range(0, n, 1000):
        items = [{"user_id": users[(start + i) % len(users)]} for i in range(min(1000, n - start))]
        ids += [p["prediction_id"] for p in c.post("/predict/batch", json={"items": items}).json()["predictions"]]
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--million", action="store_true")
    args = parser.parse_args()
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    users = [r["user_id"] for r in sd.iter_rows(sd.LATEST_MONTH)]
    with uvicorn_server({}) as on, uvicorn_server({"STREAMFLOW_API_LOG_PREDICTIONS": "0"}) as off:
        rounds = []
        for _ in range(args.rounds):
            rounds.append(
                {
                    "on": hey(on + "/predict", concurrency=16, seconds=args.seconds, body=USER),
                    "off": hey(off + "/predict", concurrency=16, seconds=args.seconds, body=USER),
                }
            )
        on_rps = statistics.median(r["on"]["rps"] for r in rounds)
        off_rps = statistics.median(r["off"]["rps"] for r in rounds)
        out["predict_rps"] = {
            "log_on": on_rps,
            "log_off": off_rps,
            "ratio": round(on_rps / off_rps, 3),
            "rounds": rounds,
        }
        with httpx.Client(base_url=on, timeout=120) as c:
            ids = predict_batches(c, users, 100_000)
            labels = [{"prediction_id": i, "actual": k % 2} for k, i in enumerate(ids)]
            start = time.perf_counter()
            for s in range(0, len(labels), 1000):
                answer = c.post("/feedback", json={"items": labels[s : s + 1000]}).json()
                assert answer["unknown"] == 0, answer
            seconds = time.perf_counter() - start
        out["feedback"] = {
            "labels": len(labels),
            "seconds": round(seconds, 2),
            "labels_per_s": round(len(labels) / seconds),
        }
    if args.million:
        log = Path("/tmp/streamflow-bench-million.sqlite")
        log.unlink(missing_ok=True)
        with uvicorn_process({"STREAMFLOW_API_PREDICTION_LOG": str(log)}) as (url, proc):
            growth = []
            with httpx.Client(base_url=url, timeout=120) as c:
                for step in range(10):
                    predict_batches(c, users, 100_000)
                    growth.append(
                        {
                            "rows": (step + 1) * 100_000,
                            "rss_mb": round(rss_mb(proc.pid), 1),
                            "log_mb": round(log.stat().st_size / 1e6, 1),
                            "dropped": c.get("/monitoring/recent", params={"limit": 1}).json()["dropped"],
                        }
                    )
                times = []
                for _ in range(20):
                    t = time.perf_counter()
                    assert c.get("/monitoring/recent", params={"limit": 10_000}).json()["count"] == 10_000
                    times.append(time.perf_counter() - t)
            out["million"] = {"growth": growth, "recent_10000_ms_median": round(statistics.median(times) * 1e3, 2)}
        for suffix in ("", "-wal", "-shm"):
            Path(str(log) + suffix).unlink(missing_ok=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
