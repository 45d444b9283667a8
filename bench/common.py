"""Helpers shared by the benchmarks: servers on free ports, hey runs, machine facts."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A throwaway checkout of a git revision (a benchmark's "before" side)."""
    root = Path(__file__).resolve().parent.parent
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "tree"
    subprocess.run(
        ["git", "-C", str(root), "worktree", "add", "--detach", str(folder), rev], check=True, capture_output=True
    )
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(folder)], capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} · {os.cpu_count()} cores · {cpu} · Python {platform.python_version()}"


@contextmanager
def uvicorn_server(env: dict[str, str], cpus: str | None = None) -> Iterator[str]:
    """The API from its factory in a uvicorn process, like ``streamflow-api`` runs it (on ``cpus`` if given)."""
    with uvicorn_process(env, cpus) as (url, _):
        yield url


@contextmanager
def uvicorn_process(env: dict[str, str], cpus: str | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``uvicorn_server`` that also yields the process (for its RSS)."""
    port = free_port()
    cmd = [
        *pinned(cpus),
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.app:app_from_env",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait()


def pinned(cpus: str | None) -> list[str]:
    """A command prefix that keeps a process on the given CPUs (taskset), or nothing."""
    return ["taskset", "-c", cpus] if cpus else []


def hey(
    url: str, *, concurrency: int, seconds: float, body: str | None = None, cpus: str | None = None
) -> dict[str, float]:
    """Run Debian's hey and return requests/s and latency percentiles (seconds)."""
    cmd = [*pinned(cpus), "hey", "-z", f"{seconds}s", "-c", str(concurrency)]
    if body is not None:
        cmd += ["-m", "POST", "-T", "application/json", "-d", body]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "95", "99"):
        m = re.search(rf"{pct}% in ([\d.]+) secs", out)
        result[f"p{pct}"] = float(m.group(1)) if m else float("nan")
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    result["non_2xx"] = sum(int(n) for code, n in codes if not code.startswith("2"))
    return result
