"""A fleet as users run one: API replicas (real ``streamflow-api`` processes) sharing one PostgreSQL
prediction log, behind a real round-robin balancer (haproxy)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from conftest import free_port, wait_http
from metrics_text import samples, total
from postgres_server import Postgres

from streamflow_tui.core.embedded import stop_process


@dataclass
class Replica:
    url: str
    proc: subprocess.Popen
    stderr: str = ""  # what it said, once stopped

    def metric(self, name: str, **labels: str) -> float:
        return total(samples(httpx.get(self.url + "/metrics", timeout=10).text), name, **labels)


@dataclass
class Fleet:
    pg: Postgres
    replicas: list[Replica] = field(default_factory=list)

    def metric(self, name: str, **labels: str) -> float:
        """Summed over the replicas, as Prometheus sums them."""
        return sum(r.metric(name, **labels) for r in self.replicas)

    def rows(self, where: str = "true") -> int:
        """Rows in the shared log; -1 while its table does not exist yet (the database was down at start)."""
        try:
            return int(self.pg.psql(f"SELECT count(*) FROM streamflow_predictions WHERE {where}").strip() or 0)
        except subprocess.CalledProcessError as exc:
            if "does not exist" in exc.stderr:
                return -1
            raise


def replica_env(pg: Postgres, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "STREAMFLOW_API_PREDICTION_LOG": pg.url,
        "STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE": str(pg.password_file),
        "STREAMFLOW_API_REGISTRY_POLL_S": "0",
        **{f"STREAMFLOW_API_{k.upper()}": v for k, v in settings.items()},
    }


def start_replicas(env: dict[str, str], n: int) -> list[Replica]:
    """``n`` API processes started together (they start in parallel), each answering /health."""
    started = []
    for _ in range(n):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(Replica(f"http://127.0.0.1:{port}", proc))
    for replica in started:
        wait_http(replica.url + "/health", timeout=60, proc=replica.proc)
    return started


def stop(replica: Replica) -> None:
    stop_process(replica.proc)
    replica.stderr = replica.proc.stderr.read() if replica.proc.stderr else ""


@contextmanager
def running_fleet(pg: Postgres, n: int = 3, **settings: str) -> Iterator[Fleet]:
    fleet = Fleet(pg, start_replicas(replica_env(pg, **settings), n))
    try:
        yield fleet
    finally:
        for replica in fleet.replicas:
            stop(replica)
