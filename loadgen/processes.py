"""``--processes N``: split one run over N processes and merge their histograms.

Each child runs its share (rate/N, or its part of the concurrency and of the
request budget) and sends a progress line twice a second and its full results
at the end; HDR histograms travel in their standard compressed encoding.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import replace

from hdrh.histogram import HdrHistogram

from .config import LoadConfig
from .engine import LoadRunner
from .stats import LoadStats

COUNTERS = ("sent", "ok", "errors", "cancelled", "not_sent", "late", "no_answer")


def split(config: LoadConfig, n: int) -> list[LoadConfig]:
    def share(total: int, i: int) -> int:
        return total // n + (1 if i < total % n else 0)

    out = []
    for i in range(n):
        changes: dict = {"seed": config.seed + i}
        if config.rate is not None:
            changes["rate"] = config.rate / n
            changes["max_in_flight"] = max(1, share(config.max_in_flight, i))
        else:
            changes["concurrency"] = share(config.concurrency, i)
        if config.requests is not None:
            changes["requests"] = share(config.requests, i)
        if changes.get("concurrency", 1) >= 1 and changes.get("requests", 1) >= 1:
            out.append(replace(config, **changes))
    return out


def to_wire(stats: LoadStats) -> dict:
    return {
        **{k: getattr(stats, k) for k in COUNTERS},
        "max_send_lag_s": stats.max_send_lag_s,
        "status_codes": dict(stats.status_codes),
        "error_kinds": dict(stats.error_kinds),
        "timeline": stats.timeline,
        "corrected": stats.corrected.encode(),
        "uncorrected": stats.uncorrected.encode(),
        "first_send": stats.first_send,
        "last_send": stats.last_send,
        "elapsed": (stats.ended or time.perf_counter()) - stats.started,
    }


def from_wire(data: dict, model: str) -> LoadStats:
    stats = LoadStats(model=model)
    for k in COUNTERS:
        setattr(stats, k, data[k])
    stats.max_send_lag_s = data["max_send_lag_s"]
    stats.status_codes.update(data["status_codes"])
    stats.error_kinds.update(data["error_kinds"])
    stats.timeline = {int(k): list(v) for k, v in data["timeline"].items()}
    stats.corrected = HdrHistogram.decode(data["corrected"])
    stats.uncorrected = HdrHistogram.decode(data["uncorrected"])
    stats.first_send, stats.last_send = data["first_send"], data["last_send"]
    return stats


def _child(index: int, config: LoadConfig, results: mp.Queue, stop: mp.Event) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    runner = LoadRunner(config).start()
    while runner.running:
        if stop.wait(0.5):
            runner.stop()
            break
        s = runner.snapshot()
        results.put(("progress", index, (s.sent, s.ok, s.errors, s.achieved_rps or 0.0)))
    try:
        runner.wait()
    finally:
        # perf_counter is per process, so send times are shifted to this child's start.
        wire = to_wire(runner.stats)
        base = runner.stats.started
        wire["first_send"] = None if wire["first_send"] is None else wire["first_send"] - base
        wire["last_send"] = None if wire["last_send"] is None else wire["last_send"] - base
        results.put(("done", index, wire))


def run_processes(
    config: LoadConfig,
    n: int,
    on_progress: Callable[[int, int, int, float], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> LoadStats:
    """Run ``config`` over ``n`` processes; returns the merged statistics."""
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    stop = ctx.Event()
    parts = split(config, n)
    procs = [ctx.Process(target=_child, args=(i, part, results, stop), daemon=True) for i, part in enumerate(parts)]
    for p in procs:
        p.start()
    merged = LoadStats(model=config.model, target_rate=config.rate, concurrency=config.concurrency)
    progress: dict[int, tuple] = {}
    done: dict[int, dict] = {}
    started = time.perf_counter()
    try:
        while len(done) < len(procs):
            if should_stop():
                stop.set()
            try:
                kind, index, payload = results.get(timeout=0.2)
            except queue.Empty:
                if not any(p.is_alive() for p in procs) and results.empty():
                    break  # a child died without reporting
                continue
            if kind == "progress":
                progress[index] = payload
                if on_progress:
                    on_progress(*(sum(v[k] for v in progress.values()) for k in range(4)))
            else:
                done[index] = payload
    except KeyboardInterrupt:
        stop.set()
        while len(done) < len(procs):
            try:
                kind, index, payload = results.get(timeout=5)
            except queue.Empty:
                break
            if kind == "done":
                done[index] = payload
    for p in procs:
        p.join(timeout=5)
    merged.started = started
    elapsed = max((d["elapsed"] for d in done.values()), default=0.0)
    for data in done.values():
        child = from_wire(data, config.model)
        # Children started together: align their send windows on a common origin.
        if child.first_send is not None:
            child.first_send += started
            child.last_send += started
        merged.merge(child)
    merged.ended = started + elapsed
    if len(done) < len(parts):
        merged.error_kinds["lost_process"] += len(parts) - len(done)
    return merged
