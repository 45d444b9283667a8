"""Server-sent events over the lean client (``transport.py``): token times from an OpenAI-compatible stream.

A streamed completion is one HTTP/1.1 response (``text/event-stream``, chunked) of ``data: {json}``
events, ended by ``data: [DONE]``. The load generator needs, per request, the arrival time of the first
token, the gaps between tokens and their number, plus whatever the final chunk says (usage, the server's
own timing); it never needs the text. So the per-read work is a handful of C-level byte searches over the
complete events of that read: no per-event split, no JSON decode, nothing kept per token. Only the one
event that carries ``usage``/``metrics``/``timings`` (or an error) is kept, and decoded once at the end.

What counts as a token: an event whose ``text`` (completions) or ``content`` / ``reasoning_content``
(chat) is a non-empty string — the role-only first chunk of a chat stream, the finish chunk and the usage
chunk are not tokens. The pattern cannot match inside a token's own text: quotes there are escaped.
Events that arrive in one read share its arrival time: their gaps are recorded as 0, as the client saw
them (a server or proxy that batches tokens shows up as zero gaps and a longer one before them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from .errors import StreamError
from .transport import Client, Pending, _Connection

# A token event: the key, a colon, and a string that is not empty. Keys are preceded by an unescaped quote.
TOKEN = re.compile(rb'"(?:content|text|reasoning_content)"\s*:\s*"(?!")')
DONE = b"[DONE]"
# The final chunk's fields worth one JSON decode at the end; a cheap ``in`` test first, this to confirm.
FINAL = re.compile(rb'"(?:usage|metrics|timings)"\s*:\s*\{')
ERROR = re.compile(rb'"error"\s*:\s*[\{"]')
MAX_PENDING_EVENT = 1 << 20  # an event that has not ended after 1 MiB is not a token stream
KEPT_BODY = 512  # of an answer that is not an event stream: enough for the error message


Gaps = Callable[[float | None, int], None]


def _no_gaps(gap_s: float | None, zeros: int) -> None:
    pass


class StreamPending(Pending):
    """One streamed request: what its events said, kept as numbers (and at most two small byte strings)."""

    __slots__ = (
        "first_at",
        "last_at",
        "tokens",
        "finished",
        "final",
        "error_event",
        "sse",
        "head",
        "head_status",
        "gaps",
    )

    def __init__(self, client: Client, data: bytes, on_done) -> None:
        super().__init__(client, data, on_done)
        self.first_at = 0.0  # perf_counter of the read that brought the first token
        self.last_at = 0.0
        self.tokens = 0
        self.finished = False  # ``data: [DONE]`` seen
        self.final: bytes | None = None  # the last event with usage / metrics / timings
        self.error_event: bytes | None = None  # an ``{"error": …}`` event in the stream
        self.sse = False  # status 2xx and Content-Type text/event-stream
        self.head = b""  # the first bytes of an answer that is not an event stream
        self.head_status = 0  # the answer's status, once its head has come (a cut stream has one)
        self.gaps: Gaps = _no_gaps  # where inter-token gaps go (StreamStats.record_gaps)

    def finish(self, status: int | None, error: BaseException | None) -> None:
        if error is None and status is not None and not self.done:
            error = self._verdict(status)
        self.client.finishing = self  # type: ignore[attr-defined]  # StreamClient: read by the engine's record
        super().finish(status, error)

    def _verdict(self, status: int) -> BaseException | None:
        """A complete HTTP answer that is not a complete token stream is an error of its own kind."""
        if status >= 400:
            return None  # an HTTP error: counted by its status, as for any request
        if not self.sse:
            shown = self.head[:200].decode("utf-8", "replace").strip()
            return StreamError("not_sse", f"status {status} but not an event stream: {shown!r}")
        if self.error_event is not None:
            return StreamError("stream_error", "the stream carried an error event: " + _error_text(self.error_event))
        if not self.finished:
            return StreamError("stream_cut", f"the stream ended after {self.tokens} tokens without data: [DONE]")
        return None


def _error_text(event: bytes) -> str:
    line = _data_line(event, event.find(b'"error"'))
    try:
        err = json.loads(line)["error"]
        return str(err.get("message", err) if isinstance(err, dict) else err)[:200]
    except (ValueError, KeyError, TypeError, AttributeError):
        return line[:200].decode("utf-8", "replace")


def _data_line(region: bytes, at: int) -> bytes:
    """The ``data:`` payload of the event line that contains position ``at``."""
    start = region.rfind(b"data:", 0, at + 1)
    end = region.find(b"\n", at)
    payload = region[start + 5 : end if end >= 0 else len(region)]
    return payload.strip()


class _StreamConnection(_Connection):
    """A connection that reads each answer's events as they come (``on_body``), timed by the read."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.tail = b""  # an event not yet ended by its blank line
        self.header = b""
        self.event_stream = False

    def data_received(self, data: bytes) -> None:
        self.now = time.perf_counter()  # every event in this read arrived now
        super().data_received(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.event_stream = value.lower().startswith(b"text/event-stream")

    def on_headers_complete(self) -> None:
        p = self.pending
        if isinstance(p, StreamPending):
            status = p.head_status = self.parser.get_status_code()
            p.sse = self.event_stream and 200 <= status < 300
        self.event_stream = False
        self.tail = b""

    def on_body(self, body: bytes) -> None:
        p = self.pending
        if not isinstance(p, StreamPending):
            return
        if not p.sse:
            if len(p.head) < KEPT_BODY:
                p.head += body[: KEPT_BODY - len(p.head)]
            return
        if self.tail:
            body = self.tail + body
        # Complete events end with a blank line (\n\n, or \r\n\r\n as sse-starlette writes them).
        end = max(body.rfind(b"\n\n"), body.rfind(b"\n\r\n"))
        if end < 0:
            self.tail = body
            if len(body) > MAX_PENDING_EVENT:
                self.tail = b""
                p.error_event = b'data: {"error": "an event longer than 1 MiB: not a token stream"}'
            return
        self.tail = body[end + 2 :].lstrip(b"\n") if end + 2 < len(body) else b""
        region = body[: end + 1]
        n = len(TOKEN.findall(region))
        if n:
            now = self.now
            if p.tokens:
                p.gaps(now - p.last_at, n - 1)
            else:
                p.first_at = now
                if n > 1:
                    p.gaps(None, n - 1)
            p.last_at = now
            p.tokens += n
        # Rare events, tested for with cheap ``in`` before any regex: the end, the final chunk, an error.
        if DONE in region:
            p.finished = True
        if b'"usage"' in region or b'"metrics"' in region or b'"timings"' in region:
            last = None
            for match in FINAL.finditer(region):  # the last such event: usage comes after the tokens
                last = match
            if last is not None:
                p.final = _data_line(region, last.start())
        if b'"error"' in region:
            m = ERROR.search(region)
            if m is not None and p.error_event is None:
                p.error_event = region[region.rfind(b"data:", 0, m.start() + 1) :]


class StreamClient(Client):
    """``Client`` for streamed answers: each request is a ``StreamPending`` the connection fills in.

    ``finishing``: the request whose callback is running (set just before it): the engine's record reads
    the stream's numbers from it in that same call, so nothing per request is passed around or kept.
    """

    def __init__(self, url: str, timeout: float, loop, on_retry=None, gaps: Gaps = _no_gaps):
        super().__init__(url, timeout, loop, on_retry=on_retry)
        self.protocol = _StreamConnection
        self.gaps = gaps
        self.finishing: StreamPending | None = None

    def _pending(self, data: bytes, on_done) -> Pending:
        pending = StreamPending(self, data, on_done)
        pending.gaps = self.gaps
        return pending
