"""Start Debian's Prometheus (2.42) for tests: throwaway config and data dir, free loopback port; a failed test
when the installed server is not the 2.x these tests assume."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from waiting import wait_until

from streamflow_tui.core.embedded import stop_process

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# What every test that starts this server assumes: Prometheus 2.x, as Debian 12 ships it (2.42). Prometheus 3.0
# changed what they compare against (its migration guide): range selectors are left-open (a sample exactly at a
# window's start is left out of rate()/increase()), le/quantile label values are normalised to floats ("1" ->
# "1.0"), and a scrape whose Content-Type is missing or unknown fails instead of falling back to text.
ASSUMED_MAJOR = "2"
ASSUMED = (
    "Prometheus 2.x semantics (written against Debian's 2.42): range selectors closed at both ends, "
    "le/quantile labels as exposed, text parsing for any Content-Type"
)


def check_version(url: str) -> str:
    """The running server's version, from /api/v1/status/buildinfo; a failed test when it is not 2.x."""
    body = httpx.get(url + "/api/v1/status/buildinfo", timeout=5).json()
    version = str(body.get("data", {}).get("version", "?"))
    if version.split(".")[0] != ASSUMED_MAJOR:
        pytest.fail(
            f"{PROMETHEUS} at {url} is Prometheus {version}; these tests assume {ASSUMED}. "
            "Install Prometheus 2.x (Debian's `prometheus` package) or re-check the tests' expectations "
            "against this version.",
            pytrace=False,
        )
    return version


def scrape_config(targets: list[str], interval: str = "1s") -> str:
    quoted = ", ".join(f'"{t}"' for t in targets)
    return f"""global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: streamflow-api
    static_configs:
      - targets: [{quoted}]
"""


@contextmanager
def running_prometheus(config: str = "", data_dir: Path | None = None) -> Iterator[str]:
    """Yield the base URL of a Prometheus that is ready to answer queries."""
    workdir = Path(tempfile.mkdtemp(prefix="streamflow-prom-"))
    try:
        (workdir / "prometheus.yml").write_text(config or "global: {}\n")
        port = free_port()
        cmd = [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={data_dir or workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",  # backfilled test data is old
        ]
        log = (workdir / "prometheus.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:

            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()[-2000:]}")
                try:
                    return httpx.get(url + "/-/ready", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(ready, 30, f"{PROMETHEUS} ready at {url}")
            check_version(url)
            yield url
        finally:
            stop_process(proc)
            log.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def backfill(openmetrics_text: str, data_dir: Path) -> None:
    """Write TSDB blocks from OpenMetrics text with ``promtool tsdb create-blocks-from``."""
    source = data_dir.parent / "backfill.om"
    source.write_text(openmetrics_text)
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        check=True,
        capture_output=True,
    )


def query(url: str, expr: str, at: float) -> list[dict]:
    response = httpx.get(url + "/api/v1/query", params={"query": expr, "time": f"{at:.3f}"}, timeout=10)
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]
