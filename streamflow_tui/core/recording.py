"""Record a console session to an SQLite file as it runs, and read it back for replay.

One file per recording (format ``streamflow.recording/1``):

- ``meta(key, value)``: format, started_at, host, interval, source, api_url;
- ``polls(t, point, snapshot)``: every poll's chart ``Point`` and full ``Snapshot``;
- ``events(t, kind, body)``: what else happened — a drift check ("drift", ``DriftResult``), the load
  generator ("load", ``LoadSnapshot``), a model version change ("version", ``VersionChange``), a retrain
  decision ("retrain", ``RetrainDecision``), a drift alarm ("alarm", ``drift_alarms.AlarmEvent``).

Bodies are zlib-compressed JSON, never pickle: a recording made on a server is opened on a laptop, and
loading it must not run code. The JSON is exact — ``decode(encode(x), type(x)) == x`` — because floats
are written as their shortest repr, ``inf`` as ``Infinity`` (which pydantic's JSON mode would turn into
null, hence ``dump_python`` + ``json.dumps``), and datetimes as ISO 8601 with their offset.

The writer is crash-safe (WAL journal, every write its own transaction: a kill -9 loses at most the
write in progress) and bounded (rows more than ``max_age_s`` older than the newest are purged as it
goes). The reader can follow a file that is still being written.
"""

from __future__ import annotations

import bisect
import json
import os
import socket
import sqlite3
import threading
import zlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from .errors import RecordingError
from .results import Snapshot
from .timeline import Point

FORMAT = "streamflow.recording/1"
KINDS = ("drift", "load", "version", "retrain", "alarm")
PURGE_EVERY = 300  # writes between purges: a DELETE on an indexed range, cheap at this pace

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS polls (t REAL, point BLOB, snapshot BLOB);
CREATE INDEX IF NOT EXISTS polls_t ON polls (t);
CREATE TABLE IF NOT EXISTS events (t REAL, kind TEXT, body BLOB);
CREATE INDEX IF NOT EXISTS events_kind_t ON events (kind, t);
"""


# -- exact serialisation ------------------------------------------------------------------------


def event_type(kind: str) -> type:
    """The type an event of ``kind`` is stored as."""
    from streamflow_data.load import LoadSnapshot

    from .drift_alarms import AlarmEvent
    from .drift_types import DriftResult
    from .retraining import RetrainDecision
    from .versions import VersionChange

    types = {
        "drift": DriftResult,
        "load": LoadSnapshot,
        "version": VersionChange,
        "retrain": RetrainDecision,
        "alarm": AlarmEvent,
    }
    if kind not in types:
        raise ValueError(f"unknown event kind {kind!r}; one of {', '.join(KINDS)}")
    return types[kind]


@cache
def _adapter(tp: type):
    # Building an adapter compiles a pydantic schema (milliseconds): once per type per process.
    from pydantic import TypeAdapter

    # TypeAdapter resolves forward references in the namespace of the frame that builds it: this one
    # must know Performance, which results.py names only under TYPE_CHECKING (Snapshot.performance).
    from .llm_types import LlmStats  # noqa: F401  (Snapshot.llm, named the same way)
    from .performance import Performance  # noqa: F401

    return TypeAdapter(tp)


def _json_default(o: Any) -> str:
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(f"cannot record a {type(o).__name__}")


def encode(obj: Any) -> bytes:
    """Compact bytes of a dataclass (Snapshot, Point, DriftResult…) or a plain JSON dict."""
    tp: type = type(obj)  # annotated: mypy does not take type(obj), a type[Any], for the Hashable @cache wants
    data = obj if isinstance(obj, dict) else _adapter(tp).dump_python(obj, mode="python")
    return zlib.compress(json.dumps(data, separators=(",", ":"), default=_json_default).encode())


def decode(data: bytes, tp: type) -> Any:
    """The ``tp`` that ``encode`` wrote; validation only builds dataclasses, it runs no stored code."""
    try:
        raw = zlib.decompress(data)
        # validate_json parses Infinity/NaN like json.loads, and is twice as fast as json.loads + validate_python.
        return json.loads(raw) if tp is dict else _adapter(tp).validate_json(raw)
    except (zlib.error, ValueError) as e:  # pydantic's ValidationError and JSONDecodeError are ValueErrors
        raise RecordingError(f"a recorded {tp.__name__} cannot be decoded: {e}") from e


# -- writing ------------------------------------------------------------------------------------


def _format_of(db: sqlite3.Connection) -> str | None:
    """The recording format of an open SQLite file; "" for an empty database, None for another one.

    Raises sqlite3.DatabaseError when the file is not SQLite at all."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return ""
    if "meta" not in tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    return row[0] if row else None


