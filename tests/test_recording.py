"""Record and replay (streamflow_tui/core/recording.py): exact round trips, the file's guarantees, clear errors."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from fake_sources import T0, snapshot
from test_registry import read_only
from waiting import wait_until

from streamflow_data.load import LoadSnapshot
from streamflow_tui.core.distribution import Distribution
from streamflow_tui.core.drift import ColumnDrift, DriftResult
from streamflow_tui.core.recording import FORMAT, PURGE_EVERY, Recorder, Recording, RecordingError, decode, encode
from streamflow_tui.core.results import Bucket, Latency, QuantileBounds
from streamflow_tui.core.retraining import RetrainDecision, parse_decision
from streamflow_tui.core.timeline import Point
from streamflow_tui.core.timeline import point_of as timeline_point
from streamflow_tui.core.versions import VersionChange

TESTS = Path(__file__).resolve().parent

DRIFT = DriftResult(
    reference="month_000",
    current="month_003",
    reference_as_of="2024-01-31",
    current_as_of="2024-04-30",
    rows_reference=7000,
    rows_current=7000,
    drift_share=8 / 15,
    drifted_columns=8,
    total_columns=15,
    threshold=0.3,
    decision="RETRAINING_TRIGGERED",
    target_drift=0.211,
    churn_rate_reference=0.105,
    churn_rate_current=0.316,
    label_drift=True,
    label_test=ColumnDrift("churn_label", "cat", "z", 0.0, 0.05, True),
    columns=(
        ColumnDrift(
            "monthly_fee",
            "num",
            "wasserstein",
            0.7768,
            0.1,
            True,
            Distribution(
                ("≤7.64", "7.64–8.81", "8.81–9.97", ">17"),
                (0.130, 0.167, 0.130, 0.008),
                (0.002, 0.036, 0.148, 0.046),
                0.0,
                0.01,
                "equal-width bins over the 1st–99th percentiles, tails in the end ones",
            ),
        ),
        ColumnDrift("rebuffer_events_7d", "num", "wasserstein", 1.63, 0.1, True),
        ColumnDrift("months_active", "num", "wasserstein", None, 0.1, False),
    ),
    report_json="reports/evidently/drift_2024-01-31_vs_2024-04-30.json",
    seconds=1.234,
    token="abc",
)

LOAD = LoadSnapshot(
    model="open",
    running=True,
    elapsed_s=12.5,
    target_rate=200.0,
    concurrency=None,
    sent=2500,
    ok=2480,
    errors=20,
    cancelled=0,
    no_answer=3,
    in_flight=4,
    not_sent=0,
    late=1,
    max_send_lag_s=0.004,
    achieved_rps=199.2,
    send_rate=200.1,
    corrected={"p50": 0.002, "p90": 0.004, "p95": 0.0051, "p99": 0.009, "p99_9": None},
    uncorrected={"p50": 0.0019, "p90": 0.0039, "p95": 0.005, "p99": 0.0088, "p99_9": None},
    status_codes={"200": 2480, "422": 20},
    error_kinds={"http 422": 20, "connect": 3},
)

VERSION = VersionChange(
    T0.timestamp() + 30,
    "month_000-2b3f3733a2e6",
    "month_004-5715c455fef8",
    (Bucket(0.05, 120.0), Bucket(0.1, 108.0), Bucket(math.inf, 0.0)),
)

RETRAIN = parse_decision(
    {
        "schema": "streamflow.retrain/1",
        "decision": "PROMOTED",
        "reason": "log loss +5.9% better",
        "data": {"source": "month_004", "labelled_rows": 7000, "train_rows": 4900, "holdout_rows": 2100},
        "champion": {"version": "v1", "data": "month_000", "metrics": {"log_loss": 0.40, "roc_auc": 0.83}},
        "challenger": {"version": "v2", "data": "month_004", "parent": "v1", "metrics": {"log_loss": 0.38}},
        "serving": "v2",
    }
)


def point_of(i: int) -> Point:
    return replace(timeline_point(snapshot(i)), load_rps=100.0 + i, load_target=120.0, client_p95=0.004)


def record(path: Path, n: int, **kw) -> None:
    with Recorder(path, interval=1.0, source="scrape", api_url="http://127.0.0.1:8000", **kw) as recorder:
        for i in range(n):
            recorder.add_poll(snapshot(i), point_of(i))


# -- exact serialisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        snapshot(0),
        snapshot(7),
        snapshot(40, switch_at=30),
        snapshot(3, up=False),
        point_of(9),
        DRIFT,
        LOAD,
        VERSION,
    ],
    ids=["snapshot-0", "snapshot-7", "snapshot-new-model", "snapshot-down", "point", "drift", "load", "version"],
)
def test_round_trip_is_exact(value):
    back = decode(encode(value), type(value))
    assert back == value
    assert type(back) is type(value)


def test_round_trip_keeps_what_equality_ignores():
    """ColumnDrift.distribution is compare=False: equality alone would not notice it lost."""
    back = decode(encode(DRIFT), DriftResult)
    assert back.columns[0].distribution == DRIFT.columns[0].distribution
    assert back.token == "abc"


def test_round_trip_of_the_awkward_values():
    s = snapshot(2)
    assert s.latency_histogram[-1].le == math.inf
    assert decode(encode(s), type(s)).latency_histogram[-1].le == math.inf
    assert decode(encode(s), type(s)).taken_at == T0.replace(second=2)
    tricky = Latency(avg=0.1 + 0.2, p50=5e-324, p95=1.7976931348623157e308, p99=2 / 3, max=-0.0)
    back = decode(encode(tricky), Latency)
    keys = ("avg", "p50", "p95", "p99", "max")
    assert [getattr(back, k).hex() for k in keys] == [getattr(tricky, k).hex() for k in keys]
    # A quantile's bucket bounds are recorded too, the +Inf bucket's upper edge included.
    bounded = Latency(
        p50=0.00475, p99=1.0, bounds=(("p50", QuantileBounds(0.0, 0.005)), ("p99", QuantileBounds(1.0, math.inf)))
    )
    again = decode(encode(bounded), Latency)
    assert again == bounded and again.bounds_of("p99").upper == math.inf and again.bounds_of("p95") is None
    assert decode(encode(RETRAIN), RetrainDecision) == RETRAIN


def test_encoding_is_plain_json_not_code():
    """A recording is data: its bodies are zlib'd JSON, readable by anything, executing nothing."""
    body = json.loads(zlib.decompress(encode(snapshot(5))))
    assert body["source"] == "scrape" and body["latency_histogram"][-1]["le"] == math.inf
    with pytest.raises(RecordingError, match="cannot be decoded"):
        decode(zlib.compress(b'{"not": "a snapshot"}'), type(snapshot(0)))


