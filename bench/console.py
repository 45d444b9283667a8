"""The console under its real workload, headless (Textual's run_test), next to nothing but its own polls:

1. CPU of the console process at --interval 1 with no traffic, then with 500 req/s
   sent by a separate streamflow-load process, on the Overview (the first screen), the Traffic
   and the Model view, and on the Overview while recording every poll to SQLite (--record);
   The chart history is pre-filled first (``--history`` worth of points), as
   after ten minutes of uptime: chart redraws cost more as it fills.
2. key press -> screen painted while 500 req/s run and drift checks are kept in
   progress: from posting the key event (``p``, pause) to the first paint of the
   status line that shows the new state (Pilot's own ``press`` also waits for
   the whole app to go idle, which is not what a user sees);
3. RSS over a run with load, after the history buffers are full.

    python bench/console.py [--phase-seconds 20] [--rss-seconds 180]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, uvicorn_server  # noqa: E402
from textual import events  # noqa: E402

from streamflow_data.buckets import LATENCY_BUCKETS  # noqa: E402
from streamflow_tui.app import create_app  # noqa: E402
from streamflow_tui.core.config import ConsoleConfig  # noqa: E402
from streamflow_tui.core.recording import Recorder  # noqa: E402
from streamflow_tui.widgets.status import StatusLine  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_load(url: str, rate: int, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadgen.cli",
            "--url",
            url,
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--no-progress",
            "--json",
        ],
        stdout=subprocess.DEVNULL,
    )


def prefill_history(app) -> None:
    """Fill the chart history as after ``--history`` seconds of uptime: chart costs grow with it."""
    from streamflow_tui.core.results import Bucket
    from streamflow_tui.core.timeline import Point

    rng = random.Random(0)
    live = list(app.state.timeline.points)
    app.state.timeline.points.clear()
    now = time.time() - len(live)
    bounds = (*LATENCY_BUCKETS, float("inf"))  # the bundled API's
    for i in range(app.config.history_points - len(live)):
        p50 = 0.002 + rng.random() * 0.001
        buckets = tuple(
            Bucket(le, float(rng.randint(0, 50) if le < 0.05 else 0)) for le in bounds
        )  # the heatmap's columns
        app.state.timeline.add(
            Point(
                now - app.config.history + i,
                1.0,
                0.0,
                p50,
                p50 * 1.5,
                p50 * 2,
                0.1,
                None,
                0.80 + 0.01 * rng.random(),
                0.825,
                min(1.0, i / app.config.history_points),
                buckets,
            )
        )
    for point in live:
        app.state.timeline.add(point)


async def measure(url: str, args, out: dict) -> None:
    tmp = tempfile.mkdtemp()
    config = ConsoleConfig(api_url=url, interval=1.0, reports_dir=tmp, export_dir=tmp)
    app = create_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(8)  # first polls, and the drift worker warms up
        prefill_history(app)
        # Each view side by side in the same run; the Overview with and without recording every poll.
        phases = (
            ("idle", 0, "1", False),
            ("idle_recording", 0, "1", True),
            ("idle_traffic_view", 0, "2", False),
            ("idle_model_view", 0, "3", False),
            ("500rps", 500, "1", False),
            ("500rps_recording", 500, "1", True),
            ("500rps_traffic_view", 500, "2", False),
            ("500rps_model_view", 500, "3", False),
        )
        for name, rate, view, recording in phases:
            load = start_load(url, rate, args.phase_seconds + 5) if rate else None
            await pilot.press(view)
            if recording:
                app.session.recorder = Recorder(Path(tmp) / f"{name}.db", interval=1.0, source="scrape", api_url=url)
            await pilot.pause(2)
            c0, t0 = cpu_seconds(), time.perf_counter()
            await pilot.pause(args.phase_seconds)
            out[f"cpu_pct_{name}"] = 100 * (cpu_seconds() - c0) / (time.perf_counter() - t0)
            if name == "500rps":
                out["console_rps_seen_500rps"] = app.state.snapshot.requests.rps
            if recording:
                recorder, app.session.recorder = app.session.recorder, None
                recorder.close()
                size = (Path(tmp) / f"{name}.db").stat().st_size
                out[f"recording_mb_per_hour_{name}"] = size / 1e6 * 3600 / (args.phase_seconds + 2)
            if load:
                load.wait()
        await pilot.press("1")

        load = start_load(url, 500, 60)
        await pilot.pause(2)
        painted: list[tuple[float, bool]] = []
        original = StatusLine.render_line

        def spy(self, y):
            painted.append((time.perf_counter(), app.state.paused))
            return original(self, y)

        StatusLine.render_line = spy
        latencies = []
        runs = 0
        for _ in range(120):
            if app.drift.started is None:
                app.action_run_drift()
                runs += 1
            expected = not app.state.paused
            start = time.perf_counter()
            app.post_message(events.Key("p", None))
            while not any(t > start and state == expected for t, state in painted):
                await asyncio.sleep(0.0005)
            latencies.append(min(t for t, state in painted if t > start and state == expected) - start)
            painted.clear()
            await pilot.pause(0.15)
        StatusLine.render_line = original
        load.wait()
        latencies.sort()
        out["key_latency_ms"] = {
            "p50": 1000 * statistics.median(latencies),
            "p99": 1000 * latencies[int(0.99 * len(latencies)) - 1],
            "max": 1000 * latencies[-1],
            "presses": len(latencies),
            "drift_runs_started": runs,
        }
        await pilot.press("q")


async def measure_rss(url: str, args, out: dict) -> None:
    tmp = tempfile.mkdtemp()
    config = ConsoleConfig(api_url=url, interval=args.rss_interval, history=60, reports_dir=tmp, export_dir=tmp)
    app = create_app(config)
    load = start_load(url, 300, args.rss_seconds + 10)
    samples = []
    async with app.run_test(size=(160, 48)) as pilot:
        start = time.perf_counter()
        while time.perf_counter() - start < args.rss_seconds:
            await pilot.pause(5)
            samples.append((round(time.perf_counter() - start), round(rss_mb(), 1), len(app.state.timeline.points)))
        await pilot.press("q")
    load.terminate()
    warm = [s for s in samples if s[0] >= 70]  # the 60 s history is full after ~60 s
    out["rss_polls"] = app.state.polls
    out["rss_samples_s_mb_points"] = samples
    out["rss_after_warmup_mb"] = {
        "first": warm[0][1],
        "last": warm[-1][1],
        "growth_pct": 100 * (warm[-1][1] - warm[0][1]) / warm[0][1],
        "seconds": warm[-1][0] - warm[0][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-seconds", type=float, default=20)
    parser.add_argument("--rss-seconds", type=float, default=180)
    parser.add_argument("--rss-interval", type=float, default=0.5, help="poll interval of the RSS run")
    parser.add_argument("--rss-only", action="store_true")
    parser.add_argument("--no-rss", action="store_true")
    args = parser.parse_args()
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with uvicorn_server({}) as url:
        if not args.rss_only:
            asyncio.run(measure(url, args, out))
        if not args.no_rss:
            asyncio.run(measure_rss(url, args, out))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
