"""Settings of the churn predictor: defaults, then STREAMFLOW_API_* variables, then flags (pydantic-settings).

Worker processes (``--workers N``, ``uvicorn --factory api.app:app_from_env``)
and containers (compose's ``STREAMFLOW_API_MONTH``) configure the API through
the environment; a bad value is a clear validation error naming the variable,
never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamflow_data import LATEST_MONTH, MONTHS, REFERENCE_MONTH
from streamflow_data.policy import API_ENV_PREFIX, DEFAULT_REGISTRY

from .errors import SettingsError
from .prediction_log import MAX_PENDING, redact

ENV_PREFIX = API_ENV_PREFIX


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamflow"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    month: str = LATEST_MONTH  # the month whose rows make the online feature store
    training_month: str = REFERENCE_MONTH
    cache_dir: Path = Field(default_factory=default_cache_dir)
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    instrument: bool = True  # off only to measure the instrumentation's cost
    log_predictions: bool = True  # off only to measure the prediction log's cost (no live drift, no feedback then)
    bench_routes: bool = False  # adds /bench/echo, the baseline route of bench/
    # newest scored rows /monitoring/recent answers with, for live drift
    live_buffer_rows: int = Field(default=10_000, ge=1)
    # Where every scored row is logged: a SQLite file shared by one host's workers (default: a temp file of
    # the run), or a postgresql:// URL shared by a fleet of replicas
    prediction_log: str | None = None
    # the database password, from a file (else libpq's PGPASSWORD / PGPASSFILE / ~/.pgpass, or the URL)
    prediction_log_password_file: Path | None = None
    prediction_log_rows: int = Field(default=1_000_000, ge=1)  # the log keeps this many newest predictions…
    prediction_log_max_age_s: float | None = Field(default=None, gt=0)  # …and none older than this
    # rows waiting for the writer (the database away or slow); past that they are dropped, counted
    prediction_log_queue_rows: int = Field(default=MAX_PENDING, ge=1)
    registry: str = DEFAULT_REGISTRY  # where the served model comes from: local (a directory) or mlflow
    registry_location: str | None = None  # local: directory (default <cache_dir>/registry); mlflow: tracking URI
    # seconds between checks for a new champion (0: only POST /admin/reload)
    registry_poll_s: float = Field(default=5.0, ge=0)
    monitoring_public: bool = False  # serve /monitoring/* and /feedback to non-loopback clients too

    @field_validator("prediction_log")
    @classmethod
    def _log_location(cls, value: str | None) -> str | None:
        if value is not None and "://" in value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("give a SQLite file's path or a postgresql:// URL")
        return value

    @field_validator("registry")
    @classmethod
    def _known_registry(cls, value: str) -> str:
        if value not in ("local", "mlflow"):
            raise ValueError(f"{value!r} is not a registry: local or mlflow")
        return value

    @field_validator("month", "training_month")
    @classmethod
    def _known_month(cls, value: str) -> str:
        if value not in MONTHS:
            raise ValueError(f"{value!r} is not a bundled month ({', '.join(MONTHS)})")
        return value

    @classmethod
    def from_env(cls, **overrides) -> ApiSettings:
        """The environment's settings, with ``overrides`` (flags) on top; raises SettingsError."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None

    def to_env(self) -> dict[str, str]:
        return {
            ENV_PREFIX + name.upper(): str(value)
            for name in type(self).model_fields
            if (value := getattr(self, name)) is not None
        }


def describe(exc: ValidationError) -> str:
    """One line per bad setting, naming the environment variable it can come from."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        given = error.get("input")
        if isinstance(given, str):
            given = redact(given)  # a database URL's password is never echoed
        lines.append(f"{name} ({ENV_PREFIX}{name.upper()}): {error['msg']} (got {given!r})")
    return "; ".join(lines)
