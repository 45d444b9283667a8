"""Start Debian's Prometheus (2.42) for tests: throwaway config and data dir, free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import free_port

from streamflow_tui.core.embedded import stop_process

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


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
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()[-2000:]}")
                try:
                    if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("prometheus did not become ready")
                time.sleep(0.05)
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
