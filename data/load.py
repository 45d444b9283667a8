"""What a load run looks like from outside, live or final: the load generator produces it, the console
shows and records it (a type both share, so that neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamSnapshot:
    """A streamed-completions run's token figures (``streamflow-load --stream``), live or final. Seconds; None
    where nothing was measured. Percentile keys as ``LoadSnapshot.corrected``'s."""

    streams: int  # streams that ended with data: [DONE]
    tokens: int  # token events read, in every stream
    tokens_per_s: float | None  # tokens over the run's elapsed time (the report's tokens_per_s)
    ttft_corrected: dict[str, float | None]  # time to first token from the intended send time
    ttft_uncorrected: dict[str, float | None]  # … from the actual send
    itl: dict[str, float | None]  # every inter-token gap (one histogram: a gap does not depend on the schedule)


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
    stream: StreamSnapshot | None = None  # a --stream run's TTFT, ITL and tokens

    @property
    def fell_behind(self) -> bool:
        return self.not_sent > 0 or self.late > max(10, 0.01 * self.sent)
