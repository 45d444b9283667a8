"""Client CPU per request at a fixed open-model rate: streamflow-load next to hey (#17's "fewer machines").

    python bench/client_cpu.py [--rate 2000] [--seconds 10] [--rounds 3] [--baseline REV] [--pin]

The bundled API serves ``/health`` on a free loopback port (on CPU 0 when ``--pin``, the clients on CPU 1).
Each round runs hey (``-c 20 -q rate/20``: 20 workers each rate-limited, hey's open-ish model) and
``python -m loadgen.cli --rate R --endpoint /health`` for ``--seconds``, interleaved. A client's CPU is the
user+sys of its whole process tree (``os.wait4``'s rusage); its start-up cost is the same tool sending one
request, measured the same way, and is subtracted. CPU per request = (run − start-up) ÷ requests answered.
``--baseline REV`` adds streamflow-load as it was at a git revision (a throwaway worktree), in the same rounds.
streamflow-load's own corrected and uncorrected p50/p99 are kept beside its CPU: a cheaper client must not
buy its CPU with a later schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, pinned, uvicorn_server, worktree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], tree: Path = ROOT) -> tuple[float, str]:
    """(user+sys seconds of the process and its children, stdout), run from the checkout ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tree, env=env)
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


def schedule_figures(tool: str, out: str) -> dict:
    """streamflow-load's latency (ms) and lateness; hey reports no schedule of its own."""
    if tool == "hey":
        return {}
    report = json.loads(out)
    lat = report["latency_seconds"]
    return {
        **{f"{kind}_{p}_ms": lat[kind][p] * 1e3 for kind in ("corrected", "uncorrected") for p in ("p50", "p99")},
        "late": report["totals"]["late"],
        "max_send_lag_ms": report["max_send_lag_s"] * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pin", action="store_true", help="API on CPU 0, clients on CPU 1")
    parser.add_argument("--baseline", help="also run streamflow-load as it was at this git revision")
    args = parser.parse_args()
    server_cpus, client_cpus = ("0", "1") if args.pin else (None, None)
    with ExitStack() as stack:
        tools: dict[str, tuple[Callable, Path]] = {"hey": (hey_cmd, ROOT), "streamflow-load": (load_cmd, ROOT)}
        if args.baseline:
            tools[f"streamflow-load@{args.baseline}"] = (load_cmd, stack.enter_context(worktree(args.baseline)))
        runs: dict[str, list[dict]] = {tool: [] for tool in tools}
        base = stack.enter_context(uvicorn_server({}, server_cpus))
        url = base + "/health"
        for _ in range(args.rounds):
            for tool, (cmd, tree) in tools.items():
                startup, _ = timed(cmd(url, args.rate, None, client_cpus), tree)
                cpu, out = timed(cmd(url, args.rate, args.seconds, client_cpus), tree)
                n = answered(tool, out)
                runs[tool].append(
                    {
                        "startup_cpu_s": startup,
                        "cpu_s": cpu,
                        "answered": n,
                        "us_per_request": (cpu - startup) / n * 1e6 if n else None,
                        **schedule_figures(tool, out),
                    }
                )
    median = {tool: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for tool, rs in runs.items()}
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "args": vars(args),
                "median": median,
                "runs": runs,
                "vs_hey_cpu_per_request": {
                    tool: m["us_per_request"] / median["hey"]["us_per_request"]
                    for tool, m in median.items()
                    if tool != "hey"
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
