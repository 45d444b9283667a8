"""``--stream``: the load engine for OpenAI-compatible streamed completions (SSE).

The open and closed models, the schedule, segments, stopping and draining are the plain engine's
(``engine._Engine``); a stream run changes what is sent (prompts with ``max_tokens``, ``prompts.py``), the
client (``sse.StreamClient``: token times read as the events arrive) and what is recorded per request:

- TTFT: to the read that brought the first token, from the intended send time (corrected) and from the
  actual send (uncorrected); end-to-end latency likewise, to the end of the stream;
- each inter-token gap, recorded as it is read (``StreamStats.record_gaps``), and the tokens per request;
- usage and the server's own timing from the final chunk, when it has them.

A stream is a success only if it ends with ``data: [DONE]``. Otherwise it is an error of its own kind:
``not_sse`` (a 2xx answer that is not ``text/event-stream``), ``stream_error`` (an ``{"error": …}`` event),
``stream_cut`` (the body or the connection ended before ``[DONE]``); HTTP errors count by their status.
"""

from __future__ import annotations

import time

from . import prompts
from .engine import _Engine
from .sse import StreamClient, StreamError, StreamPending
from .transport import Client


class StreamEngine(_Engine):
    client: StreamClient

    def _bodies(self) -> list[bytes]:
        assert self.config.stream is not None, "engine_for picks this engine for --stream only"
        return prompts.bodies(self.config.stream, self.config.seed)

    def _client(self) -> Client:
        assert self.stats.stream is not None, "stats_for gives a --stream run its StreamStats"
        self.client = StreamClient(
            self.config.url,
            self.config.timeout,
            self.loop,
            on_retry=self.stats.on_retry,
            gaps=self.stats.stream.record_gaps,
        )
        return self.client

    def _record(
        self,
        intended: float | None,
        sent_at: float,
        status: int | None,
        exc: BaseException | None,
        index: int,
        *,
        defer: bool,
        body: bytes = b"",
    ) -> None:
        """The stream's own numbers, then the request's (``_Engine._record``). The stream whose callback runs
        now is ``client.finishing``: set by ``StreamPending.finish`` just before it called back."""
        p = self.client.finishing
        self.client.finishing = None
        stream = self.stats.stream
        if isinstance(p, StreamPending) and stream is not None:
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
                self.loop.call_soon(stream.on_stream, *args)
            else:
                stream.on_stream(*args)
        super()._record(intended, sent_at, status, exc, index, defer=defer, body=body)
