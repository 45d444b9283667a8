"""Real foreign targets and backends, started for tests: Debian's node_exporter and VictoriaMetrics,
and a prometheus-client app served by the library's own (gzip-capable) HTTP server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import free_port
from waiting import wait_until

from streamflow_tui.core.embedded import stop_process

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
VICTORIA_METRICS = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30, **kwargs) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(url, timeout=1, **kwargs).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout, f"{url} ready")


@contextmanager
def _process(cmd: list[str], ready_url: str, workdir: Path, **kwargs) -> Iterator[None]:
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            wait_ready(ready_url, proc, log_path, **kwargs)
            yield
        finally:
            stop_process(proc)


@contextmanager
def running_node_exporter() -> Iterator[str]:
    """Debian's prometheus-node-exporter (Go, gzips /metrics when asked) on a free loopback port."""
    workdir = Path(tempfile.mkdtemp(prefix="streamflow-node-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        with _process([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"], url + "/metrics", workdir):
            yield url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def running_victoria_metrics(
    targets: list[str],
    *,
    interval: str = "1s",
    path_prefix: str = "",
    user: str | None = None,
    password: str | None = None,
    metrics_path: str = "/metrics",
) -> Iterator[str]:
    """Debian's VictoriaMetrics scraping ``targets`` (host:port) like Prometheus; yields its query base URL."""
    workdir = Path(tempfile.mkdtemp(prefix="streamflow-vm-"))
    port = free_port()
    quoted = ", ".join(f'"{t}"' for t in targets)
    (workdir / "scrape.yml").write_text(
        textwrap.dedent(f"""\
        global:
          scrape_interval: {interval}
        scrape_configs:
          - job_name: streamflow-api
            metrics_path: {metrics_path}
            static_configs:
              - targets: [{quoted}]
        """)
    )
    cmd = [
        VICTORIA_METRICS,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir / 'data'}",
        f"-promscrape.config={workdir / 'scrape.yml'}",
        "-retentionPeriod=1",
        "-search.latencyOffset=0s",
    ]
    if path_prefix:
        cmd.append(f"-http.pathPrefix={path_prefix}")
    auth = None
    if user:
        cmd += [f"-httpAuth.username={user}", f"-httpAuth.password={password or ''}"]
        auth = (user, password or "")
    base = f"http://127.0.0.1:{port}{path_prefix}"
    try:
        with _process(cmd, base + "/health", workdir, auth=auth):
            yield base
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


CLIENT_APP = """
import sys, time
from prometheus_client import Counter, Histogram, start_http_server
requests = Counter("http_requests_total", "Requests.", ["handler", "code"])
latency = Histogram("http_request_duration_seconds", "Latency.", ["handler"])
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
print("ready", flush=True)
for line in sys.stdin:  # "<handler> <code> <n> <seconds>": n requests that took <seconds> each
    handler, code, n, seconds = line.split()
    for _ in range(int(n)):
        requests.labels(handler, code).inc()
        latency.labels(handler).observe(float(seconds))
    print("done", flush=True)
"""


class ClientApp:
    """A process serving prometheus-client's own start_http_server; ``record`` adds requests to it."""

    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc, self.url = proc, url

    def record(self, handler: str, code: str, n: int, seconds: float) -> None:
        self.proc.stdin.write(f"{handler} {code} {n} {seconds}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"


@contextmanager
def running_client_app() -> Iterator[ClientApp]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT_APP, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield ClientApp(proc, f"http://127.0.0.1:{port}")
    finally:
        proc.stdin.close()
        stop_process(proc)
