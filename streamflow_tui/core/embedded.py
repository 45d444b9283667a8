"""The embedded default: the bundled API started on a free loopback port, stopped on exit.

It serves a model registry of its own — a temporary directory, removed with it — unless the user names one
(``--registry-location``, ``--registry mlflow``, or the API's own ``STREAMFLOW_API_REGISTRY*`` variables): the
console's ``r`` promotes into the registry its API serves, and no other API of the account, serving the
shared ``<cache>/streamflow/registry``, swaps its model because someone tried a retrain in a console. Its
first model is the bundled one, from the shared model cache (no training after the first start ever).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from streamflow_data.policy import DEFAULT_REGISTRY, REGISTRY_ENV, REGISTRY_LOCATION_ENV

from .errors import EmbeddedApiError

START_TIMEOUT_S = 90.0  # a first start trains the model (~3 s on a 2-core machine)
PRIVATE_REGISTRY_PREFIX = "streamflow-registry-"


@dataclass(frozen=True)
class RegistryChoice:
    """The registry the console's API serves and its ``r`` promotes into."""

    kind: str  # local or mlflow
    location: str | None = None  # None: the backend's default (<cache>/streamflow/registry, $MLFLOW_TRACKING_URI)
    private: bool = False  # a temporary one of this console's embedded API, removed when it stops

    @property
    def named(self) -> bool:
        """Named by the user: a location, or MLflow (whose store is always someone's)."""
        return self.location is not None or self.kind != DEFAULT_REGISTRY


def named_registry(kind: str | None, location: str | None, environ: Mapping[str, str] = os.environ) -> RegistryChoice:
    """The flags, else the API's own variables (what an API started in this environment would serve)."""
    return RegistryChoice(
        kind or environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY, location or environ.get(REGISTRY_LOCATION_ENV) or None
    )


@dataclass(frozen=True)
class EmbeddedApi:
    url: str
    registry: RegistryChoice


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_registry(registry: RegistryChoice) -> Iterator[RegistryChoice]:
    """``registry`` when the user named it; else a temporary directory, removed on exit."""
    if registry.named:
        yield registry
        return
    folder = tempfile.mkdtemp(prefix=PRIVATE_REGISTRY_PREFIX)
    try:
        yield RegistryChoice(registry.kind, folder, private=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def embedded_api(month: str | None = None, registry: RegistryChoice | None = None) -> Iterator[EmbeddedApi]:
    """Run ``streamflow-api`` as a child process, serving ``registry`` (default: the one the environment
    names) or a private one; yield its base URL and registry once it answers."""
    port = free_loopback_port()
    cmd = [sys.executable, "-m", "api.cli", "--host", "127.0.0.1", "--port", str(port)]
    if month:
        cmd += ["--month", month]
    with private_registry(registry or named_registry(None, None)) as served, tempfile.TemporaryFile() as log:
        cmd += ["--registry", served.kind] + (["--registry-location", served.location] if served.location else [])
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=os.environ.copy()
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(url, proc, log)
            yield EmbeddedApi(url, served)
        finally:
            stop_process(proc)  # before its registry is removed


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
