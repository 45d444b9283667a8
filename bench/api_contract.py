"""What the stricter API contract (#16: strict types, oneOf, 415, short 422s) costs on /predict.

    python bench/api_contract.py [--baseline REV] [--rounds 5] [--seconds 5] [--concurrency 16]

The API of ``--baseline`` (a git revision before the change, checked out in a throwaway worktree)
and the API of the working tree run side by side, each in its own uvicorn process; hey drives each
in turn, round by round, so machine noise hits both alike. Cases: ``/predict`` by user_id, by
inline features, and a 20-item ``/predict/batch``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import hey, machine, uvicorn_server, worktree  # noqa: E402

import streamflow_data as sd  # noqa: E402
from streamflow_data.schema import FEATURES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def chdir(folder: Path):
    """uvicorn imports ``api`` from its working directory: the baseline's, then ours."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="41b34ff")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    rows = [r for _, r in zip(range(20), sd.iter_rows(sd.LATEST_MONTH))]
    bodies = {
        "by_user": json.dumps({"user_id": rows[0]["user_id"]}),
        "by_features": json.dumps({"features": {f: rows[0][f] for f in FEATURES}}),
        "batch_20": json.dumps({"items": [{"user_id": r["user_id"]} for r in rows]}),
    }
    paths = {"by_user": "/predict", "by_features": "/predict", "batch_20": "/predict/batch"}
    runs: dict[str, dict[str, list[dict]]] = {side: {case: [] for case in bodies} for side in ("baseline", "new")}
    env = {"PYTHONPATH": ""}
    with worktree(args.baseline) as old_tree:
        with chdir(old_tree), uvicorn_server({**env, "PYTHONPATH": str(old_tree)}) as old_url:
            with chdir(ROOT), uvicorn_server({**env, "PYTHONPATH": str(ROOT)}) as new_url:
                urls = {"baseline": old_url, "new": new_url}
                for side, url in urls.items():  # warm-up; and each side really answers each case
                    for case, body in bodies.items():
                        warm = hey(url + paths[case], concurrency=args.concurrency, seconds=1, body=body)
                        assert warm["non_2xx"] == 0, (side, case, warm)
                for _ in range(args.rounds):
                    for case, body in bodies.items():
                        for side, url in urls.items():
                            result = hey(
                                url + paths[case], concurrency=args.concurrency, seconds=args.seconds, body=body
                            )
                            assert result["non_2xx"] == 0, (side, case, result)
                            runs[side][case].append(result)

    median = {
        side: {
            case: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p95", "p99")}
            for case, rs in cases.items()
        }
        for side, cases in runs.items()
    }
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "baseline": args.baseline,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "median": median,
        "all_rps": {
            side: {c: [round(r["rps"]) for r in rs] for c, rs in cases.items()} for side, cases in runs.items()
        },
        "new_vs_baseline_rps": {c: round(median["new"][c]["rps"] / median["baseline"][c]["rps"], 3) for c in bodies},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
