"""The StreamFlow snapshot schema: one row per user per monthly snapshot.

This module is the single description of the columns that the generator
writes, the API validates and the drift engine compares.
"""

from __future__ import annotations

from typing import Final

ID_COLUMNS: Final = ("user_id", "as_of")
LABEL: Final = "churn_label"

NET_SERVICES: Final = ("DSL", "Fiber optic", "No")

# Feature name -> kind. "int" and "float" are numeric; "flag" is a 0/1
# indicator and "category" a string; both are categorical for drift.
FEATURE_KINDS: Final[dict[str, str]] = {
    "months_active": "int",
    "monthly_fee": "float",
    "paperless_billing": "flag",
    "plan_stream_tv": "flag",
    "plan_stream_movies": "flag",
    "net_service": "category",
    "watch_hours_30d": "float",
    "avg_session_mins_7d": "float",
    "unique_devices_30d": "int",
    "skips_7d": "int",
    "rebuffer_events_7d": "int",
    "failed_payments_90d": "int",
    "support_tickets_90d": "int",
    "ticket_avg_resolution_hrs_90d": "float",
}
FEATURES: Final = tuple(FEATURE_KINDS)
NUMERIC_FEATURES: Final = tuple(c for c, k in FEATURE_KINDS.items() if k in ("int", "float"))
CATEGORICAL_FEATURES: Final = tuple(c for c, k in FEATURE_KINDS.items() if k in ("flag", "category"))
# Missing by design: users without support tickets have no resolution time.
NULLABLE_FEATURES: Final = frozenset({"ticket_avg_resolution_hrs_90d"})

COLUMNS: Final = (*ID_COLUMNS, *FEATURES, LABEL)