def _refusal(path: Path) -> str | None:
    """Why a recording cannot be written at ``path``, found before SQLite tries: it would only say
    "unable to open", or open a read-only file and fail at the first write. None: nothing seen yet."""
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    if path.is_dir():
        return "it is a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return "it is read-only"
    if not path.exists() and not os.access(path.parent, os.W_OK):
        return f"the folder {path.parent} is read-only"
    return None


def _reason(e: sqlite3.Error) -> str:
    """Why SQLite refused the file, in words."""
    message = str(e)
    if "not a database" in message:
        return "it is not an SQLite file"
    if "readonly" in message:
        return f"it is read-only ({message})"
    if "unable to open" in message:
        return f"the file cannot be created or opened there ({message})"
    return message


class Recorder:
    """Appends polls and events to a recording; every call is one committed transaction.

    Thread-safe: calls come from the console's short-lived worker threads. Encoding happens outside
    the lock; only the INSERT is serialised.
    """

    def __init__(
        self, path: str | Path, *, interval: float, source: str, api_url: str | None, max_age_s: float = 24 * 3600
    ):
        self.path = Path(path)
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._writes = 0
        self._newest = float("-inf")
        self._db: sqlite3.Connection | None = None
        refusal = _refusal(self.path)
        if refusal:
            raise RecordingError(f"cannot record to {self.path}: {refusal}")
        try:
            # isolation_level=None: autocommit, so each INSERT is its own transaction.
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db = db
            found = _format_of(db)  # before any write: another program's database is left untouched
            if found not in ("", FORMAT):
                what = "no format" if found is None else f"format {found!r}"
                raise RecordingError(
                    f"cannot record to {self.path}: it is an SQLite database but not a "
                    f"StreamFlow recording ({what}, expected {FORMAT!r})"
                )
            db.execute("PRAGMA journal_mode = WAL")  # readers follow the file while it is written
            # WAL + NORMAL: a killed process loses no commit (a power cut may lose the last ones, never the file).
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            meta = {
                "format": FORMAT,
                "started_at": datetime.now(UTC).isoformat(),
                "host": socket.gethostname(),
                "interval": repr(float(interval)),
                "source": source,
                "api_url": api_url,
            }
            # An existing recording keeps its own meta: this session is appended to it.
            db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", meta.items())
            newest = db.execute("SELECT MAX(t) FROM polls").fetchone()[0]
            self._newest = newest if newest is not None else self._newest
        except sqlite3.Error as e:
            self._close_quietly()
            raise RecordingError(f"cannot record to {self.path}: {_reason(e)}") from e
        except RecordingError:
            self._close_quietly()
            raise

    def add_poll(self, snapshot: Snapshot, point: Point) -> None:
        t = snapshot.taken_at.timestamp()
        self._write("INSERT INTO polls VALUES (?, ?, ?)", (t, encode(point), encode(snapshot)), t)

    def add_event(self, t: float, kind: str, obj: Any) -> None:
        tp = event_type(kind)
        if not isinstance(obj, tp):
            raise TypeError(f"a {kind!r} event is a {tp.__name__}, not a {type(obj).__name__}")
        self._write("INSERT INTO events VALUES (?, ?, ?)", (t, kind, encode(obj)), t)

    def _write(self, sql: str, row: tuple, t: float) -> None:
        with self._lock:
            if self._db is None:
                return  # closed: a worker that finishes after the console stopped has nothing to record to
            try:
                self._db.execute(sql, row)
                self._newest = max(self._newest, t)
                self._writes += 1
                if self._writes % PURGE_EVERY == 0:
                    self._purge(self._db)
            except sqlite3.Error as e:
                raise RecordingError(f"cannot record to {self.path}: {_reason(e)}") from e

    def _purge(self, db: sqlite3.Connection) -> None:
        """Delete rows more than max_age_s older than the newest, in one transaction (``db``: the open database,
        under the lock).

        The newest event of each kind before the cut stays: replaying the oldest kept moment still
        shows the last drift check, load run, version and retrain decision."""
        cut = self._newest - self.max_age_s
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM polls WHERE t < ?", (cut,))
            db.execute(
                "DELETE FROM events WHERE t < ? AND rowid NOT IN "
                "(SELECT id FROM (SELECT rowid AS id, MAX(t) FROM events WHERE t < ? GROUP BY kind))",
                (cut, cut),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            try:
                if self._db is not None:
                    # Fold the WAL into the main file, even while a replay has it open: the .db alone
                    # is then the whole recording, to copy elsewhere.
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the WAL stays beside the file, as valid as before
            finally:
                self._close_quietly()

    def _close_quietly(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- reading ------------------------------------------------------------------------------------


def _connect_read_only(path: Path, immutable: bool = False) -> tuple[sqlite3.Connection, str | None]:
    """A read-only connection (replaying never changes the file, nor creates one where a name was
    mistyped) and the file's format; the format read is where SQLite finds out what the file is."""
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    try:
        return db, _format_of(db)
    except BaseException:
        db.close()
        raise


class Recording:
    """A recording opened for replay: the poll time index is loaded once; rows are read on demand."""

    def __init__(self, path: Path, db: sqlite3.Connection, meta: dict[str, str | None]):
        self.path = path
        self.meta = meta
        self.times: tuple[float, ...] = ()
        self._rowids: list[int] = []
        self._db = db
        self._lock = threading.Lock()
        self._points: dict[int, Point] = {}  # rowid -> Point of the last points_between window

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        path = Path(path)
        if not path.is_file():
            raise RecordingError(
                f"cannot open recording {path}: " + ("it is a folder" if path.is_dir() else "no such file")
            )
        try:
            try:
                db, found = _connect_read_only(path)
            except sqlite3.OperationalError:
                # A WAL file in a folder this user cannot write to (a read-only mount, another user's folder):
                # SQLite cannot make its -shm there. Read it as the finished file it must then be.
                db, found = _connect_read_only(path, immutable=True)
        except sqlite3.Error as e:
            raise RecordingError(f"cannot open recording {path}: {_reason(e)}") from e
        try:
            if found != FORMAT:
                what = "no format" if not found else f"format {found!r}"
                raise RecordingError(
                    f"cannot open recording {path}: it is an SQLite database but not a "
                    f"StreamFlow recording ({what}, expected {FORMAT!r})"
                )
            recording = cls(path, db, dict(db.execute("SELECT key, value FROM meta")))
            recording.refresh()
        except sqlite3.Error as e:
            db.close()
            raise RecordingError(f"cannot open recording {path}: {_reason(e)}") from e
        except RecordingError:
            db.close()
            raise
        if not recording.times:
            db.close()
            raise RecordingError(f"cannot open recording {path}: it is empty (no polls recorded)")
        return recording

    def refresh(self) -> int:
        """Pick up polls a still-running Recorder appended (and rows it purged); the number of polls."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")  # one read transaction: the count and the new rows agree
            try:
                last = self._rowids[-1] if self._rowids else 0
                new = db.execute("SELECT t, rowid FROM polls WHERE rowid > ? ORDER BY t, rowid", (last,)).fetchall()
                count = db.execute("SELECT COUNT(*) FROM polls").fetchone()[0]
                appended = count == len(self._rowids) + len(new) and (
                    not new or not self.times or new[0][0] >= self.times[-1]
                )
                if appended:  # the usual case: only newer polls were added
                    rows = new
                else:  # rows were purged (or a clock went back): read the whole index again
                    self.times, self._rowids = (), []
                    rows = db.execute("SELECT t, rowid FROM polls ORDER BY t, rowid").fetchall()
            finally:
                db.execute("COMMIT")
            if rows:
                self.times += tuple(t for t, _ in rows)
                self._rowids += [r for _, r in rows]
            return len(self.times)

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    def index_at(self, t: float) -> int:
        """The last poll at or before ``t``; the first poll for an earlier ``t``."""
        return max(0, bisect.bisect_right(self.times, t) - 1)

    def snapshot_at(self, i: int) -> Snapshot:
        rowid = self._rowids[i]
        with self._lock:
            row = self._db.execute("SELECT snapshot FROM polls WHERE rowid = ?", (rowid,)).fetchone()
        if row is None:
            raise RecordingError(f"poll {i} of {self.path} is no longer in the recording (purged); refresh()")
        return decode(row[0], Snapshot)

    def points_between(self, t0: float, t1: float) -> list[Point]:
        """The chart points of polls with t0 <= t <= t1, in time order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, point FROM polls WHERE t BETWEEN ? AND ? ORDER BY t, rowid", (t0, t1)
            ).fetchall()
            # Playing forward asks for nearly the same window again: points decoded last time are reused
            # (decoding is most of a seek); only that one window is kept.
            last = self._points
            self._points = {rowid: last.get(rowid) or decode(blob, Point) for rowid, blob in rows}
            return list(self._points.values())

    def event_at(self, kind: str, t: float) -> tuple[float, Any] | None:
        """(time, object) of the latest ``kind`` event at or before ``t``; None before the first."""
        tp = event_type(kind)
        with self._lock:
            row = self._db.execute(
                "SELECT t, body FROM events WHERE kind = ? AND t <= ? ORDER BY t DESC, rowid DESC LIMIT 1", (kind, t)
            ).fetchone()
        return None if row is None else (row[0], decode(row[1], tp))

    def events_between(self, kind: str, t0: float, t1: float) -> list[tuple[float, Any]]:
        """(time, object) of every ``kind`` event with t0 <= t <= t1, in time order."""
        tp = event_type(kind)
        with self._lock:
            rows = self._db.execute(
                "SELECT t, body FROM events WHERE kind = ? AND t BETWEEN ? AND ? ORDER BY t, rowid", (kind, t0, t1)
            ).fetchall()
        return [(t, decode(body, tp)) for t, body in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
