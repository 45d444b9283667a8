"""What a load run looks like from outside, live or final: the load generator produces it, the console
shows and records it (a type both share, so that neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadSnapshot:
    """A live or final view of a run. Latencies in seconds; None where nothing was measured."""

    model: str
    running: bool
    elapsed_s: float
    target_rate: float | None
    concurrency: int | None
    sent: int
    ok: int
    errors: int
    cancelled: int
    no_answer: int  # errors without an HTTP answer (refused, reset, timeout…): not in achieved nor the latencies
    in_flight: int
    not_sent: int  # open model: scheduled but never sent before the run ended
    late: int  # open model: sent more than 10 ms after their intended time
    max_send_lag_s: float
    achieved_rps: float | None  # answered requests per second over the last two full seconds (live) / the run (final)
    send_rate: float | None  # requests started per second, first to last send
    corrected: dict[str, float | None]  # p50, p90, p95, p99, p99_9 from the intended send time
    uncorrected: dict[str, float | None]  # the same from the actual send time
    status_codes: dict[str, int]
    error_kinds: dict[str, int]
    # Sent a second time, on a new connection: the target had closed the idle keep-alive connection the
    # first try went out on (transport.Pending.retry). Counted once in ``sent``; latency includes both tries.
    retried: int = 0

    @property
    def fell_behind(self) -> bool:
        return self.not_sent > 0 or self.late > max(10, 0.01 * self.sent)
