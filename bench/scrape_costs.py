"""Cost of one scrape in the scrape source, per sample, and the memory of one hour of history at 1 s.

    python bench/scrape_costs.py [--reps 300]

Baseline: prometheus-client's text parser alone on the same body.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, uvicorn_server  # noqa: E402

from streamflow_tui.core.exposition import Exposition, ParsedScrape, parse_body  # noqa: E402
from streamflow_tui.core.scrape import ScrapeSource  # noqa: E402


def per_call(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    args = parser.parse_args()
    with uvicorn_server({}) as url:
        with httpx.Client(base_url=url) as c:
            for i in range(200):
                c.post("/predict", json={"user_id": "0000-NOONE" if i % 5 else "4369-PFYCS"})
                c.post("/predict/batch", json={"items": []})
                c.get("/nowhere")
            response = c.get("/metrics")
    body, content_type = response.content, response.headers["content-type"]
    samples = parse_body(body, content_type)
    n = len(samples)

    parse_only = per_call(
        lambda: [s for f in text_string_to_metric_families(body.decode()) for s in f.samples], args.reps
    )
    parse_ours = per_call(lambda: parse_body(body, content_type), args.reps)  # every family, block by block
    source = ScrapeSource("http://127.0.0.1:9", history_points=3600)
    clock = [1_700_000_000_000]

    def ingest():  # index + parse of the wanted families + ingest: what a poll costs after the fetch
        clock[0] += 1000
        source.ingest(ParsedScrape(clock[0], Exposition.parse(body, content_type), 0.0))

    ingest_cost = per_call(ingest, args.reps)

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    hour = ScrapeSource("http://127.0.0.1:9", history_points=3600)
    text = body.decode()
    for i in range(3600):
        hour.ingest(ParsedScrape.from_text(1_700_000_000_000 + i * 1000, text, content_type))
    after_hour = tracemalloc.get_traced_memory()[0]
    for i in range(3600, 7200):  # a second hour must not grow it
        hour.ingest(ParsedScrape.from_text(1_700_000_000_000 + i * 1000, text, content_type))
    after_two = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    snapshot_cost = per_call(lambda: hour.snapshot(5), 50)

    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "samples_per_scrape": n,
                "body_bytes": len(body),
                "kept_series": len(hour._store),
                "prometheus_client_parse_us_per_sample": parse_only / n * 1e6,
                "our_parse_us_per_sample": parse_ours / n * 1e6,
                "index_parse_wanted_ingest_us_per_sample": ingest_cost / n * 1e6,
                "parse_plus_ingest_ms_per_scrape": ingest_cost * 1e3,
                "snapshot_ms_with_1h_history": snapshot_cost * 1e3,
                "history_1h_at_1s_mb": (after_hour - before) / 1e6,
                "history_2h_at_1s_mb": (after_two - before) / 1e6,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
