"""``--processes N``: one run as N segments of it (``loadgen/segments.py``) in N local processes.

Each child builds its segment, says it is ready, and starts on the whole second the parent then picks for
all of them, so their schedules interleave as one. A child sends a progress line twice a second and its
full results at the end (``LoadStats.export``: HDR histograms in their compressed encoding, epoch times).
With ``--metrics-port P`` child *i* serves its own segment's client metrics on port P + i, as a separate
``--segment i/N`` process would, and keeps serving until the parent closes the run (after its linger).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .config import LoadConfig
from .errors import ProcessesError
from .runner import LoadRunner, stats_for
from .stats import LoadStats

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

START_MARGIN_S = 0.5  # from the last child ready to the common start, at least


@dataclass(frozen=True)
class MetricsPlan:
    """``--metrics-port`` for the children: child i serves on ``port + i``."""

    port: int
    host: str
    run_id: str
    hostname: str


def split(config: LoadConfig, n: int, start_at: float | None = None) -> list[LoadConfig]:
    """``n`` segments of ``config`` (fewer when it has fewer workers or requests than that)."""
    n = min([n, *(v for v in (config.concurrency, config.requests) if v is not None)])

    def share(total: int, i: int) -> int:
        return total // n + (1 if i < total % n else 0)

    return [
        replace(
            config,
            segment_index=i,
            segment_count=n,
            start_at=start_at,
            max_in_flight=max(1, share(config.max_in_flight, i)),
        )
        for i in range(n)
    ]


def _child(
    config: LoadConfig,
    results: mp.Queue,
    go: Event,
    start_at: Synchronized,
    stop: Event,
    plan: MetricsPlan | None,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    parent = os.getppid()
    from .payloads import bodies

    bodies(config.month, config.payload, seed=config.seed)  # warms imports and the page cache
    index = config.segment_index
    stats = stats_for(config)  # counted from here: the metrics port serves them from the start
    server = None
    if plan is not None:
        from . import metrics

        try:
            server = metrics.serve(
                stats,
                port=plan.port + index,
                host=plan.host,
                segment=f"{index}/{config.segment_count}",
                run_id=plan.run_id,
                hostname=plan.hostname,
                rate=config.segment_rate,
            )
        except OSError as exc:
            results.put(("failed", index, f"process {index}: --metrics-port {plan.port + index}: {exc}"))
            return
    results.put(("ready", index, None))
    go.wait()
    if stop.is_set():  # stopped before the start
        results.put(("done", index, stats.export()))
        return
    runner = LoadRunner(replace(config, start_at=start_at.value), stats).start()
    while runner.running:
        if stop.wait(0.5):
            runner.stop()
            break
        s = runner.snapshot()
        results.put(("progress", index, (s.sent, s.ok, s.errors, s.achieved_rps or 0.0)))
    try:
        runner.wait()
    finally:
        results.put(("done", index, runner.stats.export()))
        if server is not None:
            # The final counts stay scrapeable until the parent closes the run (or is gone).
            while not stop.wait(1.0) and os.getppid() == parent:
                pass
            server.shutdown()  # type: ignore[attr-defined]


class LocalSegments:
    """The segments of one run in ``n`` processes on this host: ``collect`` their merged results, then
    ``close`` (which ends the children's metrics servers, when they have them)."""

    def __init__(self, config: LoadConfig, n: int, metrics: MetricsPlan | None = None):
        self.config = config
        ctx = mp.get_context("spawn")
        self.results: mp.Queue = ctx.Queue()
        self.stop, self.go = ctx.Event(), ctx.Event()
        self.start_at = ctx.Value("d", 0.0)
        self.parts = split(config, n)
        self.procs = [
            ctx.Process(
                target=_child, args=(part, self.results, self.go, self.start_at, self.stop, metrics), daemon=True
            )
            for part in self.parts
        ]
        for p in self.procs:
            p.start()

    def collect(
        self,
        on_progress: Callable[[int, int, int, float], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> LoadStats:
        """Start the segments together, wait for their results and merge them."""
        config, procs, results, stop, go = self.config, self.procs, self.results, self.stop, self.go
        progress: dict[int, tuple] = {}
        done: dict[int, dict] = {}
        ready: set[int] = set()
        try:
            while len(done) < len(procs):
                if should_stop():
                    stop.set()
                    go.set()
                try:
                    kind, index, payload = results.get(timeout=0.2)
                except queue.Empty:
                    if not any(p.is_alive() for p in procs) and results.empty():
                        break  # a child died without reporting
                    continue
                if kind == "failed":
                    raise ProcessesError(payload)
                if kind == "ready":
                    ready.add(index)
                    if len(ready) == len(procs):
                        # A whole second, as a segment started on its own would pick (segments.resolve_start).
                        soonest = time.time() + START_MARGIN_S
                        given = config.start_at
                        start = given if given is not None and given >= soonest else float(math.ceil(soonest))
                        self.start_at.value = start
                        go.set()
                elif kind == "progress":
                    progress[index] = payload
                    if on_progress:
                        on_progress(*(sum(v[k] for v in progress.values()) for k in range(4)))
                else:
                    done[index] = payload
        except KeyboardInterrupt:
            stop.set()
            go.set()
            while len(done) < len(procs):
                try:
                    kind, index, payload = results.get(timeout=5)
                except queue.Empty:
                    break
                if kind == "done":
                    done[index] = payload
        merged = merge_exports(list(done.values()), config)
        if len(done) < len(self.parts):
            merged.error_kinds["lost_process"] += len(self.parts) - len(done)
        return merged

    def close(self) -> None:
        self.stop.set()
        self.go.set()
        for p in self.procs:
            p.join(timeout=5)


def run_processes(
    config: LoadConfig,
    n: int,
    on_progress: Callable[[int, int, int, float], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> LoadStats:
    """Run ``config`` as ``n`` segments in ``n`` processes; returns the merged statistics."""
    segments = LocalSegments(config, n)
    try:
        return segments.collect(on_progress, should_stop)
    finally:
        segments.close()


def merge_exports(exports: list[dict], config: LoadConfig, wall_offset: float | None = None) -> LoadStats:
    """One ``LoadStats`` from segments' ``export()``s: totals added, histograms added (lossless), timelines
    aligned by absolute second. Times land on this process's perf_counter unless ``wall_offset`` says
    otherwise (0: epoch seconds)."""
    offset = time.time() - time.perf_counter() if wall_offset is None else wall_offset
    merged = stats_for(config)
    merged.wall_offset = offset
    if not exports:
        merged.ended = merged.started
        return merged
    origin = min(e["started_at"] for e in exports)
    for e in exports:
        shift = math.floor(e["started_at"] + 1e-6) - math.floor(origin + 1e-6)
        merged.merge(LoadStats.from_export(e, config.model, wall_offset=offset, shift=shift))
    merged.started = origin - offset
    ends = [e["ended_at"] for e in exports if e["ended_at"] is not None]
    merged.ended = (max(ends) if ends else time.time()) - offset
    return merged
