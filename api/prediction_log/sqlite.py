"""The prediction log in one SQLite file (WAL), shared by the worker processes of one host.

Reads let SQLite join the stored JSON text itself (``group_concat``, in C, without Python's GIL), so
no per-row Python work holds the GIL while the event loop answers ``/predict``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from ..errors import PredictionLogConfigError, PredictionLogError
from .base import (
    MAX_PENDING,
    LabelItem,
    Labelled,
    LabelStatus,
    PredictionLog,
    Row,
    classify,
)

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


class SqliteLog(PredictionLog):
    backend = "sqlite"

    def __init__(self, path: Path, capacity: int, *, max_age_s: float | None = None, max_pending: int = MAX_PENDING):
        super().__init__(capacity, max_age_s=max_age_s, max_pending=max_pending)
        self.path = Path(path)
        self._local = threading.local()
        try:
            self._connect().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise PredictionLogConfigError(f"the prediction log {self.path} cannot be opened: {exc}") from None
        self._start_writer()

    @property
    def location(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _write(self, batch: list[Row]) -> None:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR IGNORE INTO predictions (prediction_id, at, model_version, user_id, probability,"
                " predicted, row) VALUES (?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            # Bounded: only the newest `capacity` rows of all workers together (and none older than max_age_s).
            db.execute("DELETE FROM predictions WHERE id <= (SELECT MAX(id) FROM predictions) - ?", (self.capacity,))
            if self.max_age_s:
                db.execute("DELETE FROM predictions WHERE at < ?", (time.time() - self.max_age_s,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(db)
            raise PredictionLogError(f"predictions could not be written to {self.path}: {exc}") from None

    def _read(self, sql: str, limit: int) -> tuple[int, bytes]:
        self.flush()
        try:
            count, text = self._connect().execute(sql, (limit,)).fetchone()
        except sqlite3.Error as exc:
            raise PredictionLogError(f"the prediction log {self.path} cannot be read: {exc}") from None
        return count, ("[" + text + "]").encode()

    def recent_json(self, limit: int) -> tuple[int, bytes]:
        return self._read(
            "SELECT count(*), coalesce(group_concat(row, ','), '') FROM"
            " (SELECT row FROM (SELECT id, row FROM predictions ORDER BY id DESC LIMIT ?) ORDER BY id)",  # oldest first
            limit,
        )

    def labelled_json(self, limit: int) -> tuple[int, bytes]:
        return self._read(
            "SELECT count(*), coalesce(group_concat(substr(row, 1, length(row) - 1) || ',' || actual || ']', ','), '') FROM"
            " (SELECT row, actual FROM (SELECT id, row, actual FROM predictions WHERE actual IS NOT NULL"
            "  ORDER BY id DESC LIMIT ?) ORDER BY id)",
            limit,
        )

    def label(self, items: list[LabelItem]) -> tuple[list[LabelStatus], list[Labelled]]:
        self.flush()  # a prediction answered a moment ago is in the file
        statuses: list[LabelStatus] = []
        newly: list[Labelled] = []
        now = time.time()
        with self._write_lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")  # one writer across the host's processes: no double count
                for prediction_id, user_id, actual in items:
                    key, value = ("prediction_id", prediction_id) if prediction_id is not None else ("user_id", user_id)
                    rows = db.execute(
                        f"SELECT id, probability, predicted, actual FROM predictions WHERE {key} = ?", (value,)
                    ).fetchall()
                    fresh = [r for r in rows if r[3] is None]
                    if not fresh:
                        statuses.append(classify([(r[3],) for r in rows], actual))
                        continue
                    db.executemany(
                        "UPDATE predictions SET actual = ?, labelled_at = ? WHERE id = ?",
                        [(actual, now, r[0]) for r in fresh],
                    )
                    newly += [Labelled(r[1], r[2], actual) for r in fresh]
                    statuses.append(LabelStatus.LABELLED)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise PredictionLogError(f"labels could not be written to {self.path}: {exc}") from None
        return statuses, newly


def _rollback(db: sqlite3.Connection) -> None:
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        pass
