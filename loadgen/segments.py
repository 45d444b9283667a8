"""Segments: one run split over processes or machines, each writing a result file that merges without loss.

A segment is ``i/N`` (or k6's ``a:b`` with b − a = 1/N). Segment ``i`` of an open-model run sends the
requests i, i+N, i+2N… of the whole run's schedule of intended times, so the union of the segments is that
schedule exactly; a closed-model segment runs its share of the workers. Each takes every N-th payload row
from its index (disjoint slices, deterministic from ``--seed``). All segments of a run start their schedule
on the same wall-clock second (``--start-at``, default the next whole second), and write the
``streamflow.load/1`` report plus what merging needs (``raw``: the counters, the encoded HDR histograms,
the per-second timeline and epoch times) to ``--output``. ``merge.py`` combines such files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import report
from .config import LoadConfig
from .errors import SegmentError
from .stats import LoadStats

START_MARGIN_S = 0.5  # "next whole second" is at least this far away: time to build the engine
INDEX_ENV = "JOB_COMPLETION_INDEX"  # Kubernetes Indexed Jobs set it in each pod
RUN_ID_ENV = "STREAMFLOW_RUN_ID"


def parse_segment(text: str) -> tuple[int, int]:
    """``"i/N"`` (0-based index) or k6's ``"a:b"`` (fractions or decimals, b − a = 1/N, a a multiple of it)."""
    text = text.strip()
    try:
        if ":" in text:
            a, b = (Fraction(part.strip()) for part in text.split(":", 1))
            if not 0 <= a < b <= 1:
                raise SegmentError(f"segment {text!r}: need 0 <= start < end <= 1")
            width = b - a
            if (1 / width).denominator != 1 or (a / width).denominator != 1:
                raise SegmentError(f"segment {text!r}: only equal segments (1/N wide, starting at a multiple of 1/N)")
            index, count = int(a / width), int(1 / width)
        else:
            index_text, count_text = text.split("/", 1)
            index, count = int(index_text), int(count_text)
    except (ValueError, ZeroDivisionError) as exc:
        if isinstance(exc, SegmentError):
            raise
        raise SegmentError(f"segment {text!r}: expected i/N (e.g. 0/4) or start:end (e.g. 0:0.25)") from None
    if not 0 <= index < count:
        raise SegmentError(f"segment {text!r}: the index counts from 0 and must be below N")
    return index, count


def index_from_env(count: int, env: dict[str, str] | None = None) -> int:
    """``--segment-count N`` without ``--segment``: the index is ``$JOB_COMPLETION_INDEX``."""
    value = (os.environ if env is None else env).get(INDEX_ENV)
    if value is None:
        raise SegmentError(f"--segment-count needs --segment i/N or ${INDEX_ENV} (set by a Kubernetes Indexed Job)")
    try:
        index = int(value)
    except ValueError:
        raise SegmentError(f"${INDEX_ENV} must be an integer, got {value!r}") from None
    if not 0 <= index < count:
        raise SegmentError(f"${INDEX_ENV}={index} is not below --segment-count {count}")
    return index


def resolve_start(start_at: float | None, now: float | None = None) -> int:
    """The wall-clock second the schedule starts on: ``start_at`` (whole seconds, in the future), or the
    next whole second at least ``START_MARGIN_S`` away."""
    now = time.time() if now is None else now
    if start_at is None:
        return math.ceil(now + START_MARGIN_S)
    if start_at != int(start_at):
        raise SegmentError(f"--start-at takes whole epoch seconds, got {start_at}")
    if start_at <= now:
        raise SegmentError(f"--start-at {int(start_at)} has already passed ({now - start_at:.1f} s ago)")
    return int(start_at)


def default_run_id(config: LoadConfig, explicit_start: bool) -> str:
    """What makes segments one run: target, load, duration, seed, segment count (and the start time when
    given). Segments started with the same command line get the same id; use ``--run-id`` (or
    ``$STREAMFLOW_RUN_ID``) to tell two runs of one command line apart."""
    key: dict[str, Any] = {
        "url": config.url,
        "method": config.method,
        "payload": config.payload,
        "month": config.month,
        "rate": config.rate,
        "concurrency": config.concurrency,
        "duration": config.duration,
        "requests": config.requests,
        "ramp_up": config.ramp_up,
        "seed": config.seed,
        "segments": config.segment_count,
        "start_at": config.start_at if explicit_start else None,
    }
    if config.stream is not None:  # only then: a plain run's id is what it was before --stream
        key["stream"] = config.stream.settings()
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def document(
    config: LoadConfig,
    stats: LoadStats,
    *,
    run_id: str,
    partial: bool = False,
    reason: str | None = None,
) -> dict[str, Any]:
    """A segment's result file: the ``streamflow.load/1`` report, its segment and what merging needs."""
    raw = stats.export()
    now = time.time()
    if raw["ended_at"] is None:  # a checkpoint while running: what was counted up to now
        raw["ended_at"] = now
    # The report comes from the exported counts, not the live ones: a checkpoint written while requests
    # still finish then says in its report exactly what its ``raw`` (which merge reads) says.
    counted = LoadStats.from_export(raw, config.model, wall_offset=stats.wall_offset)
    counted.target_rate, counted.concurrency, counted.feedback = stats.target_rate, stats.concurrency, stats.feedback
    doc = report.build(config, counted)
    started_at = raw["started_at"]
    for row in doc["timeline"]:
        row["at"] = math.floor(started_at + 1e-6) + row["second"]
    doc["segment"] = {
        "index": config.segment_index,
        "count": config.segment_count,
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "start_at": config.start_at,
        "seed": config.seed,
        "ramp_up_s": config.ramp_up,
        "rate": config.segment_rate,
        "concurrency": config.segment_concurrency,
        "requests": config.segment_requests,
    }
    doc["partial"] = partial
    doc["partial_reason"] = reason if partial else None
    doc["written_at"] = now
    doc["raw"] = raw
    return doc


def write_atomic(path: str | Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` as JSON to ``path`` so that a reader never sees half a file (temp file + rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
