"""Delayed ground truth: after a prediction was answered, send that row's true label to /feedback.

As in the real world, labels arrive late (``--feedback-delay``) and not for every
prediction (``--feedback-fraction``). The bundled months carry ``churn_label``:
the label of the very row that was sent is joined to the ``prediction_id`` its
answer carried, whatever the payload (by user id, a label would land on every
unlabelled prediction of that user, and on a replica other than the one that
scored it, or on a row of another month). Sending runs in a thread of its own,
in batches: the load engine's loop only notes what was answered.
"""

from __future__ import annotations

import heapq
import random
import re
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

BATCH = 1000
PREDICTION_ID = re.compile(rb'"prediction_id"\s*:\s*"([^"]{1,128})"')


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
        self.no_id = 0  # answers without a prediction_id: nothing to join a label to
        self.error: str | None = None
        self._rng = random.Random(seed)
        self._due: list[tuple[float, int, str]] = []  # (due time, index into labels, prediction id), a heap
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamflow-feedback", daemon=True)
        self._thread.start()

    def answered(self, index: int, at: float, body: bytes) -> None:
        """The row ``labels[index]`` was answered (2xx) at ``at`` (perf_counter) with ``body``."""
        if self.fraction < 1 and self._rng.random() >= self.fraction:
            return
        found = PREDICTION_ID.search(body)
        if found is None:
            self.no_id += 1
            self.error = "answers carry no prediction_id: labels cannot be joined to them"
            return
        with self._lock:
            heapq.heappush(self._due, (at + self.delay, index % len(self.labels), found.group(1).decode()))

    def _take_due(self, now: float) -> list[tuple[int, str]]:
        with self._lock:
            out: list[tuple[int, str]] = []
            while self._due and self._due[0][0] <= now and len(out) < BATCH:
                _, index, prediction_id = heapq.heappop(self._due)
                out.append((index, prediction_id))
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

    def _send(self, client: httpx.Client, due: list[tuple[int, str]]) -> None:
        items = [{"prediction_id": prediction_id, "actual": self.labels[i][1]} for i, prediction_id in due]
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
            "no_id": self.no_id,
            "error": self.error,
        }
