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
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools


class ConnectError(OSError):
    """The connection could not be opened (``refused`` when the port answered with a reset)."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.refused = isinstance(cause, ConnectionRefusedError)


class ResponseError(Exception):
    """The target sent something that is not an HTTP/1.x response."""


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
        self._complete = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
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
        self._finish(None, ConnectionResetError("the target closed the connection before the response was complete"))

    # httptools callback
    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        self._complete = True

    def _finish(self, status: int | None, error: BaseException | None) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.finish(status, error)

    def send(self, pending: Pending, data: bytes) -> None:
        self.reusable = False
        self.pending = pending
        assert self.transport is not None, "sent only on a connection create_connection has made"
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pending:
    """One request from submit to its callback: a timer, and the connection once it has one."""

    __slots__ = ("client", "on_done", "timer", "conn", "connecting", "done")

    def __init__(self, client: Client, on_done: Callback):
        self.client = client
        self.on_done = on_done
        self.timer = client.loop.call_later(client.timeout, self._time_out)
        self.conn: _Connection | None = None
        self.connecting: asyncio.Task | None = None
        self.done = False

    def start(self, conn: _Connection, data: bytes) -> None:
        self.conn = conn
        conn.send(self, data)

    def finish(self, status: int | None, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        self.timer.cancel()
        conn = self.conn
        if conn is not None:
            if error is None and conn.reusable and not conn.closed:
                self.client.idle.append(conn)  # before the callback, which may reuse it at once
            else:
                self.client.discard(conn)
        self.on_done(status, error)

    def _time_out(self) -> None:
        if self.connecting is not None:
            self.connecting.cancel()
        if self.conn is not None:
            self.conn.close()  # a late answer must not be read as the next request's
        self.finish(None, TimeoutError(f"no complete answer within {self.client.timeout:g} s"))

    def abort(self) -> None:
        """Give up without calling back (the caller stopped); the socket is closed."""
        self.done = True
        self.timer.cancel()
        if self.connecting is not None:
            self.connecting.cancel()
        if self.conn is not None:
            self.client.discard(self.conn)


class Client:
    """Keep-alive connections to one target, opened as needed and reused when the response allows.

    ``submit`` calls back from the connection's own ``data_received``, so a
    caller can write its next request in the same event-loop step that read
    the answer: a closed-model worker turns around without a task switch.
    """

    def __init__(self, url: str, timeout: float, loop: asyncio.AbstractEventLoop):
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

    def submit(self, data: bytes, on_done: Callback) -> Pending:
        """Send one prepared request; ``on_done(status, None)`` or ``on_done(None, error)`` follows, once."""
        pending = Pending(self, on_done)
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                pending.start(conn, data)
                return pending
            self.discard(conn)
        pending.connecting = self.loop.create_task(self._connect_and_send(pending, data))
        return pending

    async def _connect_and_send(self, pending: Pending, data: bytes) -> None:
        try:
            _, conn = await self.loop.create_connection(_Connection, self.host, self.port, ssl=self.ssl)
        except OSError as exc:
            pending.finish(None, ConnectError(exc))
            return
        pending.connecting = None
        self.open.add(conn)
        if pending.done:  # timed out or aborted while connecting
            self.discard(conn)
        else:
            pending.start(conn, data)

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

    def discard(self, conn: _Connection) -> None:
        conn.close()
        self.open.discard(conn)

    def close(self) -> None:
        for conn in list(self.open):
            self.discard(conn)
        self.idle.clear()
