"""Client CPU per request at a fixed open-model rate: streamflow-load next to hey (#17's "fewer machines").

    python bench/client_cpu.py [--rate 2000] [--seconds 10] [--rounds 3]

The bundled API serves ``/health`` on a free loopback port (on CPU 0 when ``--pin``, the clients on CPU 1).
Each round runs hey (``-c 20 -q rate/20``: 20 workers each rate-limited, hey's open-ish model) and
``python -m loadgen.cli --rate R --endpoint /health`` for ``--seconds``, interleaved. A client's CPU is the
user+sys of its whole process tree (``os.wait4``'s rusage); its start-up cost is the same tool sending one
request, measured the same way, and is subtracted. CPU per request = (run − start-up) ÷ requests answered.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, pinned, uvicorn_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> tuple[float, str]:
    """(user+sys seconds of the process and its children, stdout)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]} exited {status}")
    return usage.ru_utime + usage.ru_stime, out


def hey_cmd(url: str, rate: float, seconds: float | None, cpus: str | None) -> list[str]:
    if seconds is None:  # start-up: one request
        return [*pinned(cpus), "hey", "-n", "1", "-c", "1", url]
    workers = 20
    return [*pinned(cpus), "hey", "-z", f"{seconds}s", "-c", str(workers), "-q", f"{rate / workers:g}", url]


def load_cmd(url: str, rate: float, seconds: float | None, cpus: str | None) -> list[str]:
    base = [*pinned(cpus), sys.executable, "-m", "loadgen.cli", "--url", url, "--no-progress", "--json"]
    if seconds is None:
        return [*base, "--concurrency", "1", "--requests", "1"]
    return [*base, "--rate", f"{rate:g}", "--duration", f"{seconds:g}"]


def answered(tool: str, out: str) -> int:
    if tool == "hey":
        return sum(int(n) for n in re.findall(r"\[\d{3}\]\s+(\d+) responses", out))
    totals = json.loads(out)["totals"]
    return int(totals["ok"] + totals["errors"] - totals["no_answer"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pin", action="store_true", help="API on CPU 0, clients on CPU 1")
    args = parser.parse_args()
    server_cpus, client_cpus = ("0", "1") if args.pin else (None, None)
    tools = {"hey": hey_cmd, "streamflow-load": load_cmd}
    runs: dict[str, list[dict]] = {tool: [] for tool in tools}
    with uvicorn_server({}, server_cpus) as base:
        url = base + "/health"
        for _ in range(args.rounds):
            for tool, cmd in tools.items():
                startup, _ = timed(cmd(url, args.rate, None, client_cpus))
                cpu, out = timed(cmd(url, args.rate, args.seconds, client_cpus))
                n = answered(tool, out)
                runs[tool].append(
                    {
                        "startup_cpu_s": startup,
                        "cpu_s": cpu,
                        "answered": n,
                        "us_per_request": (cpu - startup) / n * 1e6 if n else None,
                    }
                )
    median = {
        tool: {k: statistics.median(r[k] for r in rs) for k in ("startup_cpu_s", "cpu_s", "answered", "us_per_request")}
        for tool, rs in runs.items()
    }
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "args": vars(args),
                "median": median,
                "runs": runs,
                "load_vs_hey_cpu_per_request": median["streamflow-load"]["us_per_request"]
                / median["hey"]["us_per_request"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
