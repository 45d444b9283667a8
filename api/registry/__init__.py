"""Model registries: where the API's champion comes from and where retraining registers challengers.

``local`` (``base.LocalRegistry``: a directory of JSON records, the embedded default) or ``mlflow``
(``mlflow_registry``: MLflow's model registry, an extra), both behind the ``Registry`` protocol.
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    CHALLENGER,
    CHAMPION,
    ChampionChange,
    LocalRegistry,
    ModelRecord,
    Registry,
    RegistryError,
    UnavailableRegistry,
    champion,
    promote,
    rollback,
    rollback_target,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ChampionChange",
    "LocalRegistry",
    "ModelRecord",
    "Registry",
    "RegistryError",
    "UnavailableRegistry",
    "champion",
    "open_registry",
    "promote",
    "rollback",
    "rollback_target",
]


def open_registry(kind: str, location: str | Path | None, cache_dir: Path) -> Registry:
    """The registry a setting names: ``local`` (a directory; default ``<cache>/registry``) or ``mlflow``
    (a tracking URI; default ``$MLFLOW_TRACKING_URI``)."""
    if kind == "local":
        return LocalRegistry(Path(location) if location else cache_dir / "registry")
    if kind == "mlflow":
        from .mlflow_registry import MlflowRegistry

        return MlflowRegistry(str(location) if location else None)
    raise RegistryError(f"unknown registry {kind!r}: local or mlflow")
