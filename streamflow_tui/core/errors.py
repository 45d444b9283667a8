"""Every error the console's core raises: one place to see what can go wrong, and one base to catch.

Each message names the problem in words a user can act on; the views and ``--once`` show it as it is.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """The base of the core's errors."""


class DriftError(ConsoleError):
    """A drift check that cannot run: the message names the problem."""


class RetrainError(ConsoleError):
    """Retraining could not run or decide: the message names the data, registry or command problem."""


class RecordingError(ConsoleError):
    """A recording that cannot be written or read: the message names the file and the reason."""


class EmbeddedApiError(ConsoleError, RuntimeError):
    """The bundled API the console starts for itself did not come up."""


class ConnectionOptionsError(ConsoleError, ValueError):
    """A connection setting that cannot be used; the message names it."""


class SourceError(ConsoleError):
    """A metric source could not be read: ``kind`` for code, ``message`` for people."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class ScrapeError(SourceError):
    """The API's own /metrics could not be fetched or read."""


class PrometheusError(SourceError):
    """Prometheus (or a compatible server) could not be queried, or refused the query."""


class DecodeError(ConsoleError):
    """A compressed or encoded exposition could not be decoded."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class AlarmError(ConsoleError, ValueError):
    """A false-alarm budget that cannot be read (``--drift-false-alarms``)."""
