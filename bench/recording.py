"""Record and replay (streamflow_tui/core/recording.py): what recording costs the console and what replay
costs the reader, on one hour of realistic polls.

One run writes an hour at --interval 1 (3,600 polls of tests/fake_sources.py's full snapshots, 60 drift
checks, 3,600 load-generator reports) and measures:

a. CPU time of ``Recorder.add_poll`` per poll (encoding + one committed SQLite transaction), as points of
   one core at one poll per second — median over batches of 360 polls;
b. the file's size for that hour (after close: the WAL folded in);
c. ``Recording.open`` of that hour — median of --repeats;
d. a seek to a random moment, as the replay does it: index_at + snapshot_at + the last 600 s of points
   + the four kinds' latest events — median and p95 of 200 moments; and the same seek one poll later
   each time, as playing forward does it.

    python bench/recording.py [--repeats 5] [--seeks 200]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from common import machine  # noqa: E402
from fake_sources import T0, snapshot  # noqa: E402

from streamflow_data.load import LoadSnapshot  # noqa: E402
from streamflow_tui.core.distribution import Distribution  # noqa: E402
from streamflow_tui.core.drift import ColumnDrift, DriftResult  # noqa: E402
from streamflow_tui.core.recording import KINDS, Recorder, Recording  # noqa: E402
from streamflow_tui.core.timeline import point_of  # noqa: E402
from streamflow_tui.core.versions import VersionChange  # noqa: E402

HOUR = 3_600
HISTORY = 600.0  # the console's default chart history (config.py)
BATCH = 360


def drift(k: int) -> DriftResult:
    """A check of 15 columns, each with its side-by-side distribution, like the worker returns."""
    columns = tuple(
        ColumnDrift(
            f"column_{c}",
            "num" if c < 10 else "cat",
            "wasserstein" if c < 10 else "jensenshannon",
            0.05 + 0.01 * ((c * 7 + k) % 13),
            0.1,
            (c + k) % 3 == 0,
            Distribution(
                tuple(f"{0.5 * b:.3g}–{0.5 * b + 0.5:.3g}" for b in range(10)),
                tuple(round(0.1 + 0.003 * math.sin(b + k), 4) for b in range(10)),
                tuple(round(0.1 + 0.004 * math.cos(b + c), 4) for b in range(10)),
                0.0,
                0.002,
            ),
        )
        for c in range(15)
    )
    return DriftResult(
        "month_000",
        "live",
        "2024-01-31",
        "live",
        7000,
        5000,
        0.4,
        6,
        15,
        0.3,
        "RETRAINING_TRIGGERED",
        0.05,
        0.105,
        0.155,
        True,
        columns[-1],
        columns,
        "reports/evidently/a.json",
        "reports/evidently/a.html",
        2.1,
        f"token-{k}",
    )


def load(i: int) -> LoadSnapshot:
    p = 0.002 + 0.0003 * math.sin(i / 7)
    pct = {"p50": p, "p90": 2 * p, "p95": 2.4 * p, "p99": 4.1 * p, "p99_9": 7.3 * p}
    return LoadSnapshot(
        "open",
        True,
        float(i),
        200.0,
        None,
        200 * i,
        200 * i - i // 10,
        i // 10,
        0,
        0,
        3,
        0,
        i // 50,
        0.003,
        199.0 + math.sin(i),
        200.1,
        pct,
        {k: v * 0.97 for k, v in pct.items()},
        {"200": 200 * i - i // 10, "422": i // 10},
        {"http 422": i // 10},
    )


def write_hour(path: Path) -> list[float]:
    """Record an hour; the CPU seconds of add_poll per poll, one mean per batch of BATCH polls."""
    snaps = [snapshot(i, switch_at=HOUR // 2) for i in range(HOUR)]  # built outside the measurement
    points = [replace(point_of(s), load_rps=200.0, load_target=200.0, client_p95=0.004) for s in snaps]
    t0 = T0.timestamp()
    per_poll, spent = [], 0.0
    with Recorder(path, interval=1.0, source="scrape", api_url="http://127.0.0.1:8000") as recorder:
        recorder.add_poll(snaps[0], points[0])  # warm-up: builds the pydantic adapters (once per process)
        for i in range(1, HOUR):
            start = time.process_time()
            recorder.add_poll(snaps[i], points[i])
            spent += time.process_time() - start
            recorder.add_event(t0 + i + 0.5, "load", load(i))
            if i % 60 == 30:
                recorder.add_event(t0 + i + 0.2, "drift", drift(i))
            if i == HOUR // 2:
                recorder.add_event(t0 + i, "version", _version(snaps[i - 1], snaps[i]))
            if i % 900 == 0:
                recorder.add_event(
                    t0 + i + 0.7, "retrain", {"decision": "KEPT", "reason": "AUC gain 0.001 < 0.005", "at": i}
                )
            if i % BATCH == 0:
                per_poll.append(spent / BATCH)
                spent = 0.0
    return per_poll


def _version(old, new) -> VersionChange:
    return VersionChange(new.taken_at.timestamp(), old.model.version, new.model.version, old.model.score_histogram)


def seek(rec: Recording, t: float) -> None:
    i = rec.index_at(t)
    rec.snapshot_at(i)
    rec.points_between(t - HISTORY, t)
    for kind in KINDS:
        rec.event_at(kind, t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeks", type=int, default=200)
    args = parser.parse_args()
    out = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hour.db"
        per_poll = write_hour(path)
        cpu = statistics.median(per_poll)
        out["add_poll_cpu_ms"] = round(cpu * 1e3, 3)
        out["add_poll_cpu_ms_max_batch"] = round(max(per_poll) * 1e3, 3)
        out["core_points_at_1s"] = round(cpu / 1.0 * 100, 3)  # goal <= 0.5
        out["file_mb_per_hour"] = round(path.stat().st_size / 1e6, 2)  # goal <= 50

        opens = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            rec = Recording.open(path)
            opens.append(time.perf_counter() - start)
            rec.close()
        out["open_ms"] = round(statistics.median(opens) * 1e3, 2)  # goal <= 1000
        rng = random.Random(0)
        with Recording.open(path) as rec:
            out["polls"] = len(rec.times)
            seek(rec, rec.end)  # warm-up: adapters of the event types
            seeks = []
            for _ in range(args.seeks):
                t = rng.uniform(rec.start, rec.end)
                start = time.perf_counter()
                seek(rec, t)
                seeks.append(time.perf_counter() - start)
            steps = []  # playing forward: a seek one poll later each time (the last window's points reused)
            for t in rec.times[HOUR // 2 : HOUR // 2 + args.seeks]:
                start = time.perf_counter()
                seek(rec, t)
                steps.append(time.perf_counter() - start)
        seeks.sort()
        out["seek_ms_median"] = round(statistics.median(seeks) * 1e3, 2)  # goal <= 100
        out["seek_ms_p95"] = round(seeks[int(0.95 * len(seeks)) - 1] * 1e3, 2)
        out["play_step_ms_median"] = round(statistics.median(steps) * 1e3, 2)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
