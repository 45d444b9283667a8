"""A lean HTTP/1.1 keep-alive client for one target: asyncio protocols + httptools' parser.

Why not aiohttp: on the 2-core machine the benchmarks run on, aiohttp's request
path cost ~360 µs of client CPU per request against ~105 µs for hey (Go). At
concurrency 16 against the API that CPU is taken from the server, and the
client's slow turnaround makes requests miss the server's next event-loop round,
doubling their latency (p95 1.7× hey's). A load tool sends the same request
shape over and over, so each request is serialised once up front and a
response only needs to be parsed (httptools, the llhttp parser uvicorn uses)
to its status and end: ~55 µs per request, measured in docs/BENCHMARKS.md.

Scope: one scheme/host/port, GET or POST with a fixed set of headers, responses
delimited by Content-Length or chunked encoding (what APIs send); a response
that ends only by closing the connection counts as a reset. TLS through asyncio's
ssl support with the system's default verification.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

from .errors import ConnectError, ResponseError


def request_bytes(url: str, method: str, body: bytes, content_type: str | None) -> bytes:
    """One complete request, head and body, ready to write as it is."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    if body or method == "POST":
        if content_type:
            head.append(f"Content-Type: {content_type}")
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


Callback = Callable[[int | None, BaseException | None], None]


class _Connection(asyncio.Protocol):
    """One socket; at most one request in flight on it, owned by ``pending``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.pending: Pending | None = None
        self.closed = False
        self.reusable = False
        self.reused = False  # the current request went out on a connection that had sat idle
        self.answering = False  # a byte of the current request's answer has arrived
        self._complete = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.answering = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.close()
            self._finish(None, ResponseError(f"malformed response: {exc}"))
            return
        if self._complete:  # finished outside the parser's callback, so the next request starts clean
            self._complete = False
            self._finish(self.parser.get_status_code(), None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending = self.pending
        if pending is not None and self.reused and not self.answering and pending.retry():
            self.pending = None
            return
        self._finish(None, ConnectionResetError("the target closed the connection before the response was complete"))

    # httptools callback
    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        self._complete = True

    def _finish(self, status: int | None, error: BaseException | None) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.finish(status, error)

    def send(self, pending: Pending, data: bytes, reused: bool) -> None:
        self.reusable = False
        self.reused = reused
        self.answering = False
        self.pending = pending
        assert self.transport is not None, "sent only on a connection create_connection has made"
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _BodyConnection(_Connection):
    """A connection that also keeps each answer's body (for the prediction id a label joins on);
    a separate class, so that the plain one pays no httptools body callback."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[bytes] = []

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def _finish(self, status: int | None, error: BaseException | None) -> None:
        if self.pending is not None:
            self.pending.body = b"".join(self.parts)
        self.parts = []
        super()._finish(status, error)


