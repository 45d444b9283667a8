"""The embedded default: the bundled API started on a free loopback port, stopped on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from .errors import EmbeddedApiError

START_TIMEOUT_S = 90.0  # a first start trains the model (~3 s on a 2-core machine)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def embedded_api(month: str | None = None) -> Iterator[str]:
    """Run ``streamflow-api`` as a child process; yield its base URL once it answers."""
    port = free_loopback_port()
    cmd = [sys.executable, "-m", "api.cli", "--host", "127.0.0.1", "--port", str(port)]
    if month:
        cmd += ["--month", month]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=os.environ.copy()
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(url, proc, log)
            yield url
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_healthy(url: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
                raise EmbeddedApiError(f"the bundled API exited with {proc.returncode}: " + " | ".join(tail))
            try:
                if client.get(url + "/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise EmbeddedApiError(f"the bundled API did not answer on {url} within {START_TIMEOUT_S:.0f} s")