# -- writing and reading --------------------------------------------------------------------------


def test_fifty_polls_and_events_read_back(tmp_path):
    path = tmp_path / "session.db"
    t0 = T0.timestamp()
    with Recorder(path, interval=1.0, source="scrape", api_url="http://127.0.0.1:8000") as recorder:
        for i in range(50):
            recorder.add_poll(snapshot(i), point_of(i))
        recorder.add_event(t0 + 10, "drift", DRIFT)
        recorder.add_event(t0 + 20, "drift", replace(DRIFT, drift_share=0.1))
        recorder.add_event(t0 + 5, "load", LOAD)
        recorder.add_event(t0 + 30, "version", VERSION)
        recorder.add_event(t0 + 40, "retrain", RETRAIN)

    with Recording.open(path) as rec:
        assert rec.meta["format"] == FORMAT and rec.meta["source"] == "scrape" and float(rec.meta["interval"]) == 1.0
        assert rec.meta["api_url"] == "http://127.0.0.1:8000" and rec.meta["host"]
        assert rec.times == tuple(t0 + i for i in range(50))
        assert (rec.start, rec.end) == (t0, t0 + 49)
        assert rec.snapshot_at(17) == snapshot(17)
        assert rec.snapshot_at(-1) == snapshot(49)
        # index_at: the last poll at or before t, clamped to the recording
        assert [rec.index_at(t0 + x) for x in (-100, 0, 0.5, 17, 17.99, 49, 1e6)] == [0, 0, 0, 17, 17, 49, 49]
        assert rec.points_between(t0 + 10, t0 + 13) == [point_of(i) for i in range(10, 14)]
        assert rec.points_between(t0 + 12, t0 + 15) == [point_of(i) for i in range(12, 16)]  # overlaps the last window
        assert rec.points_between(t0 - 600, t0 - 1) == []
        # event_at: the latest of its kind at or before t; None before the first
        assert rec.event_at("drift", t0 + 9.9) is None
        assert rec.event_at("drift", t0 + 10) == (t0 + 10, DRIFT)
        assert rec.event_at("drift", t0 + 19) == (t0 + 10, DRIFT)
        assert rec.event_at("drift", t0 + 25)[1].drift_share == 0.1
        assert rec.event_at("load", t0 + 49) == (t0 + 5, LOAD)
        assert rec.event_at("version", t0 + 29) is None and rec.event_at("version", t0 + 30) == (t0 + 30, VERSION)
        assert rec.event_at("retrain", t0 + 49) == (t0 + 40, RETRAIN)


