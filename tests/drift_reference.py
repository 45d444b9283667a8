"""An independent scipy/numpy computation of Evidently's default drift tests.

Evidently 0.7 picks, for a reference of more than 1,000 rows: the normed
Wasserstein distance (threshold 0.1) for numeric columns with more than 5
distinct values, and the Jensen-Shannon distance (threshold 0.1) for
categorical columns and numeric ones with at most 5 distinct values. Missing
values are dropped first. Tests use this to check the data scenarios and
Evidently's own verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

THRESHOLD = 0.1


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    stattest: str
    score: float
    drifted: bool


def _js_distance(ref: pd.Series, cur: pd.Series, numeric: bool) -> float:
    if numeric and ref.nunique() > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref.to_numpy(), cur.to_numpy()]), bins="sturges")
        p = np.histogram(ref, bins)[0] / len(ref)
        q = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = sorted(set(ref.unique()) | set(cur.unique()), key=str)
        p = np.array([(ref == k).sum() / len(ref) for k in keys])
        q = np.array([(cur == k).sum() / len(cur) for k in keys])
    return float(distance.jensenshannon(p, q))


def column_drift(ref: pd.Series, cur: pd.Series, numeric: bool) -> ColumnDrift:
    ref = ref.replace([np.inf, -np.inf], np.nan).dropna()
    cur = cur.replace([np.inf, -np.inf], np.nan).dropna()
    n_values = pd.concat([ref, cur]).nunique()
    if numeric and n_values > 5:
        norm = max(float(np.std(ref)), 0.001)
        score = float(stats.wasserstein_distance(ref, cur) / norm)
        test = "wasserstein"
    else:
        score = _js_distance(ref, cur, numeric)
        test = "jensenshannon"
    return ColumnDrift(str(ref.name), test, score, score >= THRESHOLD)


def frame_drift(reference: pd.DataFrame, current: pd.DataFrame, numeric: set[str], columns) -> list[ColumnDrift]:
    return [column_drift(reference[c], current[c], c in numeric) for c in columns]
