"""The feature rows of recent predictions, for live drift: one SQLite file shared by every worker.

With ``--workers N`` each worker process scores a share of the traffic; an
in-memory buffer per worker made ``/monitoring/recent`` answer whichever
worker's rows the request landed on. Here every worker appends to the same
SQLite database (WAL, so readers never wait for writers), from a background
thread in batches — the request path only queues an already-encoded row.
Reads return the rows' JSON text as stored, joined, so a 10,000-row answer
costs no per-row Python encoding on the event loop.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger("streamflow.api")

FLUSH_EVERY_S = 0.05


class LiveRowsError(RuntimeError):
    pass


class LiveRows:
    def __init__(self, path: Path, capacity: int):
        self.path = Path(path)
        self.capacity = capacity
        self.dropped = 0  # rows lost to a failed write (said in the log and in /monitoring/recent)
        self.error: str | None = None
        self._pending: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS live (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, row TEXT NOT NULL)")
        self._writer = threading.Thread(target=self._write_loop, name="live-rows-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def append(self, row: tuple) -> None:
        """Queue one scored row (cheap: the request path never touches the database)."""
        encoded = json.dumps(row, separators=(",", ":"))
        with self._lock:
            self._pending.append((time.time(), encoded))

    def _write_loop(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            self.flush()
        self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO live (at, row) VALUES (?, ?)", batch)
            # Bounded: only the newest `capacity` rows of all workers together are kept.
            db.execute("DELETE FROM live WHERE id <= (SELECT MAX(id) FROM live) - ?", (self.capacity,))
            db.execute("COMMIT")
            self.error = None
        except sqlite3.Error as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self.dropped += len(batch)
            self.error = f"live rows could not be written to {self.path}: {exc}"
            log.error("%s (%d rows dropped so far)", self.error, self.dropped)

    def recent_json(self, limit: int) -> tuple[int, str]:
        """(number of rows, their JSON array text), newest last; call off the event loop.

        This worker's queued rows are written first; other workers' reach the file within FLUSH_EVERY_S."""
        self.flush()
        try:
            # SQLite joins the rows itself (in C, without Python's GIL): one string comes back, not
            # 10,000 tuples built while the event loop waits for the GIL.
            count, text = self._connect().execute(
                "SELECT count(*), coalesce(group_concat(row, ','), '') FROM"
                " (SELECT row FROM (SELECT id, row FROM live ORDER BY id DESC LIMIT ?) ORDER BY id)",  # oldest first
                (min(limit, self.capacity),),
            ).fetchone()
        except sqlite3.Error as exc:
            raise LiveRowsError(f"live rows cannot be read from {self.path}: {exc}") from None
        return count, "[" + text + "]"

    def close(self) -> None:
        self._stop.set()
        self._writer.join(timeout=5)
