"""What serving /monitoring/recent (10,000 rows, for live drift) costs the /predict traffic beside it.

    python bench/monitoring_recent.py [--seconds 10] [--rounds 3] [--rate 300]

An open-model load of /predict (streamflow-load's engine, corrected latency) runs alone (the
baseline) and with a client fetching ``/monitoring/recent?limit=10000`` back to back, interleaved
rounds on the same API process; the added p99 is the difference of the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, uvicorn_server  # noqa: E402

from loadgen import LoadConfig, LoadRunner  # noqa: E402


def fill(url: str, rows: int) -> None:
    import streamflow_data as sd

    users = [r["user_id"] for r in sd.iter_rows(sd.LATEST_MONTH)]
    with httpx.Client(base_url=url, timeout=30) as c:
        for start in range(0, rows, 1000):
            c.post("/predict/batch", json={"items": [{"user_id": u} for u in users[start % len(users) :][:1000]]})
        deadline = time.monotonic() + 10
        while (
            c.get("/monitoring/recent", params={"limit": rows}).json()["count"] < rows and time.monotonic() < deadline
        ):
            time.sleep(0.1)


FETCHER = """
import sys, time, httpx
url, seconds, pause = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
times = []
with httpx.Client(timeout=30) as c:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        r = c.get(url)
        assert r.status_code == 200 and len(r.content) > 100_000
        times.append(time.perf_counter() - t)
        time.sleep(pause)
times.sort()
print(len(times), times[len(times) // 2])
"""


def phase(url: str, args, fetching: bool) -> dict:
    # The fetcher is a process of its own: in this one its JSON work would delay the load
    # generator's own timestamps and read as server latency.
    fetcher = (
        subprocess.Popen(
            [sys.executable, "-c", FETCHER, url + "/monitoring/recent?limit=10000", str(args.seconds), str(args.pause)],
            stdout=subprocess.PIPE,
            text=True,
        )
        if fetching
        else None
    )
    snap = LoadRunner(LoadConfig(url=url + "/predict", rate=args.rate, duration=args.seconds)).start().wait()
    fetches, fetch_s = fetcher.communicate()[0].split() if fetcher else (0, None)
    return {
        "p50_ms": snap.corrected["p50"] * 1e3,
        "p99_ms": snap.corrected["p99"] * 1e3,
        "ok": snap.ok,
        "fetches": int(fetches),
        "fetch_ms_median": float(fetch_s) * 1e3 if fetch_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between fetches (0: back to back)")
    args = parser.parse_args()
    out: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "rate": args.rate,
        "pause_between_fetches_s": args.pause,
    }
    with uvicorn_server({}) as url:
        fill(url, 10_000)
        rounds = [
            {"alone": phase(url, args, False), "with_fetches": phase(url, args, True)} for _ in range(args.rounds)
        ]
    out["rounds"] = rounds
    alone = statistics.median(r["alone"]["p99_ms"] for r in rounds)
    fetching = statistics.median(r["with_fetches"]["p99_ms"] for r in rounds)
    out["p99_ms_alone_median"] = round(alone, 3)
    out["p99_ms_with_fetches_median"] = round(fetching, 3)
    out["added_p99_ms"] = round(fetching - alone, 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
