"""Memory of a long load run: RSS growth of the load process over 1,000,000 requests.

    python bench/load_memory.py [--requests 1000000] [--concurrency 32]

Runs the engine in this process against the bundled API's /health, reads
VmRSS after the first 50,000 requests (warm-up) and at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, uvicorn_server  # noqa: E402

from loadgen import LoadConfig, LoadRunner  # noqa: E402


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with uvicorn_server({}) as url:
        start_rss = rss_mb()
        runner = LoadRunner(
            LoadConfig(
                url=url + "/health",
                concurrency=args.concurrency,
                requests=args.requests,
                duration=24 * 3600,
                payload="none",
            )
        ).start()
        warm_rss = None
        samples = []
        while runner.running:
            time.sleep(1)
            s = runner.snapshot()
            samples.append((s.sent, round(rss_mb(), 1)))
            if warm_rss is None and s.sent >= 50_000:
                warm_rss = rss_mb()
        final = runner.wait()
        end_rss = rss_mb()
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "requests": final.sent,
                "ok": final.ok,
                "errors": final.errors,
                "elapsed_s": final.elapsed_s,
                "rss_mb": {"before": start_rss, "after_50k": warm_rss, "end": end_rss},
                "growth_after_warmup_mb": end_rss - (warm_rss or start_rss),
                "rss_every_100k": [s for i, s in enumerate(samples) if i % max(1, len(samples) // 10) == 0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
