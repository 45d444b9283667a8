"""Is the model still good? Realised performance from labelled predictions, and an estimate before labels.

Everything is computed from bucket counts, which survive aggregation across
replicas (Prometheus sums them), never from individual rows:

- realised: the confusion counts at the decision threshold, and ROC AUC by the
  binned Mann–Whitney statistic over the probability histograms of labelled
  predictions split by their true class (a positive and a negative in the same
  0.01-wide bucket count as a tie, ½);
- estimated: confidence-based performance estimation (CBPE, as NannyML defines
  it) from the histogram of all predicted probabilities: a prediction of
  probability p is a positive with probability p, so the expected confusion
  matrix and the expected ROC curve follow. The assumption is calibration: it
  holds while p(churn | score) stays what it was when the model was trained,
  and breaks under concept shift (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CALIBRATION_ASSUMPTION = "estimate assumes calibrated scores (no concept shift)"
DECISION_THRESHOLD = 0.5  # the bundled API's (GET /model says it)
# Below this many scored predictions (for the estimate) or labels (for realised quality) the figures are
# withheld (None, with the reason): one prediction at p=0.005 "estimates" accuracy 99.5 % and AUC 0.5. 30 is
# where an accuracy's standard error falls under 10 points (sqrt(.25/30) = 9 %) and a share's normal
# approximation starts to hold; the console and --once say "–" below it, and why.
MIN_SAMPLE = 30


def too_few(n: float | None, what: str) -> str | None:
    """The reason quality from ``n`` ``what`` is withheld, or None when there are enough."""
    n = n or 0.0
    return None if n >= MIN_SAMPLE else f"only {n:,.0f} of the {MIN_SAMPLE} {what} needed"


@dataclass(frozen=True)
class Scores:
    roc_auc: float | None
    precision: float | None
    recall: float | None
    accuracy: float | None

    def to_json(self) -> dict:
        return {"roc_auc": self.roc_auc, "precision": self.precision, "recall": self.recall, "accuracy": self.accuracy}


@dataclass(frozen=True)
class Reliability:
    """One row of the reliability (calibration) table: scores in (low, high]."""

    low: float
    high: float
    labelled: int
    observed_rate: float | None  # share of those labelled predictions that churned


@dataclass(frozen=True)
class Performance:
    threshold: float
    predictions: float | None  # scored rows counted (since the API started)
    labels: float | None  # of which labelled
    realized: Scores | None  # None without labels
    estimated: Scores | None  # None without scored rows
    reliability: tuple[Reliability, ...] = ()
    assumption: str = CALIBRATION_ASSUMPTION
    # None: counts since the API started; else labels and predictions of the last N s
    window_seconds: float | None = None
    # Why realised / estimated scores are None ("no labels yet", "only 12 of the 30 labels needed"); None when shown
    realized_reason: str | None = None
    estimated_reason: str | None = None

    @property
    def window(self) -> str:
        return "since the API started" if self.window_seconds is None else f"last {self.window_seconds:g} s"

    @property
    def coverage(self) -> float | None:
        return self.labels / self.predictions if self.predictions and self.labels is not None else None

    def to_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "labels": self.labels,
            "coverage": self.coverage,
            "realized": self.realized.to_json() if self.realized else None,
            "estimated": self.estimated.to_json() if self.estimated else None,
            "window": self.window,
            "window_seconds": self.window_seconds,
            "assumption": self.assumption,
            "min_sample": MIN_SAMPLE,
            "realized_reason": self.realized_reason,
            "estimated_reason": self.estimated_reason,
        }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def confusion_scores(tp: float, fp: float, fn: float, tn: float, auc: float | None) -> Scores:
    total = tp + fp + fn + tn
    return Scores(
        roc_auc=auc, precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn), accuracy=_ratio(tp + tn, total)
    )


def per_bucket(cumulative: list[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """(low, high, count) per finite bucket from cumulative (le, count) pairs; +Inf folded into the last."""
    out: list[tuple[float, float, float]] = []
    previous_le, previous = 0.0, 0.0
    for le, count in sorted(cumulative):
        n = max(0.0, count - previous)
        if math.isinf(le):
            if out and n:
                low, high, c = out[-1]
                out[-1] = (low, high, c + n)
            break
        out.append((previous_le, le, n))
        previous_le, previous = le, count
    return out


def binned_auc(positives: list[float], negatives: list[float]) -> float | None:
    """ROC AUC from per-bucket counts (same buckets, ascending): P(score+ > score-), ties ½."""
    p, n = sum(positives), sum(negatives)
    if not p or not n:
        return None
    below = 0.0
    wins = 0.0
    for pos, neg in zip(positives, negatives):
        wins += pos * (below + 0.5 * neg)
        below += neg
    return wins / (p * n)


def realised(
    confusion: dict[tuple[str, str], float],
    positives: list[tuple[float, float]],
    negatives: list[tuple[float, float]],
    threshold: float,
) -> Scores:
    """Scores of labelled predictions: confusion counts by (predicted, actual), histograms by actual class."""
    tp, fp = confusion.get(("1", "1"), 0.0), confusion.get(("1", "0"), 0.0)
    fn, tn = confusion.get(("0", "1"), 0.0), confusion.get(("0", "0"), 0.0)
    pos, neg = per_bucket(positives), per_bucket(negatives)
    auc = binned_auc([c for _, _, c in pos], [c for _, _, c in neg]) if len(pos) == len(neg) else None
    return confusion_scores(tp, fp, fn, tn, auc)


def cbpe(scores: list[tuple[float, float]], threshold: float) -> Scores | None:
    """Expected scores of all predictions from their probability histogram (cumulative (le, count) pairs)."""
    buckets = [(low, high, c) for low, high, c in per_bucket(scores) if c]
    if not buckets:
        return None
    tp = fp = fn = tn = 0.0
    for low, high, c in buckets:
        p = (low + high) / 2  # the bucket's scores, as its middle
        if low >= threshold:
            tp, fp = tp + c * p, fp + c * (1 - p)
        else:
            fn, tn = fn + c * p, tn + c * (1 - p)
    # Expected ROC curve: walk the buckets from the highest score down; each adds its expected
    # positives to TP and negatives to FP; the area under the (FPR, TPR) polyline is the AUC.
    positives = sum(c * (lo + hi) / 2 for lo, hi, c in buckets)
    negatives = sum(c for _, _, c in buckets) - positives
    auc = None
    if positives > 0 and negatives > 0:
        area, tpr, fpr = 0.0, 0.0, 0.0
        for low, high, c in sorted(buckets, reverse=True):
            p = (low + high) / 2
            next_tpr, next_fpr = tpr + c * p / positives, fpr + c * (1 - p) / negatives
            area += (next_fpr - fpr) * (tpr + next_tpr) / 2
            tpr, fpr = next_tpr, next_fpr
        auc = area
    return confusion_scores(tp, fp, fn, tn, auc)


def reliability(
    positives: list[tuple[float, float]], negatives: list[tuple[float, float]], width: float = 0.1
) -> tuple[Reliability, ...]:
    """Observed churn rate of labelled predictions per score band (0.1 wide): a calibrated model's rate
    sits inside its band."""
    bands: dict[int, list[float]] = {}
    for i, rows in ((1, per_bucket(positives)), (0, per_bucket(negatives))):
        for _low, high, c in rows:
            band = min(int(round(high / width, 6) - 1e-9), round(1 / width) - 1)
            bands.setdefault(band, [0.0, 0.0])[i] += c
    out = []
    for band in sorted(bands):
        neg, pos = bands[band]
        if pos + neg:
            out.append(
                Reliability(round(band * width, 6), round((band + 1) * width, 6), int(pos + neg), pos / (pos + neg))
            )
    return tuple(out)


def performance_of(
    confusion: dict[tuple[str, str], float],
    positives: list[tuple[float, float]],
    negatives: list[tuple[float, float]],
    scores: list[tuple[float, float]],
    predictions: float | None,
    threshold: float = DECISION_THRESHOLD,
    window_seconds: float | None = None,
) -> Performance | None:
    """Realised scores when labels exist, the CBPE estimate when scores exist; None when the target has neither."""
    if not scores and not confusion:
        return None
    labels = sum(confusion.values()) if confusion else None
    realized_reason = "no labels yet" if not labels else too_few(labels, "labels")
    realized = realised(confusion, positives, negatives, threshold) if not realized_reason else None
    scored = sum(c for _, _, c in per_bucket(scores))
    estimated_reason = "no scored predictions" if not scored else too_few(scored, "scored predictions")
    return Performance(
        threshold=threshold,
        predictions=predictions,
        labels=labels,
        realized=realized,
        estimated=cbpe(scores, threshold) if not estimated_reason else None,
        reliability=reliability(positives, negatives) if not realized_reason else (),
        window_seconds=window_seconds,
        realized_reason=realized_reason,
        estimated_reason=estimated_reason,
    )
