"""``--stream``: what a run of OpenAI-compatible streamed completions (SSE) changes in the load engine.

The open and closed models, the schedule, segments, stopping and draining are the plain engine's
(``engine._Engine``, which holds a ``StreamMode`` when the config has ``stream``); a stream run changes what
is sent (prompts with ``max_tokens``, ``prompts.py``), the client (``sse.StreamClient``: token times read as
the events arrive) and what is recorded per request:

- TTFT: to the read that brought the first token, from the intended send time (corrected) and from the
  actual send (uncorrected); end-to-end latency likewise, to the end of the stream;
- each inter-token gap, recorded as it is read (``StreamStats.record_gaps``), and the tokens per request;
- usage and the server's own timing from the final chunk, when it has them.

A stream is a success only if it ends with ``data: [DONE]``. Otherwise it is an error of its own kind:
``not_sse`` (a 2xx answer that is not ``text/event-stream``), ``stream_error`` (an ``{"error": …}`` event),
``stream_cut`` (the body or the connection ended before ``[DONE]``); HTTP errors count by their status.
"""

from __future__ import annotations

import asyncio
import time

from . import prompts
from .config import LoadConfig
from .sse import StreamClient, StreamError, StreamPending
from .stats import LoadStats
from .transport import Client


class StreamMode:
    def __init__(self, config: LoadConfig, stats: LoadStats, loop: asyncio.AbstractEventLoop):
        assert config.stream is not None and stats.stream is not None, "a --stream run (stats_for gives it StreamStats)"
        self.config, self.options = config, config.stream
        self.stats, self.stream = stats, stats.stream
        self.loop = loop
        self._client: StreamClient | None = None

    def bodies(self) -> list[bytes]:
        return prompts.bodies(self.options, self.config.seed)

    def client(self) -> Client:
        self._client = StreamClient(
            self.config.url, self.config.timeout, self.loop, on_retry=self.stats.on_retry, gaps=self.stream.record_gaps
        )
        return self._client

    def record(
        self, intended: float | None, sent_at: float, status: int | None, exc: BaseException | None, *, defer: bool
    ) -> tuple[int | None, BaseException | None]:
        """Count the stream whose callback runs now (``client.finishing``, set by ``StreamPending.finish`` just
        before it called back); returns the request's status and error as the engine should count them."""
        client = self._client
        p = client.finishing if client is not None else None
        if client is not None:
            client.finishing = None
        if not isinstance(p, StreamPending):
            return status, exc
        if status is None and isinstance(exc, ConnectionError) and p.head_status:
            # The answer had begun (its head, maybe tokens) when the connection closed: a cut stream,
            # answered with that status, not a request that got no answer.
            status = p.head_status
            exc = StreamError("stream_cut", f"the connection closed after {p.tokens} tokens, before data: [DONE]")
        args = (
            intended,
            sent_at,
            time.perf_counter(),
            p.first_at if p.tokens else None,
            p.tokens,
            exc is None and status is not None and status < 300,
            p.final,
        )
        if defer:  # closed model: after the worker's next request is on the wire (see _Engine._record)
            self.loop.call_soon(self.stream.on_stream, *args)
        else:
            self.stream.on_stream(*args)
        return status, exc
