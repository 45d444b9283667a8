"""Shared fixtures: real servers on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import settings
from waiting import wait_until

from streamflow_tui.core.embedded import stop_process

REPO = Path(__file__).resolve().parents[1]

# CI replays the same generated examples on every run, so a red CI always means the change; local runs
# keep drawing new examples (that is how the q=0 quantile edge case was found).
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Charts label their time axis in local time: the suite runs in UTC, so the console's snapshots are the
# same on every machine (and in every subprocess the tests start).
os.environ["TZ"] = "UTC"
time.tzset()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    def answers() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout, f"{url} answers")


@contextmanager
def running_api(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``streamflow-api`` on a free loopback port; yield its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "api.cli", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health", proc=proc)
        yield url
    finally:
        stop_process(proc)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory) -> None:
    """Every test session trains into its own model cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def api_url() -> Iterator[str]:
    """A fresh bundled API, so metric counts start from zero."""
    with running_api() as url:
        yield url


@pytest.fixture(scope="session")
def live():
    """One API alone and two replicas, under steady traffic, each group scraped by a real Prometheus."""
    from live_stack import live_stack

    with live_stack() as stack:
        yield stack