class Pending:
    """One request from submit to its callback: its deadline, and the connection once it has one."""

    __slots__ = ("client", "data", "on_done", "deadline", "conn", "connecting", "done", "retried", "body")

    def __init__(self, client: Client, data: bytes, on_done: Callback):
        self.client = client
        self.data = data
        self.on_done: Callback | None = on_done
        self.deadline = time.perf_counter() + client.timeout  # Client._sweep enforces it
        self.conn: _Connection | None = None
        self.connecting: asyncio.Task | None = None
        self.done = False
        self.retried = False
        self.body = b""  # the answer's body, with Client(keep_body=True)

    def start(self, conn: _Connection, reused: bool) -> None:
        self.conn = conn
        conn.send(self, self.data, reused)

    def retry(self) -> bool:
        """Send once more on a new connection, after a reused one closed before any byte of the answer.

        That is a server closing a connection it had kept idle (its keep-alive timeout: uvicorn's is 5 s)
        just as this request went out on it; the request was never read. Counted as a reset, it would
        report a healthy server as failing. Go's and urllib3's clients retry the same case. Once only:
        a server that closes every connection unanswered is still reported as resetting them.
        """
        if self.retried or self.done:
            return False
        self.retried = True
        if self.conn is not None:
            self.client.open.discard(self.conn)
            self.conn = None
        self.client.retries += 1
        if self.client.on_retry is not None:
            self.client.on_retry()
        self.connecting = self.client.loop.create_task(self.client._connect_and_send(self))
        return True

    def finish(self, status: int | None, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        self.client.unfinished -= 1
        conn, on_done = self.conn, self.on_done
        self.conn = self.on_done = None  # it may wait in the client's deadline queue a while: hold nothing
        if conn is not None:
            if error is None and conn.reusable and not conn.closed:
                self.client.idle.append(conn)  # before the callback, which may reuse it at once
            else:
                self.client.discard(conn)
        assert on_done is not None, "set until the request is done"
        on_done(status, error)

    def time_out(self) -> None:
        if self.connecting is not None:
            self.connecting.cancel()
        if self.conn is not None:
            self.conn.close()  # a late answer must not be read as the next request's
        self.finish(None, TimeoutError(f"no complete answer within {self.client.timeout:g} s"))

    def abort(self) -> None:
        """Give up without calling back (the caller stopped); the socket is closed."""
        if self.done:
            return
        self.done = True
        self.client.unfinished -= 1
        self.on_done = None
        if self.connecting is not None:
            self.connecting.cancel()
        if self.conn is not None:
            self.client.discard(self.conn)
            self.conn = None


class Client:
    """Keep-alive connections to one target, opened as needed and reused when the response allows.

    ``submit`` calls back from the connection's own ``data_received``, so a
    caller can write its next request in the same event-loop step that read
    the answer: a closed-model worker turns around without a task switch.

    Timeouts: every request has the same timeout, so deadlines come in the
    order requests are submitted. One timer, armed for the oldest unfinished
    request's deadline, replaces a timer per request (creating and cancelling
    one cost ~2 % of the client's CPU per request at 2,000 req/s, measured A/B).
    """

    def __init__(
        self,
        url: str,
        timeout: float,
        loop: asyncio.AbstractEventLoop,
        on_retry: Callable[[], None] | None = None,
        keep_body: bool = False,
    ):
        parts = urlsplit(url)
        if not parts.hostname:  # LoadConfig checks this; asyncio would read a missing host as localhost
            raise ValueError(f"no host in {url!r}")
        self.host: str = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.timeout = timeout
        self.loop = loop
        self.idle: deque[_Connection] = deque()
        self.open: set[_Connection] = set()
        self.unfinished = 0  # requests submitted and not yet done
        self.retries = 0  # requests sent again after a reused connection closed unanswered (Pending.retry)
        self.on_retry = on_retry
        self.protocol: type[_Connection] = _BodyConnection if keep_body else _Connection
        self.deadlines: deque[Pending] = deque()  # submit order, which is deadline order
        self._sweeper: asyncio.TimerHandle | None = None

    def submit(self, data: bytes, on_done: Callback) -> Pending:
        """Send one prepared request; ``on_done(status, None)`` or ``on_done(None, error)`` follows, once."""
        return self._dispatch(self._pending(data, on_done))

    def _pending(self, data: bytes, on_done: Callback) -> Pending:
        """The request's own state (a streaming client keeps more per request)."""
        return Pending(self, data, on_done)

    def _dispatch(self, pending: Pending) -> Pending:
        """On an idle keep-alive connection if there is one, else on a new connection."""
        self.unfinished += 1
        self._watch(pending)
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                pending.start(conn, reused=True)
                return pending
            self.discard(conn)
        pending.connecting = self.loop.create_task(self._connect_and_send(pending))
        return pending

    async def _connect_and_send(self, pending: Pending) -> None:
        try:
            _, conn = await self.loop.create_connection(self.protocol, self.host, self.port, ssl=self.ssl)
        except OSError as exc:
            pending.finish(None, ConnectError(exc))
            return
        pending.connecting = None
        self.open.add(conn)
        if pending.done:  # timed out or aborted while connecting
            self.discard(conn)
        else:
            pending.start(conn, reused=False)

    async def request(self, data: bytes) -> int:
        """``submit`` for coroutines: the status code, or the error raised."""
        answer = self.loop.create_future()

        def settle(status: int | None, error: BaseException | None) -> None:
            if not answer.done():
                answer.set_exception(error) if error is not None else answer.set_result(status)

        pending = self.submit(data, settle)
        try:
            return await answer
        except asyncio.CancelledError:
            pending.abort()
            raise

    def _watch(self, pending: Pending) -> None:
        queue = self.deadlines
        queue.append(pending)
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(self.timeout, self._sweep)
        elif len(queue) > 1024 and len(queue) > 4 * self.unfinished:
            # Finished requests leave the queue from its front; one slow request there holds the rest
            # in. Dropping the finished now and then keeps it within a few times the requests in flight.
            self.deadlines = deque(p for p in queue if not p.done)

    def _sweep(self) -> None:
        """Time out what is past its deadline, then sleep until the next deadline."""
        self._sweeper = None
        now = time.perf_counter()
        queue = self.deadlines
        while queue and (queue[0].done or queue[0].deadline <= now):
            pending = queue.popleft()
            if not pending.done:
                pending.time_out()  # its callback may submit again, and arm a new sweep
        if queue and self._sweeper is None:
            # At least a millisecond: uvloop runs shorter delays at once, and its timers tick in ms.
            self._sweeper = self.loop.call_later(max(queue[0].deadline - now, 0.001), self._sweep)

    def discard(self, conn: _Connection) -> None:
        conn.close()
        self.open.discard(conn)

    def close(self) -> None:
        for conn in list(self.open):
            self.discard(conn)
        self.idle.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self.deadlines.clear()
