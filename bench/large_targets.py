"""Large and compressed targets: what the scrape source pays for bodies full of families it does not read.

    python bench/large_targets.py [--reps 5] [--scrapes 300] [--console-seconds 60]

1. Parse + ingest of the wanted families from a synthetic 100,000-sample body and from a real
   node_exporter body, against prometheus-client's full parse of the same body (the baseline),
   interleaved, medians; the values of the wanted families are checked equal.
2. Client CPU of a scrape (fetch + decode + parse + ingest) of the bundled API's body served
   gzipped and served plain, by two uvicorn processes, interleaved rounds.
3. Console idle CPU at --interval 1 with node_exporter as the target, beside the same console
   on the bundled API (the baseline), headless as bench/console.py measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import free_port, machine, uvicorn_server  # noqa: E402
from synthetic_exposition import large_exposition  # noqa: E402

from streamflow_tui.core.exposition import Exposition, ParsedScrape  # noqa: E402
from streamflow_tui.core.naming import MetricNames  # noqa: E402
from streamflow_tui.core.scrape import ScrapeSource  # noqa: E402

TEXT = "text/plain; version=0.0.4"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def full_parse(body: bytes) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }


def ingest(source: ScrapeSource, body: bytes, clock: list[int]) -> None:
    clock[0] += 1000
    source.ingest(ParsedScrape(clock[0], Exposition.parse(body, TEXT), 0.0))


def parse_comparison(label: str, body: bytes, names: MetricNames, reps: int) -> dict:
    clock = [1_700_000_000_000]
    full_times, our_times = [], []
    reference = None
    source = ScrapeSource("http://127.0.0.1:9", names, history_points=10)
    t = time.perf_counter()
    ingest(source, body, clock)  # the first scrape also chooses what to read, among all candidate families
    first_ms = (time.perf_counter() - t) * 1e3
    for _ in range(reps):  # interleaved: the baseline and ours see the same machine state
        t = time.perf_counter()
        reference = full_parse(body)
        full_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        ingest(source, body, clock)
        our_times.append(time.perf_counter() - t)
    kept = {key: ring.last()[1] for key, ring in source._store.items()}
    assert kept and all(reference[k] == v for k, v in kept.items()), "the wanted families differ from the full parse"
    full_ms, our_ms = statistics.median(full_times) * 1e3, statistics.median(our_times) * 1e3
    return {
        "body": label,
        "samples": len(reference),
        "bytes": len(body),
        "series_kept": len(kept),
        "prometheus_client_full_parse_ms": round(full_ms, 2),
        "ours_parse_and_ingest_ms": round(our_ms, 2),
        "speedup": round(full_ms / our_ms, 1),
        "ours_first_scrape_ms": round(first_ms, 2),
        "first_scrape_speedup": round(full_ms / first_ms, 1),
        "chosen": source.status.error or source._choice.note,
    }


def node_exporter_body() -> bytes:
    port = free_port()
    proc = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).content
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait()


def gzip_cost(api_body: bytes, scrapes: int, rounds: int = 5) -> dict:
    tmp = Path(tempfile.mkdtemp())
    (tmp / "body.prom").write_bytes(api_body)
    ports = {"gzip": free_port(), "identity": free_port()}
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "serve_body.py"), str(tmp / "body.prom"), str(port)]
            + (["--gzip"] if kind == "gzip" else [])
        )
        for kind, port in ports.items()
    ]
    try:
        for port in ports.values():
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        per_scrape: dict[str, list[float]] = {"gzip": [], "identity": []}
        encodings = {}
        for _ in range(rounds):
            for kind, port in ports.items():
                source = ScrapeSource(f"http://127.0.0.1:{port}", history_points=600)
                source.poll()  # connection and first-choice costs out of the measurement
                c0 = cpu_seconds()
                for _ in range(scrapes):
                    source.poll()
                per_scrape[kind].append((cpu_seconds() - c0) / scrapes)
                encodings[kind] = (source.last_scrape.encoding, source.last_scrape.raw_bytes)
                source.close()
        g, i = statistics.median(per_scrape["gzip"]), statistics.median(per_scrape["identity"])
        return {
            "body_bytes": len(api_body),
            "gzip_bytes_on_the_wire": encodings["gzip"][1],
            "encodings_seen": encodings,
            "client_cpu_ms_per_scrape_identity": round(i * 1e3, 3),
            "client_cpu_ms_per_scrape_gzip": round(g * 1e3, 3),
            "gzip_over_identity": round(g / i, 3),
            "rounds": rounds,
            "scrapes_per_round": scrapes,
        }
    finally:
        for p in procs:
            p.terminate()
            p.wait()


async def console_idle(url: str, names: MetricNames, seconds: float) -> float:
    from streamflow_tui.app import create_app
    from streamflow_tui.core.config import ConsoleConfig

    tmp = tempfile.mkdtemp()
    app = create_app(ConsoleConfig(api_url=url, interval=1.0, reports_dir=tmp, export_dir=tmp, names=names))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(8)
        assert app.state.snapshot is not None and app.state.snapshot.ok, (
            app.state.snapshot and app.state.snapshot.api.error
        )
        c0, t0 = cpu_seconds(), time.perf_counter()
        await pilot.pause(seconds)
        pct = 100 * (cpu_seconds() - c0) / (time.perf_counter() - t0)
        await pilot.press("q")
    return pct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--console-seconds", type=float, default=60)
    args = parser.parse_args()
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    synthetic = large_exposition(100_000).encode()
    node = node_exporter_body()
    node_names = MetricNames.from_env({}, requests="promhttp_metric_handler_requests_total")
    out["parse"] = [
        parse_comparison("synthetic 100k", synthetic, MetricNames(), args.reps),
        parse_comparison("node_exporter", node, node_names, max(args.reps, 30)),
    ]
    with uvicorn_server({}) as api:
        with httpx.Client(base_url=api) as c:
            for i in range(200):
                c.post("/predict", json={"user_id": "0000-NOONE" if i % 5 else "4369-PFYCS"})
            api_body = c.get("/metrics").content
        out["gzip"] = gzip_cost(api_body, args.scrapes)
        out["gzip"]["gzip_ratio"] = round(len(gzip.compress(api_body)) / len(api_body), 3)
        if args.console_seconds:
            port = free_port()
            node_proc = subprocess.Popen(
                ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(1)
                idle = {}
                for _round in range(2):  # interleaved: baseline, node_exporter, baseline, node_exporter
                    idle.setdefault("bundled_api", []).append(
                        asyncio.run(console_idle(api, MetricNames(), args.console_seconds))
                    )
                    idle.setdefault("node_exporter", []).append(
                        asyncio.run(console_idle(f"http://127.0.0.1:{port}", node_names, args.console_seconds))
                    )
                out["console_idle_cpu_pct"] = {k: [round(v, 2) for v in vs] for k, vs in idle.items()}
            finally:
                node_proc.terminate()
                node_proc.wait()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
