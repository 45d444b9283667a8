"""The heavy real servers (scripts/real-servers-heavy): model servers too big or slow for CI, installed from
the registry into their own cached virtualenvs (real_venvs.py), started for real and read as the light tier
reads its servers, plus back-to-back ``--once`` reads at the default window (Ray Serve's stepwise counters).
Prints one markdown row per server for docs/TARGETS.md; exit 1 when a check failed.

    python tests/real_heavy.py [ray_serve mlserver kserve torchserve ...]
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
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
from streamflow_tui.core.results import Snapshot  # noqa: E402
from streamflow_tui.core.scrape import ScrapeSource  # noqa: E402

RPS, FAIL_EVERY, PROBE_RPS = 20.0, 10, 2.0


def v2(x: int) -> dict:
    """MLServer's V2 inference request with one INT32 input."""
    return {"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [x]}]}


V2 = (v2(1), v2(-1))  # -1 makes the model raise
V1 = ({"instances": [1]}, {"instances": [-1]})  # KServe's v1 predict: -1 makes the model raise


@dataclass(frozen=True)
class Heavy:
    id: str
    probe: str
    packages: tuple[str, ...]  # whose versions the row names
    preset: str  # the preset the console must recognise with no flags
    load: str = "/predict"  # the inference route the load goes to
    bodies: tuple[object, object] | None = None  # JSON POST bodies (good, failing); None: GET ?fail=1
    post: bool = False  # a JSON POST of {} / {"fail": 1}
    metrics_port: bool = True  # /metrics on a second port (else on the app's)
    errors_counted: bool = True  # False: the server's metrics do not split failures (the console must say so)
    idle_s: float = 5.0  # how long idle is watched (a stepwise server: two periods and more)
    window: float | None = None  # the busy snapshot's window (None: all that was watched)
    idle_after: bool = True  # idle watched again once the load stopped (not for a stepwise server)
    env: dict[str, str] = field(default_factory=dict)


HEAVY = {
    "ray_serve": Heavy("ray_serve", "/-/healthz", ("ray",), "ray_serve", idle_s=35.0, window=5.0, idle_after=False),
    "mlserver": Heavy(
        "mlserver", "/v2/health/ready", ("mlserver", "uvloop"), "mlserver", "/v2/models/predictor/infer", V2
    ),
    "kserve": Heavy(
        "kserve",
        "/v2/health/ready",
        ("kserve",),
        "kserve",
        "/v1/models/predictor:predict",
        V1,
        metrics_port=False,
        errors_counted=False,
    ),
    "torchserve": Heavy(
        "torchserve",
        "/ping",
        ("torchserve", "torch-model-archiver", "torch"),
        "torchserve",
        "/predictions/predictor",
        post=True,
        errors_counted=False,
    ),
}


def once(url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--api-url", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return json.loads(done.stdout)


def observe(url: str, seconds: float, window: float | None = None) -> Snapshot:
    source = ScrapeSource(url, history_points=1000)
    try:
        source.poll()
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            time.sleep(0.5)
            source.poll()
        snap = source.snapshot(window or source.span_seconds())
        steps = source.steps()
        totals = list(source._totals)
        jumps = [
            round((t - totals[0][0]) / 1000, 1) for (t, v), (_, w) in zip(totals[1:], totals, strict=False) if v != w
        ]
        print(
            f"{url}: steps {steps}, jumps at {jumps[:12]} s of {(totals[-1][0] - totals[0][0]) / 1000:.1f} s",
            file=sys.stderr,
        )
        return snap
    finally:
        source.close()


def bounds_ok(s: Snapshot, client_p95: float) -> list[str]:
    """What is wrong with the quantiles: each within its bucket, p95's bucket not above the client's p95."""
    lat, wrong = s.latency, []
    for key in ("p50", "p95", "p99"):
        value, b = getattr(lat, key), lat.bounds_of(key)
        if value is not None and (b is None or not b.lower <= value <= b.upper):
            wrong.append(f"{key} {value} outside {b}")
    p95 = lat.bounds_of("p95")
    if p95 is not None and p95.lower > client_p95:
        wrong.append(f"p95's bucket starts at {p95.lower} s, above the client's p95 {client_p95:.4f} s")
    return wrong


def run(h: Heavy) -> tuple[str, bool]:
    began = time.monotonic()
    python = ensure_venv(h.id)
    built = time.monotonic() - began
    port, mport = free_port(), free_port()
    log = Path(tempfile.mkstemp(prefix=f"streamflow-{h.id}-", suffix=".log")[1])
    ok = True
    idle_rps = busy_rps = busy_err = shown = client = preset = "–"
    notes = [f"venv ready in {built:.0f} s"] if built > 5 else []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), str(APPS / f"{h.id}_app.py"), str(port), str(mport)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **h.env},
            start_new_session=True,  # its children (Ray's workers, TorchServe's Java frontend) stopped with it
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}{h.probe}", proc, log, timeout=240)
            metrics = f"http://127.0.0.1:{mport if h.metrics_port else port}"
            wait_ready(metrics + "/metrics", proc, log, timeout=120)
            with Sender(f"http://127.0.0.1:{port}{h.probe}", PROBE_RPS):
                idle = observe(metrics, h.idle_s)
                # A server whose counters carry a model label serves no series before its first request
                # (MLServer, KServe): nothing to read yet, which must not read as traffic.
                idle_rps = "fresh " + ("no series" if idle.requests.rps is None else f"{idle.requests.rps}")
                ok &= idle.requests.rps in (0.0, None)
                with Sender(f"http://127.0.0.1:{port}{h.load}", RPS, FAIL_EVERY, post=h.post, bodies=h.bodies) as load:
                    t0, n0 = time.monotonic(), load.sent.answered
                    time.sleep(12 if h.window else 3)  # a stepwise server publishes the load once before the reads
                    reads = [once(metrics) for _ in range(4)]
                    busy = observe(metrics, 35.0 if h.window else 20.0, h.window)
                    true_rps = (load.sent.answered - n0) / (time.monotonic() - t0)
                if h.idle_after:  # the load over, its series exist: probe and scrapes alone must read 0
                    time.sleep(2)
                    after = observe(metrics, h.idle_s)
                    idle_rps += f"; after the load {after.requests.rps}"
                    ok &= after.requests.rps == 0.0
            naming = reads[0]["naming"]
            preset = f"`{naming['preset']}` ({naming['family']})"
            ok &= naming["preset"] == h.preset
            rates = [r["requests"]["rps"] for r in reads]
            ok &= all(r is not None and abs(r - RPS) <= 5 for r in rates)
            notes.append("back-to-back --once " + ", ".join("–" if r is None else f"{r:.1f}" for r in rates))
            windows = [r["window_seconds"] for r in reads]
            notes.append("windows " + ", ".join(f"{w:.3g}" for w in windows))
            r = busy.requests
            busy_rps = f"{r.rps:.2f} (sent {true_rps:.2f})" if r.rps is not None else "–"
            ok &= r.rps is not None and abs(r.rps - RPS) <= (5 if h.window else 2)
            if h.errors_counted:
                busy_err = f"{r.error_ratio:.3f}" if r.error_ratio is not None else "–"
                ok &= r.error_ratio is not None and abs(r.error_ratio - 1 / FAIL_EVERY) <= 0.035
            else:
                busy_err = "not counted by the server" + (
                    f" (read {r.error_ratio})" if r.error_ratio is not None else ""
                )
                ok &= r.error_ratio is None
            lat = busy.latency
            client_p95 = load.sent.quantile(0.95)
            client = f"{client_p95 * 1000:.1f} ms"
            if lat.p50 is not None:
                shown = " / ".join(quantile(getattr(lat, k), lat.bounds_of(k)) for k in ("p50", "p95"))
            else:
                shown = f"average {lat.avg * 1000:.2f} ms" if lat.avg is not None else "–"
            wrong = bounds_ok(busy, client_p95)
            ok &= not wrong
            notes += wrong
            u = busy.counter_updates
            notes.append(f"updates: {u.note if u else 'continuous'}")
            notes.append(f"note: {busy.metrics.note if busy.metrics else '-'}")
        except Exception as exc:  # a row that says what failed, not a traceback
            ok = False
            notes.append(f"FAILED: {exc}".replace("\n", " ")[:1500])
        finally:
            stop_process(proc)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    versions = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in installed_versions(h.id).splitlines()
        if "==" in line
    }
    named = ", ".join(f"{p} {versions.get(p, '?')}" for p in h.packages)
    day = datetime.now(UTC).date().isoformat()
    cells = [h.id, day, named, idle_rps, busy_rps, busy_err, shown, client, preset, "ok" if ok else "FAILED"]
    return "| " + " | ".join(cells) + " | " + "; ".join(notes).replace("|", "\\|") + " |", ok


def main(argv: list[str]) -> int:
    ids = argv or list(HEAVY)
    all_ok = True
    print(
        "| server | date | versions | idle req/s | req/s read (sent) | error ratio (true 0.100) | p50 / p95 shown"
        " | client p95 | preset | result | notes |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for i in ids:
        row, ok = run(HEAVY[i])
        print(row, flush=True)
        all_ok &= ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
