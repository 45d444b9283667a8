"""The model being served, and how a new champion takes over without dropping a request.

A request reads ``Predictor.model`` once and scores with that object to the end,
so a swap (one attribute assignment, under the GIL) never mixes two models in one
answer: requests in flight finish on the model they started with, the next ones
get the new one. ``ModelReloader.check`` runs off the event loop (registry reads
are file or network I/O); the poll and ``POST /admin/reload`` share it.
"""

from __future__ import annotations

import logging
import threading
import time

from .metrics import ApiMetrics
from .registry import CHAMPION, ModelRecord, Registry, RegistryError

log = logging.getLogger("streamflow.api")


class ModelReloader:
    def __init__(self, registry: Registry, predictor, metrics: ApiMetrics, served_month: str, record: ModelRecord):
        self.registry = registry
        self.predictor = predictor
        self.metrics = metrics
        self.served_month = served_month
        self.record = record
        self.error: str | None = None  # the last check's problem; the current model keeps serving
        self.checked_at: float | None = None
        self.changed_at: float | None = None
        self.previous: str | None = None
        self._lock = threading.Lock()

    def serve(self, record: ModelRecord) -> None:
        old = self.record
        self.predictor.model = record.model  # the swap: one reference, read once per request
        self.record = record
        self.metrics.set_model(
            record.version,
            record.model.training_month,
            self.served_month,
            record.reference_counts,
            previous=(old.version, old.model.training_month) if old is not record else None,
        )

    def check(self) -> bool:
        """Serve the registry's champion if it changed; True when it did. Errors keep the current model."""
        with self._lock:
            self.checked_at = time.time()
            try:
                version = self.registry.alias(CHAMPION)
                if version is None or version == self.record.version:
                    self.error = None
                    return False
                record = self.registry.get(version)
            except RegistryError as exc:
                if self.error != str(exc):
                    log.warning("model registry: %s; still serving %s", exc, self.record.version)
                self.error = str(exc)
                return False
            except Exception as exc:  # an MLflow store down: said, and the model keeps serving
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("model registry: %s; still serving %s", self.error, self.record.version)
                return False
            previous = self.record.version
            self.serve(record)
            self.previous, self.changed_at, self.error = previous, time.time(), None
            log.warning("serving model %s (champion; was %s)", record.version, previous)
            return True

    def status(self) -> dict:
        return {
            "kind": self.registry.kind,
            "location": self.registry.location,
            "serving": self.record.version,
            "previous": self.previous,
            "changed_at": self.changed_at,
            "checked_at": self.checked_at,
            "error": self.error,
        }
