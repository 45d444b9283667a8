"""Bundled StreamFlow monthly snapshots (installed as ``streamflow_data``).

``month_000`` is the reference month (2024-01-31); each later month carries a
documented drift scenario (see docs/DATA.md). Reading helpers here use only the
standard library so that the API can start without pandas.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from .schema import COLUMNS, FEATURE_KINDS, LABEL

MONTH_AS_OF: dict[str, date] = {
    "month_000": date(2024, 1, 31),
    "month_001": date(2024, 2, 29),
    "month_002": date(2024, 3, 31),
    "month_003": date(2024, 4, 30),
    "month_004": date(2024, 5, 31),
    "month_005": date(2024, 6, 30),
}
MONTHS: tuple[str, ...] = tuple(MONTH_AS_OF)
REFERENCE_MONTH = MONTHS[0]
LATEST_MONTH = MONTHS[-1]

_MONTH_RE = re.compile(r"^month_\d{3}$")


class UnknownMonthError(ValueError):
    """Raised for a month name that is not bundled."""


def data_dir() -> Path:
    return Path(str(resources.files(__name__)))


def month_path(month: str) -> Path:
    if not _MONTH_RE.match(month) or month not in MONTH_AS_OF:
        raise UnknownMonthError(f"unknown month {month!r}; bundled months are {', '.join(MONTHS)}")
    return data_dir() / f"{month}.csv"


def _converter(column: str):
    """How one column's text becomes a value, decided once per column: the API's start-up parses six
    months of rows (42,000) with these. Missing values are None."""
    if column in ("user_id", "as_of") or FEATURE_KINDS.get(column) == "category":
        return str
    if column == LABEL or FEATURE_KINDS[column] in ("int", "flag"):
        return lambda text: int(text) if text else None

    def number(text: str) -> float | None:
        if not text:
            return None
        value = float(text)
        return None if value != value else value  # NaN

    return number


def iter_rows(month: str) -> Iterator[dict[str, Any]]:
    """Yield one typed dict per row; missing values are ``None``."""
    converters = [_converter(c) for c in COLUMNS]
    with month_path(month).open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if tuple(header or ()) != COLUMNS:
            raise ValueError(f"{month}: unexpected columns {header}")
        for raw in reader:
            yield {column: convert(text) for column, convert, text in zip(COLUMNS, converters, raw)}


def load_frame(month: str):
    """The month as a pandas DataFrame (imports pandas lazily)."""
    import pandas as pd

    return pd.read_csv(month_path(month), dtype={"user_id": str, "as_of": str, "net_service": str})


# What each month's scenario does to the default drift tests against month_000
# (docs/DATA.md explains why); tests/test_data.py checks these on the files.
DOCUMENTED_DRIFT: dict[str, tuple[str, ...]] = {
    "month_001": ("watch_hours_30d",),
    "month_002": (),
    "month_003": (
        "monthly_fee",
        "watch_hours_30d",
        "avg_session_mins_7d",
        "skips_7d",
        "rebuffer_events_7d",
        "support_tickets_90d",
        "ticket_avg_resolution_hrs_90d",
        "churn_label",
    ),
    "month_004": ("months_active",),
    "month_005": ("months_active", "monthly_fee", "plan_stream_tv", "plan_stream_movies", "net_service"),
}
