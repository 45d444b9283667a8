"""The embedded online feature store: one served month's rows, by user id."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from streamflow_data import MONTH_AS_OF, iter_rows
from streamflow_data.schema import FEATURES


class FeatureStore:
    def __init__(self, month: str):
        self.month = month
        self.as_of = MONTH_AS_OF[month].isoformat()
        self._rows: dict[str, Mapping[str, Any]] = {
            row["user_id"]: MappingProxyType({f: row[f] for f in FEATURES}) for row in iter_rows(month)
        }

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, user_id: str) -> Mapping[str, Any] | None:
        return self._rows.get(user_id)

    def user_ids(self) -> list[str]:
        return list(self._rows)
