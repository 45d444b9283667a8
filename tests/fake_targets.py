"""Small purpose-built HTTP servers on loopback for bad-input tests: they answer what a test tells them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain; version=0.0.4; charset=utf-8"
    delay: float = 0.0
    declared_length: int | None = None  # a Content-Length that differs from the body: a truncated answer
    stream_bytes: int = 0  # then send this many more bytes of filler, chunk by chunk
    headers: dict[str, str] = field(default_factory=dict)
    drip_s: float = 0.0  # send the body one byte at a time, this many seconds apart
    reset_after: int | None = None  # send this many body bytes, then reset the connection (RST)


class Target:
    """A server whose next answers are set by ``reply`` (a Reply, or a function of the path)."""

    def __init__(self) -> None:
        self.reply: Reply | Callable[[str], Reply] = Reply()
        self.requests: list[str] = []
        self.request_headers: list[dict[str, str]] = []
        self.url = ""


@contextmanager
def fake_target(tls=None) -> Iterator[Target]:
    """``tls``: an ssl.SSLContext to serve https with."""
    target = Target()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a stopped server refuses the next

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.do_GET()

        def do_GET(self) -> None:
            target.requests.append(self.path)
            target.request_headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = target.reply(self.path) if callable(target.reply) else target.reply
            if reply.delay:
                time.sleep(reply.delay)  # a slow server is the behaviour under test, not a wait
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            length = (
                reply.declared_length if reply.declared_length is not None else len(reply.body) + reply.stream_bytes
            )
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                if reply.reset_after is not None:
                    import socket
                    import struct

                    self.wfile.write(reply.body[: reply.reset_after])
                    self.wfile.flush()
                    # SO_LINGER 0: close() sends a RST instead of a FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if reply.drip_s:
                    for i in range(len(reply.body)):
                        self.wfile.write(reply.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip_s)  # the drip is the behaviour under test, not a wait
                    return
                self.wfile.write(reply.body)
                chunk = b"x" * 65536
                sent = 0
                while sent < reply.stream_bytes:
                    self.wfile.write(chunk[: reply.stream_bytes - sent])
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            if reply.declared_length is not None:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    target.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def closing_target() -> Iterator[str]:
    """Accepts connections and closes them without answering."""
    import socket

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()


@contextmanager
def stalling_target(stall_on: int, stall_s: float) -> Iterator[str]:
    """One request at a time; request number ``stall_on`` takes ``stall_s`` seconds, the others ~0."""
    from http.server import HTTPServer

    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            count[0] += 1
            if count[0] == stall_on:
                time.sleep(stall_s)  # the stall is the behaviour under test, not a wait
            # One write: headers and body in separate segments would meet Nagle and delayed ACKs.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")

        do_GET = do_POST

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()
