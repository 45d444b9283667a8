"""Settings of the churn predictor, from code or from STREAMFLOW_API_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from streamflow_data import LATEST_MONTH, REFERENCE_MONTH

ENV_PREFIX = "STREAMFLOW_API_"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamflow"


@dataclass(frozen=True)
class ApiSettings:
    month: str = LATEST_MONTH  # the month whose rows make the online feature store
    training_month: str = REFERENCE_MONTH
    cache_dir: Path = field(default_factory=default_cache_dir)
    max_body_bytes: int = 1_048_576
    instrument: bool = True  # off only to measure the instrumentation's cost
    bench_routes: bool = False  # adds /bench/echo, the baseline route of bench/
    live_buffer_rows: int = 10_000  # feature rows of recent predictions kept for live drift
    monitoring_public: bool = False  # serve /monitoring/* to non-loopback clients too

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ApiSettings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "Path":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}
