"""Every error the API's code raises (how it refuses an HTTP request is ``refusals``)."""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting (flag or STREAMFLOW_API_* variable) that cannot be used: one line per bad setting."""


class RegistryError(Exception):
    """The registry cannot be read or written: the message says which file or store, and why."""


class RetrainError(Exception):
    """Retraining cannot run: the message names the data or registry problem."""


class PredictionLogError(RuntimeError):
    """The log cannot be read or written now (the API answers 503 where a request needs it)."""


class PredictionLogUnavailable(PredictionLogError):
    """The database cannot be reached: a passing state (rows queued meanwhile are kept, bounded)."""


class PredictionLogConfigError(PredictionLogError):
    """The setting itself is wrong (a bad URL, bad credentials, no such database): nothing to retry."""
