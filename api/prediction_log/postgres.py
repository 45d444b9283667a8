"""The prediction log in PostgreSQL: one log for a fleet of API replicas (psycopg 3 and its pool).

- The schema is created at start and versioned (``streamflow_schema``), under an advisory lock so that
  replicas starting together do not race.
- Writes: the shared batched writer (``prediction_log``); a batch is one ``INSERT … SELECT unnest(…)``.
  While the database is down the rows wait in the bounded queue and are written when it is back;
  retention (rows, age) runs in the database after each write.
- Labels: ``UPDATE … WHERE actual IS NULL RETURNING`` — a conditional update, so of two replicas racing
  on one prediction exactly one labels it (and counts it in ``api_labelled_*``); the other sees
  ``already`` (or ``conflict``). The ``prediction_id`` key is unique.
- The password comes from libpq's own sources (``PGPASSWORD``, ``PGPASSFILE``/``~/.pgpass``), from a file
  (``prediction_log_password_file``) or from the URL; it is never shown: locations are printed without
  it, and errors are scrubbed of it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import PredictionLogConfigError, PredictionLogError, PredictionLogUnavailable
from .base import (
    FLUSH_EVERY_S,
    MAX_PENDING,
    LabelItem,
    Labelled,
    LabelStatus,
    PredictionLog,
    Row,
    classify,
    redact,
)

log = logging.getLogger("streamflow.api")

TABLE = "streamflow_predictions"
SCHEMA_VERSION = 1
# Each version's statements, applied in order to a database at an older version.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        f"""CREATE TABLE {TABLE} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            prediction_id text NOT NULL UNIQUE,
            at double precision NOT NULL,
            model_version text NOT NULL,
            user_id text,
            probability double precision NOT NULL,
            predicted smallint NOT NULL,
            row text NOT NULL,
            actual smallint CHECK (actual IN (0, 1)),
            labelled_at double precision
        )""",
        f"CREATE INDEX {TABLE}_user ON {TABLE} (user_id) WHERE user_id IS NOT NULL",
        f"CREATE INDEX {TABLE}_labelled ON {TABLE} (id) WHERE actual IS NOT NULL",
        f"CREATE INDEX {TABLE}_at ON {TABLE} (at)",
    ),
}
LOCK_KEY = 0x5F1A_0001  # pg_advisory_xact_lock: one replica migrates at a time
CONNECT_TIMEOUT_S = 3
POOL_TIMEOUT_S = 2.0  # a request waits this long for a connection before its 503
RETENTION_EVERY_S = 1.0  # deletes are range scans; once a second per process is plenty
INSERT_CHUNK = 10_000
# A label for a prediction another replica answered a moment ago may arrive before that replica's writer
# has written it (within FLUSH_EVERY_S): unknown ids are looked up once more after this wait.
UNKNOWN_RETRY_S = 4 * FLUSH_EVERY_S


# What libpq says when the setting is wrong (a failed connection carries no SQLSTATE, only this text).
_CONFIG_ERROR = re.compile(
    r"authentication failed|no password supplied|does not exist|no pg_hba\.conf entry|invalid (port|connection option)"
    r"|could not translate host name|SSL .*(required|not supported)|permission denied"
)


def _is_config_error(exc: psycopg.Error) -> bool:
    """Bad credentials, no such database or role, a malformed URL: retrying will not help."""
    state = getattr(exc, "sqlstate", None) or ""
    return (
        state.startswith(("28", "3D", "42"))
        or isinstance(exc, psycopg.ProgrammingError | psycopg.InterfaceError)
        or bool(_CONFIG_ERROR.search(str(exc)))
    )


class PostgresLog(PredictionLog):
    backend = "postgresql"

    def __init__(
        self,
        url: str,
        capacity: int,
        *,
        max_age_s: float | None = None,
        password_file: Path | None = None,
        max_pending: int = MAX_PENDING,
    ):
        super().__init__(capacity, max_age_s=max_age_s, max_pending=max_pending)
        self.url = url
        # Known before parsing, so that even a parse error (which quotes the URL's text) is scrubbed of it.
        in_url = re.match(r"^[a-z]+://[^/@:]*:([^@]*)@", url)
        self._secret: str | None = in_url.group(1) if in_url else None
        kwargs: dict = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "streamflow-api"}
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise PredictionLogConfigError(
                f"the prediction log URL {redact(url)} is not valid: {self._scrub(exc)}"
            ) from None
        self._secret = str(params["password"]) if params.get("password") else self._secret
        if password_file is not None:
            try:
                self._secret = kwargs["password"] = Path(password_file).read_text().rstrip("\r\n")
            except OSError as exc:
                raise PredictionLogConfigError(f"the prediction log's password file cannot be read: {exc}") from None
        self._schema_ready = False
        self._last_retention = 0.0
        self._check_settings(kwargs)
        self.pool = ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=4,
            open=False,
            timeout=POOL_TIMEOUT_S,
            check=ConnectionPool.check_connection,  # a connection the database dropped (a restart) is replaced
            reconnect_timeout=24 * 3600,  # keep trying while the database is away
            name="streamflow-prediction-log",
        )
        self.pool.open(wait=False)
        self._start_writer()

    @property
    def location(self) -> str:
        return redact(self.url)

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc).strip().replace("\n", " ")
        return text.replace(self._secret, "***") if self._secret else text

    def _check_settings(self, kwargs: dict) -> None:
        """Connect once at start: a setting that cannot work is refused now; a database that is merely
        down is said, and the log starts degraded (the writer creates the schema once it answers)."""
        try:
            with psycopg.connect(self.url, **kwargs) as conn:
                self._migrate(conn)
        except psycopg.Error as exc:
            if _is_config_error(exc):
                raise PredictionLogConfigError(
                    f"the prediction log {self.location} refused the connection: {self._scrub(exc)}"
                ) from None
            self._unavailable(f"the prediction log {self.location} cannot be reached: {self._scrub(exc)}")

    def _migrate(self, conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS streamflow_schema (component text PRIMARY KEY, version integer NOT NULL)"
            )
            found = conn.execute("SELECT version FROM streamflow_schema WHERE component = 'prediction_log'").fetchone()
            version = found[0] if found else 0
            if version > SCHEMA_VERSION:
                raise PredictionLogConfigError(
                    f"the prediction log {self.location} has schema version {version}, newer than this API"
                    f" knows ({SCHEMA_VERSION}): upgrade the API"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO streamflow_schema VALUES ('prediction_log', %s)"
                " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (SCHEMA_VERSION,),
            )
        self._schema_ready = True

    @contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection]:
        """A pooled connection with the schema in place; database errors become the log's own."""
        try:
            with self.pool.connection() as conn:
                if not self._schema_ready:
                    self._migrate(conn)
                yield conn
        except PoolTimeout:
            raise PredictionLogUnavailable(
                f"the prediction log {self.location} cannot be reached ({doing}: no connection within {POOL_TIMEOUT_S:g} s)"
            ) from None
        except psycopg.OperationalError as exc:
            if _is_config_error(exc):
                raise PredictionLogConfigError(f"the prediction log {self.location}: {self._scrub(exc)}") from None
            raise PredictionLogUnavailable(
                f"the prediction log {self.location} cannot be reached ({doing}): {self._scrub(exc)}"
            ) from None
        except psycopg.Error as exc:
            raise PredictionLogError(
                f"the prediction log {self.location} failed ({doing}): {self._scrub(exc)}"
            ) from None

    def _write(self, batch: list[Row]) -> None:
        with self._connection("writing predictions") as conn:
            for start in range(0, len(batch), INSERT_CHUNK):
                chunk = batch[start : start + INSERT_CHUNK]
                columns = [list(column) for column in zip(*chunk)]
                conn.execute(
                    f"INSERT INTO {TABLE} (prediction_id, at, model_version, user_id, probability, predicted, row)"
                    " SELECT * FROM unnest(%s::text[], %s::float8[], %s::text[], %s::text[], %s::float8[],"
                    " %s::int2[], %s::text[]) ON CONFLICT (prediction_id) DO NOTHING",
                    columns,
                )
                conn.commit()
            self._retain(conn)

    def _retain(self, conn: psycopg.Connection) -> None:
        """Keep the newest ``capacity`` rows of the fleet (ids are handed out in order; a batch that rolled
        back leaves a gap, so a little fewer may be kept) and none older than ``max_age_s``."""
        now = time.monotonic()
        if now - self._last_retention < RETENTION_EVERY_S:
            return
        self._last_retention = now
        try:
            conn.execute(f"DELETE FROM {TABLE} WHERE id <= (SELECT max(id) FROM {TABLE}) - %s", (self.capacity,))
            if self.max_age_s:
                conn.execute(f"DELETE FROM {TABLE} WHERE at < %s", (time.time() - self.max_age_s,))
            conn.commit()
        except pg_errors.DeadlockDetected:  # another replica deleting the same range: it did the work
            conn.rollback()

    def _read(self, sql: str, limit: int, doing: str) -> tuple[int, bytes]:
        self.flush()
        with self._connection(doing) as conn, conn.cursor() as cur:
            cur.adapters.register_loader("text", _RawText)  # the joined rows stay bytes: no decode, no re-encode
            found = cur.execute(sql, (limit,)).fetchone()
        assert found is not None, "an aggregate returns one row"
        count, text = found
        return count, b"[" + text + b"]"

    def recent_json(self, limit: int) -> tuple[int, bytes]:
        # The server joins the rows into one string: one value comes back, not 10,000 tuples.
        return self._read(
            f"SELECT count(*), coalesce(string_agg(row, ',' ORDER BY id), '') FROM"
            f" (SELECT id, row FROM {TABLE} ORDER BY id DESC LIMIT %s) newest",
            limit,
            "reading recent rows",
        )

    def labelled_json(self, limit: int) -> tuple[int, bytes]:
        return self._read(
            f"SELECT count(*), coalesce(string_agg(left(row, -1) || ',' || actual || ']', ',' ORDER BY id), '') FROM"
            f" (SELECT id, row, actual FROM {TABLE} WHERE actual IS NOT NULL ORDER BY id DESC LIMIT %s) newest",
            limit,
            "reading labelled rows",
        )

    def label(self, items: list[LabelItem]) -> tuple[list[LabelStatus], list[Labelled]]:
        self.flush()  # this replica's answers of a moment ago are in the database
        statuses, newly = self._label_once(items)
        unknown = [i for i, s in enumerate(statuses) if s is LabelStatus.UNKNOWN]
        if unknown:  # perhaps another replica's writer has not written them yet
            time.sleep(UNKNOWN_RETRY_S)
            again, more = self._label_once([items[i] for i in unknown])
            for i, status in zip(unknown, again):
                statuses[i] = status
            newly += more
        return statuses, newly

    def _label_once(self, items: list[LabelItem]) -> tuple[list[LabelStatus], list[Labelled]]:
        for attempt in (1, 2):
            try:
                return self._label_transaction(items)
            except PredictionLogError as exc:
                # Two replicas labelling one user's predictions in different orders can deadlock; the
                # database aborts one transaction, which runs again.
                if attempt == 2 or "deadlock" not in str(exc):
                    raise
        raise AssertionError("unreachable")

    def _label_transaction(self, items: list[LabelItem]) -> tuple[list[LabelStatus], list[Labelled]]:
        now = time.time()
        by_key: dict[str, list[int]] = {"prediction_id": [], "user_id": []}
        for i, (prediction_id, _, _) in enumerate(items):
            by_key["prediction_id" if prediction_id is not None else "user_id"].append(i)
        with self._connection("joining labels") as conn, conn.transaction(), conn.cursor() as cur:
            returned: dict[int, list[tuple]] = {}
            for key, indexes in by_key.items():  # one pipelined statement per kind of key
                if not indexes:
                    continue
                cur.executemany(
                    f"UPDATE {TABLE} SET actual = %s, labelled_at = %s WHERE {key} = %s AND actual IS NULL"
                    " RETURNING probability, predicted",
                    [(items[i][2], now, _key_of(items[i])) for i in indexes],
                    returning=True,
                )
                returned.update(zip(indexes, _each_result(cur)))
            statuses: list[LabelStatus] = []
            newly: list[Labelled] = []
            for i, item in enumerate(items):
                actual = item[2]
                if returned[i]:
                    newly += [Labelled(p, int(c), actual) for p, c in returned[i]]
                    statuses.append(LabelStatus.LABELLED)
                    continue
                key = "prediction_id" if item[0] is not None else "user_id"
                found = cur.execute(f"SELECT actual FROM {TABLE} WHERE {key} = %s", (_key_of(item),)).fetchall()
                statuses.append(classify(found, actual))
        return statuses, newly

    def close(self) -> None:
        super().close()
        self.pool.close(timeout=2)


class _RawText(Loader):
    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _key_of(item: LabelItem) -> str | None:
    return item[0] if item[0] is not None else item[1]


def _each_result(cur: psycopg.Cursor) -> list[list[tuple]]:
    """The rows of each statement an ``executemany(returning=True)`` ran, in order."""
    out = [cur.fetchall()]
    while cur.nextset():
        out.append(cur.fetchall())
    return out
