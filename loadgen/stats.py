"""Counts, HDR latency histograms and a per-second timeline, in constant memory.

All methods are thread-safe: the engine records from its event-loop thread
while the console (or the CLI's progress line) reads snapshots from another.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from hdrh.histogram import HdrHistogram

from streamflow_data.load import LoadSnapshot, StreamSnapshot

from . import hdr_read
from .histograms import MAX_LATENCY_US, PERCENTILES, new_histogram
from .histograms import pct_key as _pct_key
from .stream_stats import StreamStats

TIMELINE_SECONDS = 3_600  # per-second buckets kept (the newest)
COUNTERS = ("sent", "ok", "errors", "cancelled", "not_sent", "late", "no_answer", "retried")
LATE_AFTER_S = 0.010  # an open-model request sent this late missed its intended time


@dataclass
class LoadStats:
    model: str
    target_rate: float | None = None
    concurrency: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    corrected: HdrHistogram = field(default_factory=new_histogram, repr=False)
    uncorrected: HdrHistogram = field(default_factory=new_histogram, repr=False)
    sent: int = 0
    ok: int = 0
    errors: int = 0
    cancelled: int = 0
    no_answer: int = 0
    not_sent: int = 0
    late: int = 0
    retried: int = 0
    max_send_lag_s: float = 0.0
    status_codes: Counter = field(default_factory=Counter)
    error_kinds: Counter = field(default_factory=Counter)
    timeline: dict[int, list[int]] = field(default_factory=dict)  # second -> [sent, ok, errors, no_answer]
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    feedback: dict | None = None  # what the feedback sender delivered (--feedback-delay)
    first_send: float | None = None
    last_send: float | None = None
    wall_offset: float = field(default_factory=lambda: time.time() - time.perf_counter())  # epoch = perf + this
    stream: StreamStats | None = None  # --stream: TTFT, ITL, tokens (loadgen/stream_stats.py)

    def mark_start(self, at: float | None = None, epoch: float | None = None) -> None:
        """The run (its schedule) starts at ``at`` (perf_counter; default now): elapsed time and the
        timeline's seconds count from there. ``epoch``: the wall-clock time ``at`` stands for (segments
        start on a whole second: their exported times then count from exactly that second)."""
        with self._lock:
            self.started = time.perf_counter() if at is None else at
            self.wall_offset = time.time() - time.perf_counter() if epoch is None else epoch - self.started

    def _second(self, t: float) -> list[int]:
        s = int(t - self.started)  # a timer that fires a hair early still counts in second 0
        bucket = self.timeline.get(s)
        if bucket is None:
            bucket = self.timeline[s] = [0, 0, 0, 0]
            if len(self.timeline) > TIMELINE_SECONDS:
                del self.timeline[min(self.timeline)]
        return bucket

    def on_send(self, sent_at: float, intended: float | None) -> None:
        with self._lock:
            self.sent += 1
            if self.first_send is None:
                self.first_send = sent_at
            self.last_send = sent_at
            self._second(sent_at)[0] += 1
            if intended is not None:
                lag = sent_at - intended
                if lag > LATE_AFTER_S:
                    self.late += 1
                if lag > self.max_send_lag_s:
                    self.max_send_lag_s = lag

    def on_done(
        self, intended: float | None, sent_at: float, done_at: float, status: int | None, error: str | None
    ) -> None:
        uncorrected_us = min(MAX_LATENCY_US, max(1, round((done_at - sent_at) * 1e6)))
        # From the intended time when the request went out late; a timer that fires a little
        # early (uvloop's have 1 ms granularity) must not make corrected beat uncorrected.
        start = sent_at if intended is None else min(intended, sent_at)
        corrected_us = min(MAX_LATENCY_US, max(1, round((done_at - start) * 1e6)))
        with self._lock:
            second = self._second(done_at)
            if status is None:
                # No answer at all (refused, reset, timeout): an error, but no latency and no throughput.
                # A dead API answers "connection refused" in microseconds; counted as answers, those
                # would read as a fast, busy service.
                self.no_answer += 1
                second[3] += 1
            else:
                self.uncorrected.record_value(uncorrected_us)
                self.corrected.record_value(corrected_us)
                self.status_codes[str(status)] += 1
            if error is None:
                self.ok += 1
                second[1] += 1
            else:
                self.errors += 1
                self.error_kinds[error] += 1
                second[2] += 1

    def on_cancel(self) -> None:
        with self._lock:
            self.cancelled += 1

    def on_retry(self) -> None:
        with self._lock:
            self.retried += 1

    def on_not_sent(self, n: int) -> None:
        with self._lock:
            self.not_sent += n

    @staticmethod
    def _percentiles(h: HdrHistogram, counts) -> dict[str, float | None]:
        if not counts.any():
            return {_pct_key(p): None for p in PERCENTILES}
        values = hdr_read.percentiles(h, counts, PERCENTILES)
        return {_pct_key(p): values[p] / 1e6 for p in PERCENTILES}

    def snapshot(self, now: float | None = None) -> LoadSnapshot:
        """Cheap enough to call often: the lock is held for two array copies, not the percentile math."""
        with self._lock:
            corrected, uncorrected = hdr_read.counts(self.corrected), hdr_read.counts(self.uncorrected)
            end = self.ended if self.ended is not None else (now or time.perf_counter())
            elapsed = max(1e-9, end - self.started)
            if self.ended is None:
                current = int(end - self.started)
                recent = [self.timeline.get(s, [0, 0, 0, 0]) for s in (current - 2, current - 1) if s >= 0]
                achieved = sum(b[1] + b[2] - b[3] for b in recent) / len(recent) if recent else None
            else:
                achieved = (self.ok + self.errors - self.no_answer) / elapsed
            # Typed like the constructor (mypy checks a partial's arguments); the percentiles are added outside the lock.
            make = partial(
                LoadSnapshot,
                model=self.model,
                running=self.ended is None,
                elapsed_s=elapsed,
                target_rate=self.target_rate,
                concurrency=self.concurrency,
                sent=self.sent,
                ok=self.ok,
                errors=self.errors,
                cancelled=self.cancelled,
                no_answer=self.no_answer,
                in_flight=self.sent - self.ok - self.errors - self.cancelled,
                not_sent=self.not_sent,
                late=self.late,
                max_send_lag_s=self.max_send_lag_s,
                achieved_rps=achieved,
                send_rate=self._send_rate(),
                status_codes=dict(self.status_codes),
                error_kinds=dict(self.error_kinds),
                retried=self.retried,
            )
        return make(
            corrected=self._percentiles(self.corrected, corrected),
            uncorrected=self._percentiles(self.uncorrected, uncorrected),
            stream=self._stream_snapshot(elapsed),
        )

    def _stream_snapshot(self, elapsed: float) -> StreamSnapshot | None:
        """A --stream run's figures: three more copies of counts (under the stream's own lock), percentiles outside."""
        if self.stream is None:
            return None
        view = self.stream.metrics_view()
        hist = self.stream.hist  # for the layout only: the counts are the copies in ``view``
        return StreamSnapshot(
            streams=view["streams"],
            tokens=view["tokens"],
            tokens_per_s=view["tokens"] / elapsed,
            ttft_corrected=self._percentiles(hist["ttft_corrected"], view["ttft_corrected"]),
            ttft_uncorrected=self._percentiles(hist["ttft_uncorrected"], view["ttft_uncorrected"]),
            itl=self._percentiles(hist["itl"], view["itl"]),
        )

    def _send_rate(self) -> float | None:
        """Requests started per second between the first and the last send: the schedule's achieved rate."""
        first, last = self.first_send, self.last_send  # set together, by on_send and merge
        if self.sent < 2 or first is None or last is None or last == first:
            return None
        return (self.sent - 1) / (last - first)

    def finish(self) -> None:
        with self._lock:
            if self.ended is None:
                self.ended = time.perf_counter()

    def timeline_rows(self) -> list[dict[str, int]]:
        with self._lock:
            return [
                {"second": s, "sent": b[0], "ok": b[1], "errors": b[2], "no_answer": b[3]}
                for s, b in sorted(self.timeline.items())
            ]

    def latency_summary(self, corrected: bool = True) -> dict[str, float | None]:
        with self._lock:
            h = self.corrected if corrected else self.uncorrected
            if h.get_total_count() == 0:
                return {"fastest": None, "slowest": None, "average": None, "stddev": None}
            mean, stddev = hdr_read.mean_stddev(h, hdr_read.counts(h))
            return {
                "fastest": h.get_min_value() / 1e6,
                "slowest": h.get_max_value() / 1e6,
                "average": mean / 1e6,
                "stddev": stddev / 1e6,
            }

    def histogram_rows(self, corrected: bool = True, bars: int = 11) -> list[dict[str, float | int]]:
        """hey-style distribution: ``bars`` equal-width buckets between fastest and slowest."""
        with self._lock:
            h = self.corrected if corrected else self.uncorrected
            if h.get_total_count() == 0:
                return []
            lo, hi = h.get_min_value(), h.get_max_value()
            counts = hdr_read.equal_width_bars(h, hdr_read.counts(h), lo, hi, bars)
            width = max(1, (hi - lo) / (bars - 1))
            return [{"le": (lo + width * i) / 1e6, "count": c} for i, c in enumerate(counts)]

    def export(self) -> dict:
        """Everything a segment file carries that the report does not: the encoded HDR histograms (hdrh's
        compressed base64), the counters and the per-second timeline, times as epoch seconds. Taken under
        the lock, so a file written while the run goes on is consistent (an encode costs < 1 ms)."""
        with self._lock:

            def epoch(t: float | None) -> float | None:
                return None if t is None else t + self.wall_offset

            return {
                "histograms": {
                    "corrected": self.corrected.encode().decode(),
                    "uncorrected": self.uncorrected.encode().decode(),
                },
                "counters": {k: getattr(self, k) for k in COUNTERS},
                "max_send_lag_s": self.max_send_lag_s,
                "status_codes": dict(self.status_codes),
                "error_kinds": dict(self.error_kinds),
                "started_at": epoch(self.started),
                "ended_at": epoch(self.ended),
                "first_send_at": epoch(self.first_send),
                "last_send_at": epoch(self.last_send),
                "timeline": {str(s): list(b) for s, b in sorted(self.timeline.items())},
                # A block that readers from before --stream never look at: files stay streamflow.load/1.
                **({"stream": self.stream.export()} if self.stream is not None else {}),
            }

    def metrics_view(self) -> dict:
        """Counters and copies of the histograms' counts, consistent with each other (``--metrics-port``)."""
        with self._lock:
            return {
                **{k: getattr(self, k) for k in COUNTERS},
                "status_codes": dict(self.status_codes),
                "error_kinds": dict(self.error_kinds),
                "corrected": hdr_read.counts(self.corrected),
                "uncorrected": hdr_read.counts(self.uncorrected),
            }

    @classmethod
    def from_export(cls, data: dict, model: str, *, wall_offset: float = 0.0, shift: int = 0) -> LoadStats:
        """The inverse of ``export``: times back on a clock that reads epoch − ``wall_offset`` (0: epoch
        seconds themselves), timeline seconds moved by ``shift`` (to align runs that started apart)."""

        def clock(t: float | None) -> float | None:
            return None if t is None else t - wall_offset

        stats = cls(model=model)
        for k in COUNTERS:
            setattr(stats, k, int(data["counters"].get(k, 0)))  # files from before "retried" lack it
        stats.max_send_lag_s = data["max_send_lag_s"]
        stats.status_codes.update(data["status_codes"])
        stats.error_kinds.update(data["error_kinds"])
        stats.timeline = {int(k) + shift: list(v) for k, v in data["timeline"].items()}
        stats.corrected = HdrHistogram.decode(data["histograms"]["corrected"])
        stats.uncorrected = HdrHistogram.decode(data["histograms"]["uncorrected"])
        stats.started = data["started_at"] - wall_offset
        stats.ended = clock(data["ended_at"])
        stats.first_send, stats.last_send = clock(data["first_send_at"]), clock(data["last_send_at"])
        stats.wall_offset = wall_offset
        if "stream" in data:
            stats.stream = StreamStats.from_export(data["stream"])
        return stats

    def merge(self, other: LoadStats) -> None:
        """Add another process's results (``--processes``)."""
        with self._lock:
            self.corrected.add(other.corrected)
            self.uncorrected.add(other.uncorrected)
            for name in COUNTERS:
                setattr(self, name, getattr(self, name) + getattr(other, name))
            self.max_send_lag_s = max(self.max_send_lag_s, other.max_send_lag_s)
            firsts = [t for t in (self.first_send, other.first_send) if t is not None]
            lasts = [t for t in (self.last_send, other.last_send) if t is not None]
            self.first_send = min(firsts, default=None)
            self.last_send = max(lasts, default=None)
            self.status_codes.update(other.status_codes)
            self.error_kinds.update(other.error_kinds)
            for s, b in other.timeline.items():
                mine = self.timeline.setdefault(s, [0, 0, 0, 0])
                for i in range(4):
                    mine[i] += b[i]
            if other.stream is not None:
                if self.stream is None:
                    self.stream = StreamStats()
                self.stream.merge(other.stream)
