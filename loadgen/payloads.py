"""Request bodies sampled from a bundled month, serialised once up front."""

from __future__ import annotations

import json
import random

from streamflow_data import iter_rows
from streamflow_data.schema import FEATURES


def sample_rows(month: str, *, seed: int = 0, limit: int = 10_000) -> list[dict]:
    rows = list(iter_rows(month))
    random.Random(seed).shuffle(rows)
    return rows[:limit]


def labels(month: str, *, seed: int = 0, limit: int = 10_000) -> list[tuple[str, int]]:
    """(user_id, churn_label) of the rows ``bodies`` sends, in the same order."""
    return [(row["user_id"], int(row["churn_label"])) for row in sample_rows(month, seed=seed, limit=limit)]


def bodies(month: str, payload: str, *, seed: int = 0, limit: int = 10_000) -> list[bytes]:
    """JSON bodies for /predict: ``{"user_id": ...}`` or ``{"features": {...}}``, shuffled with ``seed``.

    Replaying a month's ``features`` makes the API score that month's rows
    (month_003 carries drift), whichever month the API serves.
    """
    if payload == "none":
        return [b""]
    out = []
    for row in sample_rows(month, seed=seed, limit=limit):
        if payload == "user_id":
            out.append(json.dumps({"user_id": row["user_id"]}).encode())
        else:
            out.append(json.dumps({"features": {f: row[f] for f in FEATURES}}).encode())
    return out
