"""The embedded online feature store: every user's latest row as of the served month, by user id.

As a materialised online store (Feast's ``materialize`` up to a date) holds it:
users of earlier months who do not appear in the served month keep their last
known features, so a replay of an earlier month's ids is scored, not 404.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from streamflow_data import MONTH_AS_OF, MONTHS, iter_rows
from streamflow_data.schema import FEATURES


class FeatureStore:
    def __init__(self, month: str):
        self.month = month
        self.as_of = MONTH_AS_OF[month].isoformat()
        self._rows: dict[str, Mapping[str, Any]] = {}
        self.latest_in_month = 0  # users whose latest row is the served month's own
        for m in MONTHS[: MONTHS.index(month) + 1]:  # oldest first: a later row replaces an earlier one
            rows = {row["user_id"]: MappingProxyType({f: row[f] for f in FEATURES}) for row in iter_rows(m)}
            self._rows.update(rows)
            self.latest_in_month = len(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, user_id: str) -> Mapping[str, Any] | None:
        return self._rows.get(user_id)

    def user_ids(self) -> list[str]:
        return list(self._rows)
