"""What a load run does, validated before anything starts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import LoadConfigError

if TYPE_CHECKING:
    from .prompts import StreamOptions

PAYLOADS = ("user_id", "features", "none")


@dataclass(frozen=True)
class LoadConfig:
    url: str  # full target URL, e.g. http://127.0.0.1:8000/predict
    rate: float | None = None  # open model: requests/s over all connections
    concurrency: int | None = None  # closed model: workers back to back
    duration: float | None = None  # seconds; with requests, whichever comes first
    requests: int | None = None
    ramp_up: float = 0.0  # open model: seconds to go linearly from 0 to rate
    timeout: float = 10.0
    max_in_flight: int = 256  # open model: cap on outstanding requests
    month: str = "month_005"
    payload: str = "user_id"  # user_id | features | none (GET)
    seed: int = 0
    feedback_delay: float | None = None  # send each answered row's true label this many seconds later
    feedback_fraction: float = 1.0  # …for this share of the answered rows
    # Segments (loadgen/segments.py): this process runs segment ``segment_index`` of ``segment_count`` of
    # the run described by the other fields (rate, concurrency and requests are the whole run's).
    segment_index: int = 0
    segment_count: int = 1
    start_at: float | None = None  # wall-clock (epoch) time the schedule starts; None: now
    # --stream (loadgen/stream.py): POST streamed completions (prompts, max_tokens) instead of the payload.
    stream: StreamOptions | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadConfigError(f"target must be an http(s) URL with a host, got {self.url!r}")
        if (self.rate is None) == (self.concurrency is None):
            raise LoadConfigError("give exactly one of rate (open model) or concurrency (closed model)")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise LoadConfigError(f"rate must be a positive number of requests/s, got {self.rate}")
        if self.concurrency is not None and not (1 <= self.concurrency <= 10_000):
            raise LoadConfigError(f"concurrency must be between 1 and 10000, got {self.concurrency}")
        if self.duration is None and self.requests is None:
            raise LoadConfigError("give a duration or a number of requests: a run must stop by itself")
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise LoadConfigError(f"duration must be positive seconds, got {self.duration}")
        if self.requests is not None and self.requests < 1:
            raise LoadConfigError(f"requests must be at least 1, got {self.requests}")
        if not (math.isfinite(self.ramp_up) and self.ramp_up >= 0):
            raise LoadConfigError("ramp-up must be >= 0 seconds")
        if self.ramp_up and self.rate is None:
            raise LoadConfigError("ramp-up applies to the open model (rate)")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise LoadConfigError("timeout must be positive seconds")
        if self.max_in_flight < 1:
            raise LoadConfigError("max in-flight must be at least 1")
        if self.payload not in PAYLOADS:
            raise LoadConfigError(f"payload must be one of {', '.join(PAYLOADS)}")
        if self.feedback_delay is not None:
            if not (math.isfinite(self.feedback_delay) and self.feedback_delay >= 0):
                raise LoadConfigError("feedback delay must be >= 0 seconds")
            if self.payload == "none":
                raise LoadConfigError("feedback sends the true label of each row sent: it needs a payload of rows")
        if not 0 < self.feedback_fraction <= 1:
            raise LoadConfigError("feedback fraction must be in (0, 1]")
        if not (1 <= self.segment_count <= 10_000 and 0 <= self.segment_index < self.segment_count):
            raise LoadConfigError(
                f"segment must be i/N with 0 <= i < N <= 10000, got {self.segment_index}/{self.segment_count}"
            )
        if self.concurrency is not None and self.concurrency < self.segment_count:
            raise LoadConfigError(
                f"{self.segment_count} segments need at least as many workers, got concurrency {self.concurrency}"
            )
        if self.requests is not None and self.requests < self.segment_count:
            raise LoadConfigError(f"{self.segment_count} segments need at least as many requests, got {self.requests}")
        if self.start_at is not None and not math.isfinite(self.start_at):
            raise LoadConfigError("start time must be a number of seconds since the epoch")

    @property
    def model(self) -> str:
        return "open" if self.rate is not None else "closed"

    def _share(self, total: int) -> int:
        """This segment's part of ``total`` things numbered 0, 1, 2…: those congruent to its index."""
        n, i = self.segment_count, self.segment_index
        return total // n + (1 if i < total % n else 0)

    @property
    def segment_concurrency(self) -> int | None:
        """Closed model: the workers this segment runs."""
        return None if self.concurrency is None else self._share(self.concurrency)

    @property
    def segment_requests(self) -> int | None:
        """The requests this segment sends at most: every N-th of the run's, from its index on."""
        return None if self.requests is None else self._share(self.requests)

    @property
    def segment_rate(self) -> float | None:
        return None if self.rate is None else self.rate / self.segment_count

    @property
    def method(self) -> str:
        return "GET" if self.payload == "none" and self.stream is None else "POST"
