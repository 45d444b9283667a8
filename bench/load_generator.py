"""streamflow-load against the bundled API: rate accuracy, throughput and latency next to hey.

    python bench/load_generator.py [--rounds 5] [--seconds 5] [--pin]

1. Rate accuracy: open model at 100, 500 and 1,000 req/s for 10 s each (send rate
   and completion rate vs the target).
2. Throughput: closed model next to hey at the same concurrency on /predict and
   /health, rounds interleaved; streamflow-load with 1 and with 2 processes.
3. Agreement: p50/p95 of both tools from the same rounds.

With ``--pin`` the API runs on CPU 0 and every client on CPU 1 (taskset), so
neither tool's CPU use is taken from the server: the comparison then isolates
what the client itself does to throughput and latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import hey, machine, pinned, uvicorn_server  # noqa: E402


def streamflow_load(url: str, *args: str, cpus: str | None = None) -> dict:
    out = subprocess.run(
        [*pinned(cpus), sys.executable, "-m", "loadgen.cli", "--url", url, "--json", "--no-progress", *args],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    r = json.loads(out)
    lat = r["latency_seconds"]["corrected"]
    return {
        "rps": r["throughput_rps"],
        "send_rate": r["send_rate"],
        "p50": lat["p50"],
        "p95": lat["p95"],
        "p99": lat["p99"],
        "ok": r["totals"]["ok"],
        "errors": r["totals"]["errors"],
        "late": r["totals"]["late"],
    }


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    parser.add_argument("--pin", action="store_true", help="API on CPU 0, clients on CPU 1")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    server_cpus, client_cpus = ("0", "1") if args.pin else (None, None)
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "pinned": args.pin}
    user = '{"user_id": "4369-PFYCS"}'
    with uvicorn_server({}, server_cpus) as url:
        accuracy = {}
        for rate in () if args.skip_accuracy else (100, 500, 1000):
            r = streamflow_load(url, "--rate", str(rate), "--duration", "10", cpus=client_cpus)
            accuracy[rate] = {
                "send_rate": r["send_rate"],
                "throughput": r["rps"],
                "error_pct_of_target": 100 * (r["send_rate"] / rate - 1),
                "p50": r["p50"],
                "p99": r["p99"],
                "late": r["late"],
            }
        out["rate_accuracy"] = accuracy

        for c in args.concurrency:
            for endpoint, body in (("/predict", user), ("/health", None)):
                runs: dict[str, list[dict]] = {"hey": [], "load_1p": [], "load_2p": []}
                hey(url + endpoint, concurrency=c, seconds=1, body=body, cpus=client_cpus)  # warm-up
                for _ in range(args.rounds):
                    runs["hey"].append(
                        hey(url + endpoint, concurrency=c, seconds=args.seconds, body=body, cpus=client_cpus)
                    )
                    common = ["--endpoint", endpoint, "-c", str(c), "-z", str(args.seconds)]
                    runs["load_1p"].append(streamflow_load(url, *common, cpus=client_cpus))
                    runs["load_2p"].append(streamflow_load(url, *common, "--processes", "2", cpus=client_cpus))
                summary = {
                    tool: {k: med(rs, k) for k in ("rps", "p50", "p95", "p99")}
                    | {"all_rps": [round(r["rps"]) for r in rs], "all_p95_ms": [round(r["p95"] * 1e3, 2) for r in rs]}
                    for tool, rs in runs.items()
                }
                for tool in ("load_1p", "load_2p"):
                    summary[tool]["rps_vs_hey"] = summary[tool]["rps"] / summary["hey"]["rps"]
                    summary[tool]["p50_vs_hey"] = summary[tool]["p50"] / summary["hey"]["p50"]
                    summary[tool]["p95_vs_hey"] = summary[tool]["p95"] / summary["hey"]["p95"]
                out[f"c{c} {endpoint}"] = summary
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
