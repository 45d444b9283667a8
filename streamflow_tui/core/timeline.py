"""A bounded history of snapshot figures for charts and export."""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields

from .results import Bucket, Snapshot


@dataclass(frozen=True)
class Point:
    t: float  # unix seconds
    rps: float | None
    error_ratio: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    churn_rate: float | None
    load_rps: float | None = None
    auc_realised: float | None = None  # model quality (core/performance.py), where the target counts it
    auc_estimated: float | None = None
    label_coverage: float | None = None
    latency_buckets: tuple[Bucket, ...] = ()  # the window's latency histogram: one column of the heatmap
    load_target: float | None = None  # the built-in load's target rate (open model)
    client_p95: float | None = None  # its p95 from the intended send times: the server's p95 plus queueing
    # An LLM engine's: the built-in stream load's TTFT p95 (corrected, over its run) and the engine's own (its
    # histogram, over the window). The gap is the network and the queueing the engine does not count.
    client_ttft_p95: float | None = None
    server_ttft_p95: float | None = None


def point_of(s: Snapshot, load=None) -> Point:
    """A snapshot's figures for the charts; ``load``: the built-in load generator's snapshot, if it runs.

    Without a load of its own, the console charts the load generators Prometheus scrapes (``remote_load``),
    when every segment of their run is scraped: a sum over some of them is not the run's rate.
    """
    perf = s.performance
    running = load is not None and load.running
    remote = s.remote_load if not running and s.remote_load is not None and s.remote_load.complete else None
    return Point(
        t=s.taken_at.timestamp(),
        rps=s.requests.rps,
        error_ratio=s.requests.error_ratio,
        p50=s.latency.p50,
        p95=s.latency.p95,
        p99=s.latency.p99,
        churn_rate=s.model.predicted_churn_rate if s.model else None,
        load_rps=load.achieved_rps if running else (remote.achieved_rps if remote else None),
        auc_realised=perf.realized.roc_auc if perf and perf.realized else None,
        auc_estimated=perf.estimated.roc_auc if perf and perf.estimated else None,
        label_coverage=perf.coverage if perf else None,
        latency_buckets=s.latency_histogram,
        load_target=load.target_rate if running else (remote.target_rps if remote else None),
        client_p95=load.corrected.get("p95") if running else (remote.p95 if remote else None),
        client_ttft_p95=load.stream.ttft_corrected.get("p95") if running and load.stream is not None else None,
        server_ttft_p95=_server_ttft_p95(s),
    )


def _server_ttft_p95(s: Snapshot) -> float | None:
    total = s.llm.total if s.llm is not None else None
    ttft = total.of("ttft") if total is not None else None
    return ttft.p95.value if ttft is not None else None


# The exported columns: the heatmap's histograms stay out of CSV and JSON rows.
SCALAR_COLUMNS = [f.name for f in fields(Point) if f.name != "latency_buckets"]


class Timeline:
    """The newest ``capacity`` points; memory is bounded whatever the uptime."""

    def __init__(self, capacity: int, points=()):
        self.points: deque[Point] = deque(points, maxlen=max(2, capacity))

    def add_snapshot(self, s: Snapshot, load=None) -> None:
        self.points.append(point_of(s, load))

    def add(self, point: Point) -> None:
        self.points.append(point)

    def column(self, name: str) -> list[float | None]:
        return [getattr(p, name) for p in self.points]

    def times(self) -> list[float]:
        return [p.t for p in self.points]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        names = SCALAR_COLUMNS
        writer.writerow(names)
        for p in self.points:
            writer.writerow(["" if getattr(p, n) is None else getattr(p, n) for n in names])
        return out.getvalue()

    def to_json(self) -> list[dict]:
        return [{n: getattr(p, n) for n in SCALAR_COLUMNS} for p in self.points]


def downsample(
    points: list[Point], name: str, buckets: int, reduce: Callable[[list[float]], float] = max
) -> tuple[list[float], list[float]]:
    """At most ``buckets`` (seconds before the newest point, value) pairs of one column, for a chart.

    Equal time slices from the oldest to the newest point (``points`` in time
    order), each placed at its newest point and reduced (``max`` keeps latency
    spikes visible); slices without a value are left out. plotext's cost grows
    with every point it is given.
    """
    if not points or buckets < 1:
        return [], []
    t0, t_end = points[0].t, points[-1].t
    span = (t_end - t0) or 1.0
    newest: dict[int, float] = {}
    values: dict[int, list[float]] = {}
    for p in points:
        value = getattr(p, name)
        if value is None:
            continue
        index = min(buckets - 1, int((p.t - t0) / span * buckets))
        newest[index] = p.t
        values.setdefault(index, []).append(value)
    return [t - t_end for t in newest.values()], [reduce(v) for v in values.values()]
