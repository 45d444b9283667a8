"""Deterministic metric sources for the console's snapshot tests: the same frames on every run."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from streamflow_tui.core.performance import Performance, Reliability, Scores
from streamflow_tui.core.results import (
    Bucket,
    CounterPart,
    Latency,
    LatencySpec,
    MetricChoice,
    ModelStats,
    RequestStats,
    SeriesRate,
    Snapshot,
    TargetStatus,
)

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
LATENCY_LE = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, math.inf)
SCORE_LE = tuple(round(0.05 * i, 2) for i in range(1, 21)) + (math.inf,)


NEW_VERSION = "month_004-5715c455fef8"


def snapshot(i: int, *, up: bool = True, switch_at: int | None = None) -> Snapshot:
    rps = 180 + 20 * math.sin(i / 3)
    api = TargetStatus(
        "http://127.0.0.1:8000",
        up,
        None if up else "cannot connect to http://127.0.0.1:8000/metrics: connection refused",
    )
    if not up:
        return Snapshot(
            T0 + timedelta(seconds=i),
            "scrape",
            api,
            TargetStatus(None, None),
            5.0,
            RequestStats(None, None, None),
            Latency(),
            (),
            None,
            None,
        )
    p50 = 0.0021 + 0.0002 * math.sin(i / 2)
    latency = Latency(avg=p50 * 1.2, p50=p50, p95=p50 * 2.3, p99=p50 * 4.6)
    by_series = (
        SeriesRate("/predict", "error", "404", 310.0 + i, rps * 0.02),
        SeriesRate("/predict", "success", "200", 15_000.0 + 200 * i, rps * 0.98),
        SeriesRate("/health", "success", "200", 40.0, 0.0),
    )
    hist = tuple(Bucket(le, c) for le, c in zip(LATENCY_LE, (12, 230, 540, 120, 30, 8, 3, 1, 0)))
    scores = tuple(Bucket(le, float(max(0, 120 - 12 * k))) for k, le in enumerate(SCORE_LE))
    reference = tuple(Bucket(le, float(round(3000 * math.exp(-k / 4)))) for k, le in enumerate(SCORE_LE))
    model = ModelStats(
        "month_000-2b3f3733a2e6",
        "month_000",
        "month_005",
        rps * 0.98,
        0.118 + 0.01 * math.sin(i / 4),
        scores,
        reference,
    )
    if switch_at is not None and i >= switch_at:  # a retrained model took over: it predicts more churn
        scores = tuple(Bucket(le, float(max(0, 90 - 6 * k))) for k, le in enumerate(SCORE_LE))
        # Its reference is its own training month's scores (api_reference_probability{version}): more churn.
        reference = tuple(Bucket(le, float(round(3000 * math.exp(-k / 8)))) for k, le in enumerate(SCORE_LE))
        model = ModelStats(
            NEW_VERSION, "month_004", "month_005", rps * 0.98, 0.19 + 0.01 * math.sin(i / 4), scores, reference
        )
    labels = 40.0 * i  # labels arrive as the run goes on
    performance = Performance(
        threshold=0.5,
        predictions=15_000.0 + 200 * i,
        labels=labels,
        realized=Scores(0.80 + 0.02 * math.sin(i / 5), 0.71, 0.14, 0.90) if i > 5 else None,
        estimated=Scores(0.825, 0.64, 0.13, 0.907),
        reliability=(
            Reliability(0.0, 0.1, 900, 0.05),
            Reliability(0.1, 0.2, 300, 0.16),
            Reliability(0.2, 0.3, 120, 0.27),
        )
        if i > 5
        else (),
    )
    choice = MetricChoice(
        (CounterPart("api_requests_total"),),
        LatencySpec("histogram", "api_request_latency_seconds"),
        "endpoint",
        "status",
        "code",
        family="StreamFlow API",
    )
    return Snapshot(
        T0 + timedelta(seconds=i),
        "scrape",
        api,
        TargetStatus(None, None),
        5.0,
        RequestStats(15_310.0 + 201 * i, rps, 0.02, by_series),
        latency,
        hist,
        model,
        choice,
        latency_by_endpoint=(("/predict", Latency(p50=p50, p95=p50 * 2.3, p99=p50 * 4.6)),),
        performance=performance,
    )


class FakeSource:
    """Answers a scripted sequence of snapshots; ``down`` makes the next polls fail."""

    kind = "scrape"

    def __init__(self, start: int = 0, switch_at: int | None = None):
        self.i = start
        self.down = False
        self.switch_at = switch_at

    def poll(self):
        self.i += 1
        return None

    def snapshot(self, window: float) -> Snapshot:
        return snapshot(self.i, up=not self.down, switch_at=self.switch_at)

    def history(self, duration_s: float, step_s: float, window_seconds: float) -> None:
        return None  # a MetricSource with no past the console has not seen (as a scrape source)

    def close(self) -> None:
        pass
