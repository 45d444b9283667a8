"""Real servers installed from the package registry, each in its own virtualenv, for the real-server tier.

A server's requirements are ``tests/real_servers/<name>.txt``; its virtualenv lives under
``$STREAMFLOW_TEST_VENVS`` (default ``~/.cache/streamflow-test-venvs``) in a folder named by the hash of those
requirements and the Python version, so a changed requirement makes a new one and an unchanged one is reused
across runs. A virtualenv is built in a temporary folder and renamed into place only when complete: a run
stopped half-way leaves nothing that looks ready.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent / "real_servers"
APPS = HERE / "apps"


def cache_dir() -> Path:
    return Path(os.environ.get("STREAMFLOW_TEST_VENVS") or Path.home() / ".cache" / "streamflow-test-venvs")


def requirements(name: str) -> Path:
    return HERE / f"{name}.txt"


def venv_path(name: str) -> Path:
    digest = hashlib.sha256(requirements(name).read_bytes() + sys.version.encode()).hexdigest()[:12]
    return cache_dir() / f"{name}-{digest}"


def python_of(name: str) -> Path:
    return venv_path(name) / "bin" / "python"


def ensure_venv(name: str, timeout: float = 900) -> Path:
    """The server's virtualenv, built once per requirements hash; returns its python."""
    target = venv_path(name)
    if (target / ".ready").exists():
        return target / "bin" / "python"
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=120)
        done = subprocess.run(
            [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements(name))],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip install -r {requirements(name).name} failed:\n{done.stderr[-3000:]}")
        (building / ".ready").write_text(freeze(building))
        if target.exists():  # another run finished first: keep theirs
            return target / "bin" / "python"
        # Renamed whole: its console scripts keep the old path in their shebangs, but the servers are run as
        # ``python app.py`` and pip as ``python -m pip``, which do not use them.
        os.rename(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target / "bin" / "python"


def freeze(venv: Path) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, timeout=120
    )
    return done.stdout


def installed_versions(name: str) -> str:
    """What ``pip freeze`` found when the virtualenv was built (for reports)."""
    ready = venv_path(name) / ".ready"
    return ready.read_text() if ready.exists() else ""


def ensure_all(names: list[str], workers: int = 3) -> dict[str, Path | Exception]:
    """Build the missing virtualenvs in parallel (pip waits on the network more than on the CPU)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(ensure_venv, name) for name in dict.fromkeys(names)}
    out: dict[str, Path | Exception] = {}
    for name, future in futures.items():
        try:
            out[name] = future.result()
        except Exception as exc:  # reported per server by the test that needs it
            out[name] = exc
    return out