def test_events_are_typed(tmp_path):
    with Recorder(tmp_path / "r.db", interval=1.0, source="scrape", api_url=None) as recorder:
        with pytest.raises(ValueError, match="unknown event kind 'dirft'"):
            recorder.add_event(0.0, "dirft", DRIFT)
        with pytest.raises(TypeError, match="'load' event is a LoadSnapshot"):
            recorder.add_event(0.0, "load", DRIFT)


def test_opening_a_recording_again_appends(tmp_path):
    path = tmp_path / "r.db"
    record(path, 3)
    with Recording.open(path) as rec:
        started = rec.meta["started_at"]
    with Recorder(path, interval=2.0, source="prometheus", api_url=None) as recorder:
        recorder.add_poll(snapshot(3), point_of(3))
    with Recording.open(path) as rec:
        assert len(rec.times) == 4 and rec.snapshot_at(3) == snapshot(3)
        assert rec.meta["started_at"] == started and rec.meta["source"] == "scrape"  # the file's own meta stays


def test_writes_from_many_threads(tmp_path):
    path = tmp_path / "r.db"
    recorder = Recorder(path, interval=1.0, source="scrape", api_url=None)
    threads = [
        threading.Thread(target=lambda k=k: [recorder.add_poll(snapshot(i), point_of(i)) for i in range(k, 200, 4)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.close()
    with Recording.open(path) as rec:
        assert rec.times == tuple(T0.timestamp() + i for i in range(200))
        assert rec.snapshot_at(123) == snapshot(123)


def test_close_leaves_the_whole_recording_in_the_main_file(tmp_path):
    """After close, the .db alone (copied without its -wal) holds every poll, even with a replay open."""
    path = tmp_path / "r.db"
    recorder = Recorder(path, interval=1.0, source="scrape", api_url=None)
    for i in range(30):
        recorder.add_poll(snapshot(i), point_of(i))
    reader = Recording.open(path)
    recorder.close()
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    with Recording.open(copy) as rec:
        assert len(rec.times) == 30 and rec.snapshot_at(29) == snapshot(29)
    reader.close()


def test_reading_while_writing(tmp_path):
    path = tmp_path / "live.db"
    recorder = Recorder(path, interval=1.0, source="scrape", api_url=None)
    for i in range(10):
        recorder.add_poll(snapshot(i), point_of(i))
    rec = Recording.open(path)
    assert len(rec.times) == 10
    for i in range(10, 15):
        recorder.add_poll(snapshot(i), point_of(i))
    recorder.add_event(T0.timestamp() + 12, "version", VERSION)
    assert len(rec.times) == 10  # nothing moves under the replay until it asks
    assert rec.refresh() == 15
    assert rec.times[-1] == T0.timestamp() + 14 and rec.snapshot_at(14) == snapshot(14)
    assert rec.event_at("version", rec.end) == (T0.timestamp() + 12, VERSION)
    recorder.close()
    rec.close()


def test_bounded_by_age(tmp_path):
    """400 polls 1 s apart with max_age_s=10: only the last 10 s, plus at most one purge period, stay."""
    path = tmp_path / "r.db"
    t0 = T0.timestamp()
    with Recorder(path, interval=1.0, source="scrape", api_url=None, max_age_s=10) as recorder:
        recorder.add_event(t0, "drift", DRIFT)  # old, but the newest of its kind: kept for replay
        recorder.add_event(t0 + 1, "load", LOAD)
        recorder.add_event(t0 + 2, "load", LOAD)  # old and superseded: purged
        for i in range(400):
            recorder.add_poll(snapshot(i), point_of(i))
    with sqlite3.connect(path) as db:
        kept = [t for (t,) in db.execute("SELECT t FROM polls ORDER BY t")]
        events = db.execute("SELECT t, kind FROM events ORDER BY t").fetchall()
    newest = t0 + 399
    assert kept[-1] == newest
    assert len(kept) <= 10 + 1 + PURGE_EVERY
    assert kept[0] >= newest - 10 - PURGE_EVERY
    assert len(kept) < 400 - 10  # a purge did run
    assert events == [(t0, "drift"), (t0 + 2, "load")]
    with Recording.open(path) as rec:
        assert rec.snapshot_at(0) == snapshot(round(kept[0] - t0))
        assert rec.event_at("drift", rec.start) == (t0, DRIFT)


def test_refresh_follows_a_purge(tmp_path):
    path = tmp_path / "r.db"
    t0 = T0.timestamp()
    recorder = Recorder(path, interval=1.0, source="scrape", api_url=None, max_age_s=10)
    recorder.add_poll(snapshot(0), point_of(0))
    rec = Recording.open(path)
    for i in range(1, PURGE_EVERY + 5):
        recorder.add_poll(snapshot(i), point_of(i))
    rec.refresh()
    assert rec.start >= t0 + PURGE_EVERY - 1 - 10 and rec.end == t0 + PURGE_EVERY + 4
    assert rec.snapshot_at(0).taken_at.timestamp() == rec.start
    recorder.close()
    rec.close()


CHILD = """
import sys
sys.path.insert(0, {tests!r})
from fake_sources import snapshot
from streamflow_tui.core.recording import Recorder
from streamflow_tui.core.timeline import Timeline

recorder = Recorder({path!r}, interval=1.0, source="scrape", api_url=None)
timeline = Timeline(10)
i = 0
while True:  # until killed
    s = snapshot(i)
    timeline.add_snapshot(s)
    recorder.add_poll(s, timeline.points[-1])
    i += 1
"""


def test_kill_9_loses_no_committed_poll(tmp_path):
    path = tmp_path / "crash.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=str(TESTS), path=str(path))])

    def recorded() -> int:
        assert child.poll() is None, f"the recording process exited with {child.returncode}"
        try:
            with Recording.open(path) as rec:
                return len(rec.times)
        except RecordingError:  # not created yet, or no poll yet
            return 0

    try:
        wait_until(lambda: recorded() >= 20, 60, "20 polls recorded", interval=0.02, seen=recorded)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with Recording.open(path) as rec:
        n = len(rec.times)
        assert n >= 20
        assert rec.times == tuple(T0.timestamp() + i for i in range(n))  # every committed poll, no hole
        for i in range(n):
            assert rec.snapshot_at(i) == snapshot(i)
        assert len(rec.points_between(rec.start, rec.end)) == n
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# -- clear errors -----------------------------------------------------------------------------------


def not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not a database\n" * 200)
    return path


def other_database(tmp_path: Path) -> Path:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
    return path


def other_format(tmp_path: Path) -> Path:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('format', 'streamflow.recording/9')")
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d: d / "missing" / "r.db", "the folder .*missing does not exist"),
        (lambda d: d, "it is a folder"),
        (not_sqlite, "it is not an SQLite file"),
        (other_database, "it is an SQLite database but not a StreamFlow recording \\(no format"),
        (other_format, "it is an SQLite database but not a StreamFlow recording \\(format 'streamflow.recording/9'"),
    ],
)
def test_recorder_refuses_clearly(tmp_path, make, reason):
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(RecordingError, match=f"^cannot record to {re.escape(str(path))}: {reason}"):
        Recorder(path, interval=1.0, source="scrape", api_url=None)
    if before is not None:
        assert path.read_bytes() == before  # another program's file is left as it was


