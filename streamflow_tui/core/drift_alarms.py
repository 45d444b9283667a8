"""Drift alarms with a false-alarm budget (#28): one CUSUM per feature on its per-window drift score.

A check every minute at a fixed threshold alarms by chance on unchanged data. Here the user states a budget
(``1/30d``: at most one false alarm in 30 days) and each feature gets a one-sided CUSUM,
``C_t = max(0, C_{t-1} + z_t - K)`` on its window's score standardised against the score's null distribution at
the traffic seen (``z = (s - mean0) / std0``), alarming when ``C_t > h``. The budget is the expected run time
(ERT) between false alarms of the whole set of detectors; Šidák splits it over the features (per-window hazard
``1 - (1 - 1/ERT)^(1/F)``), and each ``h`` is set so that that feature's CUSUM has that run length:

- the null distribution of a window's score is **simulated** from the reference's bins at the window's row count
  (multinomial draws, the score computed as core/binned_drift.py computes it, vectorised here);
- the run length for a given ``h`` is the Brook–Evans Markov chain over the simulated increments, and ``h`` is
  found by bisection. Draws: max(20,000, 2 × the feature's run length), capped at 200,000, so the increments'
  tail is sampled at the rates that matter (beyond the cap, documented in docs/DRIFT.md).

bench/drift_alarms.py checks the result the honest way: rows bootstrapped from month_000 (features correlated as
they are), ≥ 1,000 runs, empirical ERT against the budget; and the detection delay on month_003 / month_004.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .binned_drift import STD_FLOOR, CategoricalCounts, NumericCounts, Reference
from .errors import AlarmError

K = 0.5  # CUSUM reference value, in null standard deviations: tuned to shifts of one std0 or more
CELLS = 200  # Markov chain states over [0, h)
MIN_DRAWS, MAX_DRAWS = 20_000, 200_000
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class FalseAlarmBudget:
    """``alarms`` false alarms per ``seconds`` of watching, at most (``--drift-false-alarms 1/30d``)."""

    alarms: float
    seconds: float

    @classmethod
    def parse(cls, text: str) -> FalseAlarmBudget:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([smhdw])\s*", text)
        if not m or float(m.group(1)) <= 0:
            raise AlarmError(f"a false-alarm budget is N/DURATION, e.g. 1/30d or 2/7d; got {text!r}")
        return cls(float(m.group(1)), float(m.group(2) or 1) * UNITS[m.group(3)])

    def run_length(self, window_s: float) -> float:
        """The expected run time between false alarms, in windows."""
        return self.seconds / self.alarms / window_s


def sidak(run_length: float, detectors: int) -> float:
    """Each detector's run length so that the first alarm of any of ``detectors`` comes after ``run_length``."""
    hazard = 1.0 / run_length
    return 1.0 / -math.expm1(math.log1p(-hazard) / detectors)


# -- the per-window score, vectorised over draws (the same estimators as core/binned_drift.py) ------------------


