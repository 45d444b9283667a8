"""The heavy real servers (scripts/real-servers-heavy): model servers too big or slow for CI, installed from
the registry into their own cached virtualenvs (real_venvs.py), started for real and read as the light tier
reads its servers, plus back-to-back ``--once`` reads at the default window (Ray Serve's stepwise counters).
Prints one markdown row per server for docs/TARGETS.md; exit 1 when a check failed.

    python tests/real_heavy.py [ray_serve ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import free_port  # noqa: E402
from foreign_servers import wait_ready  # noqa: E402
from real_load import Sender  # noqa: E402
from real_venvs import APPS, ensure_venv, installed_versions  # noqa: E402

from streamflow_tui.core.embedded import stop_process  # noqa: E402
from streamflow_tui.core.format import quantile  # noqa: E402
from streamflow_tui.core.scrape import ScrapeSource  # noqa: E402

RPS, FAIL_EVERY, PROBE_RPS = 20.0, 10, 2.0


@dataclass(frozen=True)
class Heavy:
    id: str
    probe: str
    packages: tuple[str, ...]  # whose versions the row names
    idle_s: float = 5.0  # how long idle is watched (a stepwise server: two periods and more)
    env: dict[str, str] = field(default_factory=dict)


HEAVY = {
    "ray_serve": Heavy("ray_serve", "/-/healthz", ("ray",), idle_s=35.0),
}


def once(url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return json.loads(done.stdout)


def observe(url: str, seconds: float):
    source = ScrapeSource(url, history_points=1000)
    try:
        source.poll()
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            time.sleep(0.5)
            source.poll()
        snap = source.snapshot(5.0)
        steps = source.steps()
        totals = list(source._totals)
        jumps = [
            round((t - totals[0][0]) / 1000, 1) for (t, v), (_, w) in zip(totals[1:], totals, strict=False) if v != w
        ]
        print(
            f"{url}: steps {steps}, jumps at {jumps} s of {(totals[-1][0] - totals[0][0]) / 1000:.1f} s",
            file=sys.stderr,
        )
        return snap
    finally:
        source.close()


def run(h: Heavy) -> tuple[str, bool]:
    python = ensure_venv(h.id)
    port, mport = free_port(), free_port()
    log = Path(tempfile.mkstemp(prefix=f"streamflow-{h.id}-", suffix=".log")[1])
    ok = True
    notes = []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), str(APPS / f"{h.id}_app.py"), str(port), str(mport)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **h.env},
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}{h.probe}", proc, log, timeout=240)
            wait_ready(f"http://127.0.0.1:{mport}/metrics", proc, log, timeout=120)
            metrics = f"http://127.0.0.1:{mport}"
            with Sender(f"http://127.0.0.1:{port}{h.probe}", PROBE_RPS):
                idle = observe(metrics, h.idle_s)
                ok &= idle.requests.rps == 0.0
                notes.append(f"idle {idle.requests.rps}")
                with Sender(f"http://127.0.0.1:{port}/predict", RPS, FAIL_EVERY) as load:
                    time.sleep(12)  # let a stepwise server publish the load once before the reads
                    reads = [once(metrics) for _ in range(4)]
                    busy = observe(metrics, 35.0)
            rates = [r["requests"]["rps"] for r in reads]
            ok &= all(r is not None and abs(r - RPS) <= 5 for r in rates)
            notes.append("back-to-back --once " + ", ".join("–" if r is None else f"{r:.1f}" for r in rates))
            windows = [r["window_seconds"] for r in reads]
            notes.append("windows " + ", ".join(f"{w:.3g}" for w in windows))
            notes.append(f"watched 35 s: {busy.requests.rps} req/s, errors {busy.requests.error_ratio}")
            lat = busy.latency
            shown = {k: quantile(getattr(lat, k), lat.bounds_of(k)) for k in ("p50", "p95")}
            notes.append(
                f"p50 {shown['p50']}, p95 {shown['p95']} (client p95 {load.sent.quantile(0.95) * 1000:.1f} ms)"
            )
            u = busy.counter_updates
            notes.append(f"updates: {u.note if u else 'continuous'}")
        except Exception as exc:  # a row that says what failed, not a traceback
            ok = False
            notes.append(f"FAILED: {exc}")
        finally:
            stop_process(proc)
    versions = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in installed_versions(h.id).splitlines()
        if "==" in line
    }
    named = ", ".join(f"{p} {versions.get(p, '?')}" for p in h.packages)
    day = datetime.now(UTC).date().isoformat()
    return f"| {h.id} | {named} | {day} | {'ok' if ok else 'FAILED'} | {'; '.join(notes)} |", ok


def main(argv: list[str]) -> int:
    ids = argv or list(HEAVY)
    all_ok = True
    print("| server | versions | date | result | measured |\n|---|---|---|---|---|")
    for i in ids:
        row, ok = run(HEAVY[i])
        print(row, flush=True)
        all_ok &= ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
