"""Wall time of ``streamflow-tui --once --json --window 0`` against a running API, next to the floor:
a minimal Python script that does one httpx GET of /metrics and one prometheus-client parse.

    python bench/once_latency.py [--runs 15]
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

MINIMAL = """
import sys, httpx
from prometheus_client.parser import text_string_to_metric_families
body = httpx.get(sys.argv[1] + "/metrics").text
print(sum(len(f.samples) for f in text_string_to_metric_families(body)))
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with uvicorn_server({}) as url:
        with httpx.Client() as c:  # some traffic, so the body has every series
            for _ in range(50):
                c.post(url + "/predict", json={"user_id": "0000-NOONE"})
        once = [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--window", "0", "--api-url", url]
        floor = [sys.executable, "-c", MINIMAL, url]
        timed(once), timed(floor)  # warm the page cache
        t_once, t_floor = [], []
        for _ in range(args.runs):
            t_once.append(timed(once))
            t_floor.append(timed(floor))
    med_once, med_floor = statistics.median(t_once), statistics.median(t_floor)
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "runs": args.runs,
                "once_s": {"median": med_once, "all": [round(t, 3) for t in t_once]},
                "minimal_script_s": {"median": med_floor, "all": [round(t, 3) for t in t_floor]},
                "ratio": med_once / med_floor,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
