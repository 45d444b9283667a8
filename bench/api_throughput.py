"""/predict throughput against a bare async route in the same server, and the cost of instrumentation.

    python bench/api_throughput.py [--rounds 5] [--seconds 5] [--concurrency 16]

Three cases, interleaved round by round so that machine noise hits them alike,
each driven by hey at the same concurrency:
  bare      POST /bench/echo  same body, parsed by the same model, no lookup or scoring
  predict   POST /predict     user_id lookup + scoring + metrics
  predict (no metrics)  the same route in a server without the instrumentation middleware
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import hey, machine, uvicorn_server  # noqa: E402

import streamflow_data as sd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    body = json.dumps({"user_id": next(sd.iter_rows(sd.LATEST_MONTH))["user_id"]})
    runs: dict[str, list[dict]] = {"bare": [], "predict": [], "predict_uninstrumented": []}
    on = {"STREAMFLOW_API_BENCH_ROUTES": "1", "STREAMFLOW_API_INSTRUMENT": "1"}
    off = {**on, "STREAMFLOW_API_INSTRUMENT": "0"}
    with uvicorn_server(on) as instrumented, uvicorn_server(off) as plain:
        hey(instrumented + "/predict", concurrency=args.concurrency, seconds=1, body=body)  # warm-up
        hey(plain + "/predict", concurrency=args.concurrency, seconds=1, body=body)
        for _ in range(args.rounds):
            for case, url in (
                ("bare", instrumented + "/bench/echo"),
                ("predict", instrumented + "/predict"),
                ("predict_uninstrumented", plain + "/predict"),
            ):
                result = hey(url, concurrency=args.concurrency, seconds=args.seconds, body=body)
                assert result["non_2xx"] == 0, (case, result)
                runs[case].append(result)

    med = {
        case: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p95", "p99")}
        for case, rs in runs.items()
    }
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "median": med,
        "all_rps": {case: [round(r["rps"]) for r in rs] for case, rs in runs.items()},
        "predict_vs_bare": med["predict"]["rps"] / med["bare"]["rps"],
        "instrumentation_overhead": 1 - med["predict"]["rps"] / med["predict_uninstrumented"]["rps"],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
