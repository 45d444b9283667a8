"""The bundled model's score distribution on its training month, computed here from the rows themselves:
what the API's api_reference_probability histogram must show."""

from __future__ import annotations

import tempfile
from pathlib import Path

from api.model import load_or_train
from streamflow_data import iter_rows


def reference_shares(month: str = "month_000", width: float = 0.05) -> dict[float, float]:
    """{upper edge of each 0.05-wide band: share of the month's rows scored in it}."""
    with tempfile.TemporaryDirectory() as cache:
        model = load_or_train(month, Path(cache))
    scores = [model.probability(row) for row in iter_rows(month)]
    bands = round(1 / width)
    counts = [0] * bands
    for p in scores:
        # Prometheus buckets are upper-inclusive (le): a score on an edge belongs to the band below it.
        index = max(0, min(bands - 1, -int(-round(p / width, 9) // 1) - 1))
        counts[index] += 1
    return {round((i + 1) * width, 2): c / len(scores) for i, c in enumerate(counts)}


def shares_of(buckets) -> dict[float, float]:
    total = sum(b.count or 0.0 for b in buckets)
    return {round(b.le, 2): (b.count or 0.0) / total for b in buckets if b.le <= 1}
