"""Every error the load generator raises: what the command line turns into one line and an exit code, and
what a request's outcome is classified by."""

from __future__ import annotations


class LoadConfigError(ValueError):
    """A load that cannot run as described (a usage error: exit 2)."""


class SegmentError(ValueError):
    """A segment (``--segment i/N``, ``--segment-count``) that does not describe a part of a run."""


class PromptError(ValueError):
    """Prompts for ``--stream`` that cannot be read or generated."""


class MergeRefused(Exception):
    """Segment files that cannot be merged into one run; each problem on a line of its own."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class ProcessesError(RuntimeError):
    """A child could not take part (its metrics port was taken, say): the run does not start."""


class ConnectError(OSError):
    """The connection could not be opened (``refused`` when the port answered with a reset)."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.refused = isinstance(cause, ConnectionRefusedError)


class ResponseError(Exception):
    """The target sent something that is not an HTTP/1.x response."""


class StreamError(ResponseError):
    """The answer was not a complete token stream; ``kind`` is the error kind the report counts."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
