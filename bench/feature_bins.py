"""The feature-bin counters' costs (#28): /predict with and without them side by side, one replica's series,
fleet drift from Prometheus for 14 features × 3 replicas, and a 6 h heatmap backfill at 1-minute windows.

    python bench/feature_bins.py [--rounds 5] [--seconds 5] [--concurrency 16] [--skip-predict] [--skip-prometheus]

/predict: two servers (STREAMFLOW_API_FEATURE_BINS=1 and =0), driven by hey in alternating rounds so machine
noise hits both alike; the ratio of median requests/s. Prometheus: three in-process-free replicas are not needed
for the query cost, which depends on the series the backend holds: three replicas' /metrics (real expositions
with month_003 counts) are written as 6 h of 15 s samples with ``promtool tsdb create-blocks-from``, then
``fleet_drift`` and ``drift_history`` are timed against a real Prometheus on those blocks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import hey, machine, uvicorn_server  # noqa: E402

import streamflow_data as sd  # noqa: E402
from api.feature_bins import FeatureBins, layout_of, series_count  # noqa: E402


def session(args, body: str, first: str) -> dict[str, list[dict]]:
    """hey against two servers, started ``first`` ("with" or "without") first, in alternating rounds."""
    import httpx

    # --control: both servers count (an A/A run): what the ratio reads when nothing differs.
    settings = {"with": "1", "without": "1" if args.control else "0"}
    order = [first, "without" if first == "with" else "with"]
    runs: dict[str, list[dict]] = {"with": [], "without": []}
    with (
        uvicorn_server({"STREAMFLOW_API_FEATURE_BINS": settings[order[0]]}) as a,
        uvicorn_server({"STREAMFLOW_API_FEATURE_BINS": settings[order[1]]}) as b,
    ):
        urls = dict(zip(order, (a, b)))
        for case, url in urls.items():
            counted = "\napi_feature_values_total{" in httpx.get(url + "/metrics").text
            assert counted == (settings[case] == "1"), case
            hey(url + "/predict", concurrency=args.concurrency, seconds=1, body=body)  # warm-up
        for i in range(args.rounds):
            for case in order if i % 2 == 0 else order[::-1]:
                result = hey(urls[case] + "/predict", concurrency=args.concurrency, seconds=args.seconds, body=body)
                assert result["non_2xx"] == 0, (case, result)
                runs[case].append(result)
    return runs


def predict(args) -> dict:
    """Two sessions, the servers started in both orders: on this VM the first-started server answered ~11 %
    fewer requests/s than an identical second one (A/A), so each session's ratio carries that bias once
    each way and their geometric mean cancels it."""
    body = json.dumps({"user_id": next(sd.iter_rows(sd.LATEST_MONTH))["user_id"]})
    sessions = [session(args, body, first) for first in ("with", "without")]
    ratios = [
        statistics.median(r["rps"] for r in s["with"]) / statistics.median(r["rps"] for r in s["without"])
        for s in sessions
    ]
    med = {
        case: {k: statistics.median(r[k] for s in sessions for r in s[case]) for k in ("rps", "p50", "p99")}
        for case in ("with", "without")
    }
    return med | {
        "ratio": math.sqrt(ratios[0] * ratios[1]),
        "session_ratios": ratios,
        "control": args.control,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "row_cost_us": row_cost_us(),
        "load_average": os.getloadavg(),
    }


def row_cost_us() -> float:
    """One row's counting in this process (no server, no noise from the network path)."""
    bins = FeatureBins()
    bins.folder = None
    bins.set_reference(layout_of(sd.load_frame("month_000"), "v"))
    rows = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in sd.load_frame("month_003").to_dict("records")
    ]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for row in rows:
            bins.observe(row)
        best = min(best, (time.perf_counter() - started) / len(rows) * 1e6)
    return best


def openmetrics_history(
    text_by_replica: list[str], rows: list[int], hours: float, step_s: float, end: float, rate: float = 50.0
) -> str:
    """The replicas' expositions as ``hours`` of samples every ``step_s``, their counters growing as if the
    fleet scored ``rate`` rows/s with the same mix (each replica a third)."""
    from prometheus_client.parser import text_string_to_metric_families

    lines, types = [], {}
    samples = []
    for i, text in enumerate(text_by_replica):
        growth = rate / len(text_by_replica) * step_s / rows[i]
        for family in text_string_to_metric_families(text):
            if not family.name.startswith(
                ("api_feature", "api_reference_feature", "api_reference_label", "api_model_info")
            ):
                continue
            types[family.name] = family.type
            for s in family.samples:
                labels = {**s.labels, "instance": f"replica-{i}", "job": "streamflow-api"}
                samples.append((s.name, labels, s.value, family.type, growth))
    steps = int(hours * 3600 / step_s)
    start = end - steps * step_s
    by_family: dict[str, list[str]] = {}
    for name, labels, value, kind, growth in samples:
        family = name[: -len("_total")] if kind == "counter" and name.endswith("_total") else name
        text_labels = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        rows = by_family.setdefault(family, [])
        for k in range(steps + 1):
            v = value * growth * (k + 1) if kind == "counter" else value
            rows.append(f"{name}{{{text_labels}}} {v:.6g} {start + k * step_s:.0f}")
    for family, rows in by_family.items():
        lines.append(f"# TYPE {family} {types[family]}")
        lines.extend(rows)
    return "\n".join(lines) + "\n# EOF\n"


def prometheus(args) -> dict:
    from binned_rows import counted_bins
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_server import backfill, running_prometheus

    from streamflow_tui.core.fleet_drift import drift_history, fleet_drift
    from streamflow_tui.core.prometheus import PrometheusClient

    layout = layout_of(sd.load_frame("month_000"), "month_000-bench")
    frame = sd.load_frame("month_003")
    texts, rows = [], []
    for i in range(3):
        rows.append(len(frame.iloc[i::3]))
        registry = CollectorRegistry()
        registry.register(counted_bins(layout, frame.iloc[i::3]))
        texts.append(generate_latest(registry).decode())
    end = time.time() - 120
    workdir = Path(tempfile.mkdtemp(prefix="streamflow-bench-bins-"))
    data = workdir / "data"
    data.mkdir()
    backfill(openmetrics_history(texts, rows, 6.5, 15, end), data)
    out: dict = {"series_per_replica": series_count(layout)}
    with running_prometheus("global: {}\n", data_dir=data) as url:
        client = PrometheusClient(url, timeout=30)
        fleet_drift(client, 60, at=end)  # warm
        times = []
        for _ in range(7):
            started = time.perf_counter()
            result = fleet_drift(client, 60, at=end)
            times.append(time.perf_counter() - started)
        out["fleet_drift_s"] = statistics.median(times)
        out["fleet_drift_replicas"] = result.replicas
        backfills = []
        for _ in range(3):
            started = time.perf_counter()
            windows = drift_history(client, end - 6 * 3600, end, 60)
            backfills.append(time.perf_counter() - started)
        out["backfill_6h_1m_s"] = statistics.median(backfills)
        out["backfill_windows"] = len(windows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skip-predict", action="store_true")
    parser.add_argument("--skip-prometheus", action="store_true")
    parser.add_argument("--control", action="store_true", help="A/A: both servers count")
    args = parser.parse_args()
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    if not args.skip_prometheus:
        out["prometheus"] = prometheus(args)
    if not args.skip_predict:
        out["predict"] = predict(args)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
