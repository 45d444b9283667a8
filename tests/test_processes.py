"""Nothing is left running: the console on kill -TERM or a closed terminal (SIGHUP), and
``streamflow-api --workers 2`` when its terminal closes."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import free_port, wait_http
from waiting import wait_until


def children(pid: int) -> set[int]:
    """Every descendant of ``pid``, from /proc."""
    by_parent: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        by_parent.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    """The pids still alive when all are gone or ``timeout`` s have passed (the caller asserts on them)."""
    try:
        wait_until(lambda: not any(alive(p) for p in pids), timeout, "every process gone", interval=0.1)
    except AssertionError:
        pass
    return {p for p in pids if alive(p)}


def start_console_in_a_terminal() -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamflow_tui.cli"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def drain(master: int) -> bytes:
    """What the console wrote to its terminal since the last drain (a full pty would block it)."""
    import select

    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0)
            chunk = os.read(master, 65536) if ready else b""
            if not chunk:
                return bytes(out)
            out += chunk
    except OSError:
        return bytes(out)


# The footer's last binding: painted once the app has mounted, so it is in its loop with its SIGTERM and
# SIGHUP handlers in place (they are set on mount).
PAINTED = b"Quit"


def wait_for_embedded_api(proc: subprocess.Popen, master: int, timeout: float = 90) -> set[int]:
    """Until the console's embedded API and drift worker run and its first screen is painted; their pids."""
    screen = bytearray()

    def started() -> bool:
        screen.extend(drain(master))
        kids = children(proc.pid)
        cmdlines = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in kids if Path(f"/proc/{p}/cmdline").exists()}
        api = [p for p, c in cmdlines.items() if b"api.cli" in c or b"streamflow-api" in c]
        return bool(api) and len(kids) >= 2 and PAINTED in screen

    wait_until(started, timeout, "the console's embedded API, drift worker and first screen", interval=0.2)
    drain(master)
    return children(proc.pid)


def test_kill_term_stops_the_embedded_api_and_the_drift_worker():
    proc, master = start_console_in_a_terminal()
    try:
        kids = wait_for_embedded_api(proc, master)
        proc.send_signal(signal.SIGTERM)
        # Drained while it quits: a terminal nobody reads would block the console's last writes.
        wait_until(
            lambda: drain(master) is not None and proc.poll() is not None,
            20,
            "the console exits on SIGTERM",
            interval=0.1,
        )
        assert wait_gone(kids, 15) == set(), "processes left running"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_closing_the_terminal_stops_everything():
    proc, master = start_console_in_a_terminal()
    kids = wait_for_embedded_api(proc, master)
    os.close(master)  # the terminal goes away
    proc.send_signal(signal.SIGHUP)  # what the kernel sends the session when it does
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_gone(kids, 15) == set(), "processes left running"


def test_api_with_two_workers_stops_on_sighup():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=90, proc=proc)
        kids = children(proc.pid)
        assert len(kids) >= 2
        proc.send_signal(signal.SIGHUP)  # uvicorn's own supervisor would restart the workers instead
        proc.wait(timeout=20)
        assert wait_gone(kids, 15) == set()
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            raise AssertionError("still answering after SIGHUP")
        except httpx.ConnectError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
