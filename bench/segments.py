"""Load segments and merge (#17): four segments against one process, and the cost of a merge.

    python bench/segments.py [--rounds 3] [--seconds 20] [--rate 1000] [--merge-repeats 5] [--pin]

1. The same API, rounds interleaved: one ``streamflow-load --rate R`` process, then four
   ``--segment i/4`` processes sharing a ``--start-at``, merged with ``streamflow-load merge``. For each:
   achieved total (answered requests over the run) and send rate against the target, the worst deviation of
   one second's sends and of one second's answers from R (every full second of the run, by absolute
   second), corrected p50/p95/p99; for the segments also whether the merged count equals the API's own
   ``api_requests_total{endpoint="/predict"}`` delta. ``--pin``: the API on CPU 0, every client on CPU 1,
   so the clients compete with each other and not with the server (the latency comparison's question).
2. Merge time of 16 synthetic one-hour segment files (1,000 req/s in total: real HDR histograms of
   ~225,000 lognormal latencies each, 3,600-second timelines): ``streamflow-load merge --json`` end to
   end (a fresh interpreter, as a user runs it), and ``merge.merge`` in process after loading the files.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from common import machine, pinned, uvicorn_server  # noqa: E402

from loadgen import merge, segments  # noqa: E402
from loadgen.config import LoadConfig  # noqa: E402
from loadgen.stats import LoadStats  # noqa: E402


def predict_count(url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    body = httpx.get(url + "/metrics", timeout=10).text
    return sum(
        s.value
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if s.name == "api_requests_total" and s.labels.get("endpoint") == "/predict"
    )


CLIENT_CPUS: str | None = None  # --pin: "1"


def load(url: str, *args: str) -> subprocess.Popen:
    cmd = [*pinned(CLIENT_CPUS), sys.executable, "-m", "loadgen.cli", "--url", url, "--no-progress", "--json", *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def figures(report: dict, rate: float, seconds: float) -> dict:
    start = report["timeline"][0]["at"] if report["timeline"] else 0
    full = [r for r in report["timeline"] if r["at"] - start < int(seconds)]  # the run's whole seconds
    sent_dev = max((abs(r["sent"] - rate) / rate for r in full), default=math.nan)
    answered_dev = max((abs(r["ok"] + r["errors"] - r["no_answer"] - rate) / rate for r in full), default=math.nan)
    t = report["totals"]
    lat = report["latency_seconds"]["corrected"]
    return {
        "achieved": (t["ok"] + t["errors"] - t["no_answer"]) / seconds,
        "send_rate": report["send_rate"],
        "worst_second_sent": sent_dev,
        "worst_second_answered": answered_dev,
        "p50": lat["p50"],
        "p95": lat["p95"],
        "p99": lat["p99"],
        "late": t["late"],
        "not_sent": t["not_sent"],
    }


def single_run(url: str, rate: float, seconds: float, out: Path) -> dict:
    p = load(url, "--rate", f"{rate:g}", "--duration", f"{seconds:g}", "--output", str(out))
    _, err = p.communicate()
    assert p.returncode == 0, err
    return figures(json.loads(out.read_text()), rate, seconds)


def segment_run(url: str, rate: float, seconds: float, tmp: Path, n: int = 4) -> dict:
    before = predict_count(url)
    start = math.ceil(time.time() + 5)
    paths = [tmp / f"seg{k}.json" for k in range(n)]
    common = ["--rate", f"{rate:g}", "--duration", f"{seconds:g}", "--start-at", str(start)]
    procs = [load(url, *common, "--segment", f"{k}/{n}", "--output", str(path)) for k, path in enumerate(paths)]
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    merged = merge.merge([(str(p), merge.load(str(p))) for p in paths])
    t = merged["totals"]
    api = predict_count(url) - before
    return {
        **figures(merged, rate, seconds),
        "api_delta": api,
        "answered": t["ok"] + t["errors"] - t["no_answer"],
        "exact": api == t["ok"] + t["errors"] - t["no_answer"],
        "warnings": merged["warnings"],
    }


def synthetic_hour(k: int, n: int, rate: float, start: int, directory: Path) -> Path:
    """Segment k of n of a one-hour run at ``rate`` in total: a real HDR histogram of its samples."""
    seconds = 3_600
    per_second = rate / n
    rng = np.random.default_rng(k)
    config = LoadConfig(
        url="http://127.0.0.1:8000/predict",
        rate=rate,
        duration=seconds,
        start_at=start,
        segment_index=k,
        segment_count=n,
    )
    stats = LoadStats(model="open", target_rate=rate)
    stats.wall_offset = 0.0
    stats.started = start
    samples = int(per_second * seconds)
    for kind, scale in (("corrected", 1.15), ("uncorrected", 1.0)):
        us = np.clip(np.round(rng.lognormal(np.log(2_500 * scale), 0.7, samples)), 1, 300_000_000).astype(np.int64)
        values, counts = np.unique(us, return_counts=True)
        h = getattr(stats, kind)
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            h.record_value(v, c)
    stats.sent = stats.ok = samples
    stats.status_codes["200"] = samples
    stats.timeline = {s: [int(per_second), int(per_second), 0, 0] for s in range(seconds)}
    stats.first_send, stats.last_send = start + k / rate, start + seconds - 1 / rate
    stats.ended = start + seconds + 0.01
    path = directory / f"hour{k:02d}.json"
    segments.write_atomic(path, segments.document(config, stats, run_id="bench-hour"))
    return path


def merge_times(repeats: int, rate: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        directory = Path(d)
        paths = [synthetic_hour(k, 16, rate, 1_800_000_000, directory) for k in range(16)]
        size = sum(p.stat().st_size for p in paths)
        cli, inproc = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "loadgen.cli", "merge", "--json", *map(str, paths)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            cli.append(time.perf_counter() - t)
            assert done.returncode == 0, done.stderr
            t = time.perf_counter()
            merged = merge.merge([(str(p), merge.load(str(p))) for p in paths])
            inproc.append(time.perf_counter() - t)
        assert merged["totals"]["sent"] == 16 * int(rate / 16 * 3_600)
    return {"files": 16, "mb": size / 1e6, "cli_s": cli, "in_process_s": inproc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--merge-repeats", type=int, default=5)
    parser.add_argument("--skip-load", action="store_true", help="only the merge timing")
    parser.add_argument("--pin", action="store_true", help="API on CPU 0, the clients on CPU 1")
    args = parser.parse_args()
    global CLIENT_CPUS
    CLIENT_CPUS = "1" if args.pin else None
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()}", flush=True)
    rows: dict[str, list[dict]] = {"single": [], "segments": []}
    if not args.skip_load:
        with uvicorn_server({}, "0" if args.pin else None) as url, tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for i in range(args.rounds):
                order = ("single", "segments") if i % 2 == 0 else ("segments", "single")
                for what in order:
                    if what == "single":
                        r = single_run(url, args.rate, args.seconds, tmp / "single.json")
                    else:
                        r = segment_run(url, args.rate, args.seconds, tmp)
                    rows[what].append(r)
                    print(what, json.dumps(r), flush=True)
        for what, runs in rows.items():
            print(f"\n{what} (median of {len(runs)}; range):")
            for key in ("achieved", "send_rate", "worst_second_sent", "worst_second_answered", "p50", "p95", "p99"):
                values = [r[key] for r in runs]
                print(f"  {key:<22} {statistics.median(values):.6g}  ({min(values):.6g} – {max(values):.6g})")
        if rows["segments"]:
            print("  merged count == API delta in every round:", all(r["exact"] for r in rows["segments"]))
    m = merge_times(args.merge_repeats, args.rate)
    print(f"\nmerge of {m['files']} one-hour files ({m['mb']:.1f} MB):")
    for key in ("cli_s", "in_process_s"):
        print(f"  {key:<14} median {statistics.median(m[key]):.3f} s  ({min(m[key]):.3f} – {max(m[key]):.3f})")


if __name__ == "__main__":
    main()
