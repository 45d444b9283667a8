"""The prediction log's interface and the batched writer both backends share (see the package's doc)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from ..errors import PredictionLogError, PredictionLogUnavailable

log = logging.getLogger("streamflow.api")

FLUSH_EVERY_S = 0.05
# While the database cannot be reached the writer retries this often (the rows wait in the bounded queue).
RETRY_EVERY_S = 1.0
# Rows queued for the writer by default (prediction_log_queue_rows); past that, new rows are dropped
# (counted) rather than held in memory: ~200 MB at most while a database is away.
MAX_PENDING = 200_000

# One queued row: (prediction_id, at, model_version, user_id, probability, predicted, row as JSON text)
Row = tuple[str, float, str, str | None, float, int, str]
# One label to join: (prediction_id, user_id, actual); exactly one of the ids is given.
LabelItem = tuple[str | None, str | None, int]


class LabelStatus(StrEnum):
    LABELLED = "labelled"  # joined now
    ALREADY = "already"  # the same label again: idempotent
    CONFLICT = "conflict"  # the prediction already has the other label: not changed
    UNKNOWN = "unknown"  # no logged prediction (never logged, or older than the log keeps)


@dataclass(frozen=True)
class Labelled:
    """A prediction that just received its label: what the labelled-prediction metrics count."""

    probability: float
    predicted: int
    actual: int


@dataclass(frozen=True)
class LogStatus:
    """What ``/health`` says of the log."""

    backend: str
    location: str  # a path, or the database URL without its password
    available: bool
    error: str | None
    pending: int
    dropped: int

    def as_json(self) -> dict:
        return {
            "backend": self.backend,
            "location": self.location,
            "status": "ok" if self.available else "unavailable",
            "error": self.error,
            "pending": self.pending,
            "dropped": self.dropped,
        }


def classify(rows: list[tuple[int | None]], actual: int) -> LabelStatus:
    """The status of a label none of whose predictions was unlabelled: ``rows`` are their labels."""
    if not rows:
        return LabelStatus.UNKNOWN
    return LabelStatus.ALREADY if all(r[0] == actual for r in rows) else LabelStatus.CONFLICT


class PredictionLog:
    """The batched writer both backends share; a backend supplies ``_write`` and the reads."""

    backend = "none"

    def __init__(self, capacity: int, *, max_age_s: float | None = None, max_pending: int = MAX_PENDING):
        self.capacity = capacity
        self.max_age_s = max_age_s
        self.max_pending = max_pending
        self.dropped = 0  # rows lost: the queue overflowed, or a write failed for good
        self.error: str | None = None
        self.available = True
        # The API's metrics: rows dropped (a counter) and whether the database answers (a gauge).
        self.on_dropped: Callable[[int], None] = lambda n: None
        self.on_available: Callable[[bool], None] = lambda up: None
        self._pending: list[Row] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one writer at a time in this process (flush vs label)
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    @property
    def location(self) -> str:
        return ""

    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._write_loop, name="prediction-log-writer", daemon=True)
        self._writer.start()

    def status(self) -> LogStatus:
        with self._lock:
            pending = len(self._pending)
        return LogStatus(self.backend, self.location, self.available, self.error, pending, self.dropped)

    def append(
        self,
        prediction_id: str,
        model_version: str,
        user_id: str | None,
        probability: float,
        predicted: int,
        row: tuple,
    ) -> None:
        """Queue one scored row (cheap: the request path never touches the database)."""
        encoded = json.dumps(row, separators=(",", ":"))
        with self._lock:
            if len(self._pending) >= self.max_pending:  # the writer is behind or the database away: bounded, said
                self._drop(1, f"the prediction log's writer is behind: {self.dropped + 1:,} rows dropped")
                return
            self._pending.append((prediction_id, time.time(), model_version, user_id, probability, predicted, encoded))

    def _drop(self, n: int, error: str) -> None:
        self.dropped += n
        self.error = error
        self.on_dropped(n)

    def _write_loop(self) -> None:
        wait = FLUSH_EVERY_S
        while not self._stop.wait(wait):
            self.flush_quietly()
            wait = FLUSH_EVERY_S if self.available else RETRY_EVERY_S
        self.flush_quietly()

    def flush_quietly(self) -> None:
        try:
            self.flush()
        except PredictionLogUnavailable:
            pass  # said in status(); the rows wait in the queue

    def flush(self) -> None:
        """Write the queued rows. On return every row queued before the call is committed, or — the
        database away — still queued (PredictionLogUnavailable is raised then). The batch is taken under
        the write lock, so a flush that finds the queue empty still waits for the writer thread's batch
        in flight (without that, a read could run before it lands)."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._write(batch)
            except PredictionLogUnavailable as exc:
                with self._lock:  # back to the front of the queue, oldest dropped past the bound
                    self._pending[:0] = batch
                    overflow = len(self._pending) - self.max_pending
                    if overflow > 0:
                        del self._pending[:overflow]
                        self._drop(overflow, f"{exc}; {self.dropped + overflow:,} rows dropped")
                self._unavailable(str(exc))
                raise
            except PredictionLogError as exc:
                with self._lock:
                    self._drop(len(batch), str(exc))
                log.error("%s (%d rows dropped so far)", exc, self.dropped)
                return
            self._recovered()

    def _unavailable(self, error: str) -> None:
        if self.available:
            log.error("prediction log: %s; rows are queued (at most %d) until it is back", error, self.max_pending)
        self.available = False
        self.error = error
        self.on_available(False)

    def _recovered(self) -> None:
        if not self.available:
            log.warning("prediction log: %s is back", self.location)
        self.available = True
        self.error = None
        self.on_available(True)

    # What a backend implements.
    def _write(self, batch: list[Row]) -> None:
        raise NotImplementedError

    def recent_json(self, limit: int) -> tuple[int, bytes]:
        """(number of rows, their JSON array as UTF-8) of the newest scored rows, oldest first; call off the
        event loop. This process's queued rows are written first; other processes' (and replicas') reach
        the database within FLUSH_EVERY_S."""
        raise NotImplementedError

    def labelled_json(self, limit: int) -> tuple[int, bytes]:
        """(number, JSON array as UTF-8) of the newest labelled rows, each its features then its label, oldest
        first: what ``streamflow-retrain --data live`` trains on. Call off the event loop."""
        raise NotImplementedError

    def label(self, items: list[LabelItem]) -> tuple[list[LabelStatus], list[Labelled]]:
        """Join ground truth: a status per item and the predictions labelled now (each exactly once, however
        many processes race on it). A user id labels every unlabelled prediction of that user."""
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout=5)


class NoLog(PredictionLog):
    """What the API uses with log_predictions off (benchmarks only): nothing kept, every id unknown."""

    def __init__(self) -> None:
        super().__init__(capacity=1)
        self.error = "the prediction log is off (STREAMFLOW_API_LOG_PREDICTIONS=0)"

    def append(self, *args) -> None:
        pass

    def recent_json(self, limit: int) -> tuple[int, bytes]:
        return 0, b"[]"

    labelled_json = recent_json

    def label(self, items: list[LabelItem]) -> tuple[list[LabelStatus], list[Labelled]]:
        return [LabelStatus.UNKNOWN] * len(items), []


def redact(url: str) -> str:
    """The URL without its password (what logs, /health and errors show)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
