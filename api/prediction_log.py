"""Every scored row, with its prediction id, probability and — once known — its true label.

One SQLite file (WAL) shared by every worker process. The request path only
queues an already-encoded row; a background thread writes batches every
FLUSH_EVERY_S. It is bounded by rows (and optionally by age): the oldest go
first. Live drift reads the newest feature rows (``recent_json``: SQLite joins
the stored JSON text itself, so no per-row Python work holds the GIL while the
event loop answers ``/predict``); ``POST /feedback`` joins ground truth to
logged predictions (``label``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("streamflow.api")

FLUSH_EVERY_S = 0.05
# Rows queued for the writer; past that, new rows are dropped (counted) rather than held in memory.
MAX_PENDING = 200_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL UNIQUE,
    at REAL NOT NULL,
    model_version TEXT NOT NULL,
    user_id TEXT,
    probability REAL NOT NULL,
    predicted INTEGER NOT NULL,
    row TEXT NOT NULL,
    actual INTEGER,
    labelled_at REAL
);
CREATE INDEX IF NOT EXISTS predictions_user ON predictions(user_id) WHERE user_id IS NOT NULL;
"""


class PredictionLogError(RuntimeError):
    pass


@dataclass(frozen=True)
class Labelled:
    """A prediction that just received its label: what the labelled-prediction metrics count."""

    probability: float
    predicted: int
    actual: int


class PredictionLog:
    def __init__(self, path: Path, capacity: int, *, max_age_s: float | None = None):
        self.path = Path(path)
        self.capacity = capacity
        self.max_age_s = max_age_s
        self.dropped = 0  # rows lost to a failed write (said in the log and in /monitoring/recent)
        self.error: str | None = None
        self._pending: list[tuple] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one writer at a time in this process (flush vs label)
        self._stop = threading.Event()
        self._local = threading.local()
        try:
            self._connect().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise PredictionLogError(f"the prediction log {self.path} cannot be opened: {exc}") from None
        self._writer = threading.Thread(target=self._write_loop, name="prediction-log-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

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
            if len(self._pending) >= MAX_PENDING:  # the writer is behind (a stalled disk): bounded memory, said
                self.dropped += 1
                self.error = f"the prediction log's writer is behind: {self.dropped:,} rows dropped"
                return
            self._pending.append((prediction_id, time.time(), model_version, user_id, probability, predicted, encoded))

    def _write_loop(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write the queued rows. On return every row queued before the call is committed: the batch is
        taken under the write lock, so a flush that finds the queue empty still waits for the writer
        thread's batch in flight (without that, ``recent_json`` could read the file before it lands)."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR IGNORE INTO predictions (prediction_id, at, model_version, user_id, probability,"
                    " predicted, row) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    batch,
                )
                # Bounded: only the newest `capacity` rows of all workers together (and none older than max_age_s).
                db.execute(
                    "DELETE FROM predictions WHERE id <= (SELECT MAX(id) FROM predictions) - ?", (self.capacity,)
                )
                if self.max_age_s:
                    db.execute("DELETE FROM predictions WHERE at < ?", (time.time() - self.max_age_s,))
                db.execute("COMMIT")
                self.error = None
            except sqlite3.Error as exc:
                _rollback(db)
                self.dropped += len(batch)
                self.error = f"predictions could not be written to {self.path}: {exc}"
                log.error("%s (%d rows dropped so far)", self.error, self.dropped)

    def recent_json(self, limit: int) -> tuple[int, str]:
        """(number of rows, their JSON array text), newest last; call off the event loop.

        This worker's queued rows are written first; other workers' reach the file within FLUSH_EVERY_S."""
        self.flush()
        try:
            # SQLite joins the rows itself (in C, without Python's GIL): one string comes back, not
            # 10,000 tuples built while the event loop waits for the GIL.
            count, text = (
                self._connect()
                .execute(
                    "SELECT count(*), coalesce(group_concat(row, ','), '') FROM"
                    " (SELECT row FROM (SELECT id, row FROM predictions ORDER BY id DESC LIMIT ?) ORDER BY id)",  # oldest first
                    (limit,),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise PredictionLogError(f"the prediction log {self.path} cannot be read: {exc}") from None
        return count, "[" + text + "]"

    def labelled_json(self, limit: int) -> tuple[int, str]:
        """(number, JSON array text) of the newest labelled rows, each its features then its label, oldest
        first: what ``streamflow-retrain --data live`` trains on. Call off the event loop."""
        self.flush()
        try:
            count, text = (
                self._connect()
                .execute(
                    "SELECT count(*), coalesce(group_concat(substr(row, 1, length(row) - 1) || ',' || actual || ']', ','), '') FROM"
                    " (SELECT row, actual FROM (SELECT id, row, actual FROM predictions WHERE actual IS NOT NULL"
                    "  ORDER BY id DESC LIMIT ?) ORDER BY id)",
                    (limit,),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise PredictionLogError(f"the prediction log {self.path} cannot be read: {exc}") from None
        return count, "[" + text + "]"

    def label(self, items: list[tuple[str | None, str | None, int]]) -> tuple[list[str], list[Labelled]]:
        """Join ground truth: ``items`` of (prediction_id, user_id, actual). Returns a status per item
        (``labelled``, ``already`` for the same label again, ``conflict``, ``unknown``) and the
        predictions that were labelled now. A user id labels every unlabelled prediction of that user."""
        self.flush()  # a prediction answered a moment ago is in the file
        statuses: list[str] = []
        newly: list[Labelled] = []
        now = time.time()
        with self._write_lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                for prediction_id, user_id, actual in items:
                    if prediction_id is not None:
                        rows = db.execute(
                            "SELECT id, probability, predicted, actual FROM predictions WHERE prediction_id = ?",
                            (prediction_id,),
                        ).fetchall()
                    else:
                        rows = db.execute(
                            "SELECT id, probability, predicted, actual FROM predictions WHERE user_id = ?", (user_id,)
                        ).fetchall()
                    if not rows:
                        statuses.append("unknown")
                        continue
                    fresh = [r for r in rows if r[3] is None]
                    if not fresh:
                        statuses.append("already" if all(r[3] == actual for r in rows) else "conflict")
                        continue
                    db.executemany(
                        "UPDATE predictions SET actual = ?, labelled_at = ? WHERE id = ?",
                        [(actual, now, r[0]) for r in fresh],
                    )
                    newly += [Labelled(r[1], r[2], actual) for r in fresh]
                    statuses.append("labelled")
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise PredictionLogError(f"labels could not be written to {self.path}: {exc}") from None
        return statuses, newly

    def close(self) -> None:
        self._stop.set()
        self._writer.join(timeout=5)


def _rollback(db: sqlite3.Connection) -> None:
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        pass


class NoLog(PredictionLog):
    """What the API uses with log_predictions off (benchmarks only): nothing kept, every id unknown."""

    def __init__(self, capacity: int = 1):
        self.capacity, self.dropped, self.error = (
            capacity,
            0,
            "the prediction log is off (STREAMFLOW_API_LOG_PREDICTIONS=0)",
        )

    def append(self, *args) -> None:
        pass

    def recent_json(self, limit: int) -> tuple[int, str]:
        return 0, "[]"

    labelled_json = recent_json

    def label(self, items):
        return ["unknown"] * len(items), []

    def close(self) -> None:
        pass
