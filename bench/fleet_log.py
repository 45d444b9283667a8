"""The PostgreSQL prediction log's costs (#24), each beside its baseline in the same run:

    python bench/fleet_log.py [--seconds 10] [--rounds 3] [--million]

1. /predict throughput (hey -c 16): the PostgreSQL log vs the SQLite log (the baseline) vs no log,
   interleaved round by round, one API process each.
2. /feedback labels per second through haproxy to three PostgreSQL replicas: 100,000 predictions,
   then their labels by prediction id in batches of 1,000 from 4 clients.
3. /predict p99 at 300 req/s (streamflow-load, corrected) with and without a reader pulling
   /monitoring/recent?limit=10000 (10,000 rows from PostgreSQL) back to back, interleaved.
4. --million: 1,000,000 predictions logged through /predict/batch; the API's RSS every 100,000.

Starts Debian's PostgreSQL and haproxy as the tests do (tests/postgres_server.py, tests/haproxy_server.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import hey, machine, uvicorn_process, uvicorn_server  # noqa: E402
from haproxy_server import running_haproxy  # noqa: E402
from postgres_server import running_postgres  # noqa: E402
from prediction_log import predict_batches, rss_mb  # noqa: E402

import streamflow_data as sd  # noqa: E402

USER = json.dumps({"user_id": "4369-PFYCS"})


def pg_env(pg) -> dict[str, str]:
    return {
        "STREAMFLOW_API_PREDICTION_LOG": pg.url,
        "STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE": str(pg.password_file),
        "STREAMFLOW_API_REGISTRY_POLL_S": "0",
    }


def throughput(pg, seconds: float, rounds: int) -> dict:
    with (
        uvicorn_server(pg_env(pg)) as postgres,
        uvicorn_server({"STREAMFLOW_API_REGISTRY_POLL_S": "0"}) as sqlite,
        uvicorn_server({"STREAMFLOW_API_LOG_PREDICTIONS": "0", "STREAMFLOW_API_REGISTRY_POLL_S": "0"}) as off,
    ):
        runs = []
        for _ in range(rounds):
            runs.append(
                {
                    name: hey(url + "/predict", concurrency=16, seconds=seconds, body=USER)
                    for name, url in (("postgresql", postgres), ("sqlite", sqlite), ("off", off))
                }
            )
    median = {k: statistics.median(r[k]["rps"] for r in runs) for k in ("postgresql", "sqlite", "off")}
    return {
        "rps_median": median,
        "postgresql_over_sqlite": round(median["postgresql"] / median["sqlite"], 3),
        "postgresql_over_off": round(median["postgresql"] / median["off"], 3),
        "rounds": runs,
    }


def feedback_rate(pg, users: list[str]) -> dict:
    with uvicorn_server(pg_env(pg)) as a, uvicorn_server(pg_env(pg)) as b, uvicorn_server(pg_env(pg)) as c:
        with running_haproxy([a, b, c], check=False) as balanced:
            with httpx.Client(base_url=balanced, timeout=120) as client:
                ids = predict_batches(client, users, 100_000)
            batches = [
                [{"prediction_id": i, "actual": k % 2} for k, i in enumerate(ids[s : s + 1000])]
                for s in range(0, len(ids), 1000)
            ]
            clients = [httpx.Client(base_url=balanced, timeout=120) for _ in range(4)]

            def send(n: int) -> int:
                answer = clients[n % 4].post("/feedback", json={"items": batches[n]}).json()
                return answer["labelled"]

            start = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                labelled = sum(pool.map(send, range(len(batches))))
            seconds = time.perf_counter() - start
            for client in clients:
                client.close()
    return {"labels": labelled, "seconds": round(seconds, 2), "labels_per_s": round(labelled / seconds)}


def p99_beside_reads(pg, users: list[str], seconds: float, rounds: int) -> dict:
    """/predict at 300 req/s alone, beside a read of 10,000 rows every second (a console checking live drift
    every second: more often than any schedule), and beside reads back to back (the worst case)."""
    with uvicorn_server(pg_env(pg)) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            predict_batches(client, users, 10_000)  # the rows a read returns
        runs = []
        for _ in range(rounds):
            run = {}
            for key, every in (("alone", None), ("reads_every_1s", 1.0), ("reads_back_to_back", 0.0)):
                stop = threading.Event()
                reads: list[float] = []

                def reader(stop: threading.Event, reads: list[float], every: float) -> None:
                    with httpx.Client(base_url=url, timeout=60) as c:
                        while not stop.is_set():
                            t = time.perf_counter()
                            body = c.get("/monitoring/recent", params={"limit": 10_000}).content
                            assert b'"count": 10000,' in body[:200]  # not parsed: the reader's CPU is not the API's
                            reads.append(time.perf_counter() - t)
                            stop.wait(max(0.0, every - (time.perf_counter() - t)))

                thread = threading.Thread(target=reader, args=(stop, reads, every)) if every is not None else None
                if thread:
                    thread.start()
                done = subprocess.run(
                    [sys.executable, "-m", "loadgen.cli", "--url", url + "/predict", "--rate", "300"]
                    + ["--duration", str(seconds), "--json", "--no-progress"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                stop.set()
                if thread:
                    thread.join()
                latency = json.loads(done.stdout)["latency_seconds"]["corrected"]
                run[key] = {"p50_ms": round(latency["p50"] * 1e3, 2), "p99_ms": round(latency["p99"] * 1e3, 2)}
                if reads:
                    run[key]["reads"] = len(reads)
                    run[key]["read_ms_median"] = round(statistics.median(reads) * 1e3, 1)
            runs.append(run)
    p99 = {k: statistics.median(r[k]["p99_ms"] for r in runs) for k in runs[0]}
    return {
        "p99_ms_median": p99,
        "delta_ms_reads_every_1s": round(p99["reads_every_1s"] - p99["alone"], 2),
        "delta_ms_reads_back_to_back": round(p99["reads_back_to_back"] - p99["alone"], 2),
        "rounds": runs,
    }


def million(pg, users: list[str]) -> dict:
    with uvicorn_process(pg_env(pg)) as (url, proc):
        growth = []
        with httpx.Client(base_url=url, timeout=120) as c:
            for step in range(10):
                predict_batches(c, users, 100_000)
                health = c.get("/health").json()["prediction_log"]
                growth.append(
                    {
                        "rows": (step + 1) * 100_000,
                        "rss_mb": round(rss_mb(proc.pid), 1),
                        "pending": health["pending"],
                        "dropped": health["dropped"],
                    }
                )
    return {"growth": growth, "db_rows": int(pg.psql("SELECT count(*) FROM streamflow_predictions").strip())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--only", choices=("throughput", "feedback", "reads", "million"))
    args = parser.parse_args()
    os.environ.setdefault("XDG_CACHE_HOME", "/tmp/streamflow-bench-cache")
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    users = [r["user_id"] for r in sd.iter_rows(sd.LATEST_MONTH)]
    with running_postgres() as pg:
        if args.only in (None, "throughput"):
            out["predict_throughput"] = throughput(pg, args.seconds, args.rounds)
        if args.only in (None, "feedback"):
            out["feedback_through_haproxy"] = feedback_rate(pg, users)
        if args.only in (None, "reads"):
            out["predict_p99_beside_recent_reads"] = p99_beside_reads(pg, users, args.seconds, args.rounds)
        if args.million or args.only == "million":
            pg.psql("DROP TABLE IF EXISTS streamflow_predictions, streamflow_schema")  # a fresh log
            out["million"] = million(pg, users)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
