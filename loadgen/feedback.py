"""Delayed ground truth: after a prediction was answered, send that row's true label to /feedback.

As in the real world, labels arrive late (``--feedback-delay``) and not for every
prediction (``--feedback-fraction``). The bundled months carry ``churn_label``;
the label joins the prediction by user id (the API labels that user's unlabelled
predictions). Sending runs in a thread of its own, in batches: the load
engine's loop only notes what was answered.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

BATCH = 1000


class FeedbackSender:
    def __init__(self, target_url: str, labels: list[tuple[str, int]], *, delay: float, fraction: float, seed: int = 0):
        parts = urlsplit(target_url)
        self.url = urlunsplit((parts.scheme, parts.netloc, "/feedback", "", ""))
        self.labels = labels
        self.delay = delay
        self.fraction = fraction
        self.sent = 0  # labels the API took
        self.unknown = 0  # labels the API had no prediction for
        self.failed = 0  # labels that could not be delivered (errors said in `error`)
        self.error: str | None = None
        self._rng = random.Random(seed)
        self._due: list[tuple[float, int]] = []  # (due time, index into labels), a heap
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamflow-feedback", daemon=True)
        self._thread.start()

    def answered(self, index: int, at: float) -> None:
        """A prediction for ``labels[index]`` was answered (2xx) at ``at`` (perf_counter)."""
        if self.fraction < 1 and self._rng.random() >= self.fraction:
            return
        with self._lock:
            heapq.heappush(self._due, (at + self.delay, index % len(self.labels)))

    def _take_due(self, now: float) -> list[int]:
        with self._lock:
            out: list[int] = []
            while self._due and self._due[0][0] <= now and len(out) < BATCH:
                out.append(heapq.heappop(self._due)[1])
            return out

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                stopping = self._stop.is_set()
                due = self._take_due(time.perf_counter())
                if due:
                    self._send(client, due)
                    continue
                with self._lock:
                    empty = not self._due
                if stopping and empty:
                    return
                time.sleep(0.05)

    def _send(self, client: httpx.Client, indexes: list[int]) -> None:
        items = [{"user_id": self.labels[i][0], "actual": self.labels[i][1]} for i in indexes]
        try:
            response = client.post(self.url, json={"items": items})
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            body = response.json()
            self.unknown += body.get("unknown", 0)
            self.sent += len(items) - body.get("unknown", 0)
        except Exception as exc:  # counted and said: labels lost to a broken endpoint are not silent
            self.failed += len(items)
            self.error = f"{self.url}: {exc or type(exc).__name__}"

    def close(self, timeout: float | None = None) -> None:
        """Send what is still due (waiting out the delay of the last answers), then stop."""
        self._stop.set()
        self._thread.join(self.delay + 15 if timeout is None else timeout)

    def summary(self) -> dict:
        return {
            "delay_s": self.delay,
            "fraction": self.fraction,
            "sent": self.sent,
            "unknown": self.unknown,
            "failed": self.failed,
            "error": self.error,
        }