def test_recorder_refuses_a_place_it_cannot_write(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    path = folder / "r.db"
    with read_only(folder):  # chmod, and chattr +i where the tests run as root
        with pytest.raises(
            RecordingError,
            match=f"^cannot record to {re.escape(str(path))}: the folder {re.escape(str(folder))} is read-only",
        ):
            Recorder(path, interval=1.0, source="scrape", api_url=None)
    assert not path.exists()


def test_recorder_on_a_read_only_file(tmp_path):
    path = tmp_path / "r.db"
    record(path, 1)
    path.chmod(0o444)
    immutable = os.geteuid() == 0  # root writes through permissions: the immutable attribute then
    if immutable:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        with pytest.raises(RecordingError, match=f"^cannot record to {re.escape(str(path))}: it is read-only"):
            Recorder(path, interval=1.0, source="scrape", api_url=None)
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    with Recording.open(path) as rec:
        assert len(rec.times) == 1  # and what it held is untouched


def empty_recording(tmp_path: Path) -> Path:
    path = tmp_path / "empty.db"
    Recorder(path, interval=1.0, source="scrape", api_url=None).close()
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d: d / "nope.db", "no such file"),
        (not_sqlite, "it is not an SQLite file"),
        (other_database, "it is an SQLite database but not a StreamFlow recording \\(no format"),
        (other_format, "it is an SQLite database but not a StreamFlow recording \\(format 'streamflow.recording/9'"),
        (empty_recording, "it is empty \\(no polls recorded\\)"),
    ],
)
def test_opening_refuses_clearly(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(RecordingError, match=f"^cannot open recording {re.escape(str(path))}: {reason}"):
        Recording.open(path)
    assert path.exists() == (reason != "no such file")  # opening never creates a file
