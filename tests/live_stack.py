"""Session-wide real parts: bundled APIs under steady traffic, scraped by real Prometheus servers."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from conftest import running_api
from prometheus_server import query, running_prometheus, scrape_config
from traffic_sender import send
from waiting import wait_until

import streamflow_data as sd


class SteadyTraffic:
    """Posts to /predict at a fixed pace from a child process (``traffic_sender``); one request in ten asks for
    an unknown user."""

    def __init__(self, urls: list[str], rate_per_url: float):
        self.urls = urls
        self.rate_per_url = rate_per_url  # the nominal pace; what a busy machine achieves is counted in ``sent``
        self.interval = 1.0 / (rate_per_url * len(urls))
        self.users = [r["user_id"] for r in sd.iter_rows(sd.LATEST_MONTH)][:500]
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._counts = context.Array("q", len(urls), lock=False)  # one writer: the child
        self._stop = context.Event()
        self._process = context.Process(
            target=send, args=(urls, self.users, self.interval, self._counts, self._stop), daemon=True
        )

    @property
    def sent(self) -> dict[str, int]:
        """Requests answered so far, per URL."""
        return dict(zip(self.urls, self._counts[:]))

    def start(self) -> SteadyTraffic:
        self._process.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


@dataclass
class LiveStack:
    api: str  # scraped alone by `prometheus`
    prometheus: str
    replicas: list[str] = field(default_factory=list)  # scraped together by `replicas_prometheus`
    replicas_prometheus: str = ""
    traffic: SteadyTraffic | None = None


def wait_for_rates(prometheus_url: str, expected_targets: int, timeout: float = 40) -> None:
    """Until Prometheus holds five scrapes with traffic of every target in the last 10 s."""

    def rates_of_every_target() -> bool:
        at = time.time() - 1
        rows = query(prometheus_url, 'count_over_time(api_requests_total{endpoint="/predict",code="200"}[10s])', at)
        rates = query(prometheus_url, 'rate(api_requests_total{endpoint="/predict",code="200"}[10s])', at)
        return (
            len(rows) >= expected_targets
            and all(float(r["value"][1]) >= 5 for r in rows)
            and all(float(r["value"][1]) > 0 for r in rates)
        )

    wait_until(
        rates_of_every_target, timeout, f"{prometheus_url} has rates for {expected_targets} targets", interval=0.5
    )


@contextmanager
def live_stack(n_replicas: int = 2, rate_per_api: float = 40.0) -> Iterator[LiveStack]:
    with ExitStack() as stack:
        api = stack.enter_context(running_api())
        replicas = [stack.enter_context(running_api()) for _ in range(n_replicas)]
        prom = stack.enter_context(running_prometheus(scrape_config([api.removeprefix("http://")])))
        prom_replicas = stack.enter_context(
            running_prometheus(scrape_config([r.removeprefix("http://") for r in replicas]))
        )
        traffic = SteadyTraffic([api, *replicas], rate_per_api).start()
        stack.callback(traffic.stop)
        wait_for_rates(prom, 1)
        wait_for_rates(prom_replicas, n_replicas)
        yield LiveStack(api, prom, replicas, prom_replicas, traffic)
