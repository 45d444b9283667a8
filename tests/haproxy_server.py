"""A real round-robin load balancer for the tests: Debian's haproxy in ``mode http`` on a loopback port.

``balance roundrobin`` in http mode spreads the requests of one keep-alive client over the servers, as
a Kubernetes Service or a cloud balancer spreads a fleet's traffic: the replica that receives a label
is usually not the one that scored its prediction.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from conftest import free_port, wait_http

from streamflow_tui.core.embedded import stop_process

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def config(port: int, servers: list[str], check: bool) -> str:
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    option http-keep-alive",
        "frontend api",
        f"    bind 127.0.0.1:{port}",
        "    default_backend replicas",
        "backend replicas",
        "    balance roundrobin",
        # A replica that stops answering is taken out within a second, as a Service's readiness probe does.
        "    option httpchk GET /health" if check else "",
    ]
    for i, url in enumerate(servers):
        parts = urlsplit(url)
        checks = " check inter 500ms fall 1 rise 1" if check else ""
        lines.append(f"    server r{i} {parts.hostname}:{parts.port}{checks}")
    return "\n".join(lines) + "\n"


@contextmanager
def running_haproxy(servers: list[str], *, check: bool = True) -> Iterator[str]:
    """haproxy round-robin over ``servers`` (base URLs); yields its base URL."""
    folder = Path(tempfile.mkdtemp(prefix="streamflow-haproxy-"))
    port = free_port()
    (folder / "haproxy.cfg").write_text(config(port, servers, check))
    check_cfg = subprocess.run([HAPROXY, "-c", "-f", str(folder / "haproxy.cfg")], capture_output=True, text=True)
    assert check_cfg.returncode == 0, check_cfg.stdout + check_cfg.stderr
    proc = subprocess.Popen(
        [HAPROXY, "-f", str(folder / "haproxy.cfg"), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health", proc=proc)
        yield url
    finally:
        stop_process(proc)
        shutil.rmtree(folder, ignore_errors=True)
