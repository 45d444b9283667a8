"""Every scored row, with its prediction id, probability and — once known — its true label.

Two backends behind one interface (``PredictionLog``):

- SQLite (``sqlite``), the embedded default: one file (WAL) shared by the worker
  processes of one host.
- PostgreSQL (``postgres``), for a fleet: every replica writes to and reads from one
  database, so a label joins its prediction whichever replica receives it, and ``/monitoring/*``
  answer with the fleet's rows.

Both share ``base``: the request path only queues an already-encoded row; a writer thread
writes batches every FLUSH_EVERY_S. The queue is bounded (MAX_PENDING rows): past that, rows are
dropped and counted (``dropped``, ``api_prediction_log_dropped_total``), never held without bound nor
lost silently. The log keeps the newest ``capacity`` rows (and, optionally, none older than
``max_age_s``), enforced by the database on every write.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PredictionLogConfigError, PredictionLogError, PredictionLogUnavailable
from .base import (
    MAX_PENDING,
    LabelItem,
    Labelled,
    LabelStatus,
    LogStatus,
    NoLog,
    PredictionLog,
    redact,
)

__all__ = [
    "MAX_PENDING",
    "LabelItem",
    "LabelStatus",
    "Labelled",
    "LogStatus",
    "NoLog",
    "PredictionLog",
    "PredictionLogConfigError",
    "PredictionLogError",
    "PredictionLogUnavailable",
    "open_prediction_log",
    "redact",
]


def is_database_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def open_prediction_log(
    location: str | Path,
    capacity: int,
    *,
    max_age_s: float | None = None,
    password_file: Path | None = None,
    max_pending: int = MAX_PENDING,
) -> PredictionLog:
    """The backend for ``location``: a ``postgresql://`` URL, or a SQLite file's path.

    Raises PredictionLogConfigError for a setting that cannot work (a bad URL or credentials, a file
    that is not a database); a database that is merely down opens degraded and is retried."""
    text = str(location)
    if is_database_url(text):
        try:
            from .postgres import PostgresLog
        except ImportError as exc:
            raise PredictionLogConfigError(
                f"a PostgreSQL prediction log needs psycopg ({exc.name} is missing):"
                " pip install 'streamflow-console[postgres]'"
            ) from None

        return PostgresLog(text, capacity, max_age_s=max_age_s, password_file=password_file, max_pending=max_pending)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise PredictionLogConfigError(
            f"{scheme}:// is not a prediction log: give a SQLite file's path or a postgresql:// URL"
        )
    from .sqlite import SqliteLog

    return SqliteLog(Path(text), capacity, max_age_s=max_age_s, max_pending=max_pending)