def js_many(p: np.ndarray, q_counts: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance of the share vector ``p`` to each row of ``q_counts``."""
    q = q_counts / np.maximum(q_counts.sum(axis=1, keepdims=True), 1)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(q > 0, q * np.log(q / m), 0.0)
    return np.sqrt(np.maximum((a + b).sum(axis=1) / 2, 0.0))


def wasserstein_many(ref: NumericCounts, buckets: np.ndarray, integral: bool, std: float) -> np.ndarray:
    """Normed Wasserstein of each row of ``buckets`` (counts per bucket, none outside the reference's range)."""
    e = np.asarray(ref.edges)
    fp = np.asarray(ref.cumulative[:-1]) / ref.total
    fq = np.cumsum(buckets[:, : len(e)], axis=1) / np.maximum(buckets.sum(axis=1, keepdims=True), 1)
    d = fp - fq
    total = np.zeros(len(buckets))
    for j in range(1, len(e)):
        a, b, w = d[:, j - 1], d[:, j], e[j] - e[j - 1]
        if integral and w >= 1 and abs(w - round(w)) < 1e-9:
            k = int(round(w))
            total += sum(np.abs(a + (b - a) * i / k) for i in range(k))
        else:
            same = a * b >= 0
            with np.errstate(divide="ignore", invalid="ignore"):
                crossing = w * (a * a + b * b) / (2 * (np.abs(a) + np.abs(b)))
            total += np.where(same, w * (np.abs(a) + np.abs(b)) / 2, crossing)
    return total / max(std, STD_FLOOR)


def null_scores(reference: Reference, feature: str, rows: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` windows of ``rows`` rows drawn from the reference's bins: the feature's score in each."""
    counts: NumericCounts | CategoricalCounts
    if feature in reference.numeric:
        counts = reference.numeric[feature]
        p = np.asarray(counts.buckets()) / counts.total
        sample = rng.multinomial(rows, p, size=draws)
        occupied = int((p > 0).sum())
        if occupied <= 5:  # binned_drift.FEW_VALUES: Jensen–Shannon there too
            return js_many(p, sample)
        return wasserstein_many(counts, sample, reference.integral.get(feature, False), reference.std.get(feature, 0))
    counts = reference.categorical[feature]
    p = np.asarray(counts.counts) / counts.total
    return js_many(p, rng.multinomial(rows, p, size=draws))


# -- CUSUM calibration ---------------------------------------------------------------------------------------


def run_length(increments: np.ndarray, h: float, cells: int = CELLS) -> float:
    """Brook–Evans: the CUSUM's expected run length from 0 for i.i.d. ``increments`` (z − K) and limit ``h``."""
    width = h / cells
    centres = (np.arange(cells) + 0.5) * width
    centres[0] = 0.0  # the chain restarts at exactly 0
    sorted_inc = np.sort(increments)
    n = len(sorted_inc)

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.searchsorted(sorted_inc, x, side="right") / n

    # From state i to j: the next C lands in cell j; to 0: it drops to or below 0.
    upper = cdf(np.add.outer(-centres, (np.arange(cells) + 1) * width))
    lower = cdf(np.add.outer(-centres, np.arange(cells) * width))
    transition = upper - lower
    transition[:, 0] = upper[:, 0]  # cell 0 also takes every landing at or below 0
    try:
        arl = np.linalg.solve(np.eye(cells) - transition, np.ones(cells))
    except np.linalg.LinAlgError:
        return math.inf
    return float(arl[0]) if arl[0] > 0 else math.inf


def limit_for(increments: np.ndarray, target: float) -> float:
    """The smallest ``h`` whose run length reaches ``target`` (bisection; run length grows with h)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):  # bounded: 2^60 is past any budget
        if run_length(increments, hi) >= target:
            break
        lo, hi = hi, hi * 2
    for _ in range(40):
        mid = (lo + hi) / 2
        if run_length(increments, mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class Calibration:
    feature: str
    rows: int  # rows per window it was simulated at
    mean: float  # the score's null mean and std at that many rows
    std: float
    limit: float  # h
    run_length: float  # this detector's target run length, in windows


def calibrate(
    reference: Reference, features: list[str], rows: int, target: float, *, seed: int = 0
) -> dict[str, Calibration]:
    """Each feature's null moments and CUSUM limit at ``rows`` rows per window, for a set run length ``target``
    (in windows) of all of them together."""
    each = sidak(target, len(features))
    draws = int(min(MAX_DRAWS, max(MIN_DRAWS, 2 * each)))
    rng = np.random.default_rng(seed)
    out = {}
    for feature in features:
        scores = null_scores(reference, feature, rows, draws, rng)
        mean, std = float(scores.mean()), float(max(scores.std(), 1e-12))
        limit = limit_for((scores - mean) / std - K, each)
        out[feature] = Calibration(feature, rows, mean, std, limit, each)
    return out


# -- live detectors ------------------------------------------------------------------------------------------


class DetectorState(Enum):
    WATCHING = "watching"
    ALARM = "alarm"


@dataclass
class Detector:
    calibration: Calibration
    cusum: float = 0.0
    state: DetectorState = DetectorState.WATCHING
    last_z: float | None = None

    def update(self, score: float) -> bool:
        """One window's score; True when this window raises the alarm."""
        c = self.calibration
        self.last_z = (score - c.mean) / c.std
        self.cusum = max(0.0, self.cusum + self.last_z - K)
        if self.state is DetectorState.WATCHING and self.cusum > c.limit:
            self.state = DetectorState.ALARM
            return True
        return False

    def windows_to_alarm(self) -> float | None:
        """At the last window's score, how many more windows until the alarm (None: not heading there)."""
        if self.state is DetectorState.ALARM:
            return 0.0
        if self.last_z is None or self.last_z <= K:
            return None
        return math.ceil((self.calibration.limit - self.cusum) / (self.last_z - K))

    def reset(self) -> None:
        self.cusum, self.state = 0.0, DetectorState.WATCHING


@dataclass(frozen=True)
class DetectorView:
    """One detector as the Drift view shows it: immutable, handed from the worker to the UI."""

    feature: str
    state: str  # DetectorState's value: "watching" or "alarm"
    cusum: float
    limit: float
    windows_to_alarm: float | None  # None: not heading to an alarm at the last window's score
    rows: int  # rows per window it is calibrated at


@dataclass(frozen=True)
class AlarmEvent:
    """A feature's detector crossed its limit: an event for recordings and the Drift view."""

    feature: str
    at: float
    cusum: float
    limit: float
    score: float


@dataclass
class DriftAlarms:
    """Per-feature CUSUM detectors under one false-alarm budget; recalibrated when the traffic per window
    moves by more than ``tolerance`` (a score's null spread depends on the rows behind it)."""

    reference: Reference
    budget: FalseAlarmBudget
    window_s: float
    features: list[str]
    tolerance: float = 0.25
    detectors: dict[str, Detector] = field(default_factory=dict)
    events: list[AlarmEvent] = field(default_factory=list)

    def calibrate(self, rows: int) -> None:
        calibrations = calibrate(self.reference, self.features, rows, self.budget.run_length(self.window_s))
        for feature, c in calibrations.items():
            old = self.detectors.get(feature)
            self.detectors[feature] = Detector(
                c, old.cusum if old else 0.0, old.state if old else DetectorState.WATCHING
            )

    def update(self, scores: dict[str, float], rows: int, at: float) -> list[AlarmEvent]:
        """One window: each feature's drift score (``FleetDriftResult.drift.columns``) and the window's rows."""
        some = next(iter(self.detectors.values()), None)
        if some is None or abs(rows - some.calibration.rows) > self.tolerance * some.calibration.rows:
            self.calibrate(rows)
        raised = []
        for feature, detector in self.detectors.items():
            score = scores.get(feature)
            if score is not None and detector.update(score):
                raised.append(AlarmEvent(feature, at, detector.cusum, detector.calibration.limit, score))
        self.events.extend(raised)
        return raised

    def views(self) -> tuple[DetectorView, ...]:
        return tuple(
            DetectorView(f, d.state.value, d.cusum, d.calibration.limit, d.windows_to_alarm(), d.calibration.rows)
            for f, d in self.detectors.items()
        )
