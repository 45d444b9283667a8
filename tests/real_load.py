"""A known load for the real-server tier: requests at a fixed rate with a fixed share of failures, and a
health probe beside it, each on its own thread and schedule (sends at intended times, not back-to-back)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Sent:
    """What one sender did: answered requests, the failures it asked for, and the client-side latencies."""

    answered: int = 0
    failures: int = 0  # requests sent with ?fail=1 (the app answers 500 or raises)
    refused: int = 0  # transport errors: no answer at all
    latencies: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Sender:
    """Sends GET (or a JSON POST) to ``url`` ``rps`` times a second until stopped; every ``fail_every``-th
    asks for a failure. ``bodies`` (a good and a failing JSON body) posts those instead: a model server's own
    request format (MLServer's V2 inference request, KServe's v1 instances)."""

    def __init__(
        self,
        url: str,
        rps: float,
        fail_every: int = 0,
        *,
        post: bool = False,
        bodies: tuple[object, object] | None = None,
    ):
        self.url, self.rps, self.fail_every, self.post, self.bodies = url, rps, fail_every, post, bodies
        self.sent = Sent()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        start = time.monotonic()
        n = 0
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                n += 1
                fail = bool(self.fail_every) and n % self.fail_every == 0
                began = time.monotonic()
                try:
                    if self.bodies is not None:
                        client.post(self.url, json=self.bodies[fail])
                    elif self.post:  # a JSON API (BentoML): the failure asked for in the body
                        client.post(self.url, json={"fail": 1} if fail else {})
                    else:
                        client.get(self.url, params={"fail": "1"} if fail else None)
                except httpx.HTTPError:
                    self.sent.refused += 1
                else:
                    self.sent.answered += 1
                    self.sent.failures += fail
                    self.sent.latencies.append(time.monotonic() - began)
                # The next send at its intended time: the rate holds whatever each request took.
                self._stop.wait(max(0.0, start + n / self.rps - time.monotonic()))
