"""Small purpose-built HTTP servers on loopback for bad-input tests: they answer what a test tells them."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain; version=0.0.4; charset=utf-8"
    delay: float = 0.0
    declared_length: int | None = None  # a Content-Length that differs from the body: a truncated answer
    stream_bytes: int = 0  # then send this many more bytes of filler, chunk by chunk
    headers: dict[str, str] = field(default_factory=dict)


class Target:
    """A server whose next answers are set by ``reply`` (a Reply, or a function of the path)."""

    def __init__(self) -> None:
        self.reply: Reply | Callable[[str], Reply] = Reply()
        self.requests: list[str] = []
        self.url = ""


@contextmanager
def fake_target() -> Iterator[Target]:
    target = Target()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a stopped server refuses the next

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            target.requests.append(self.path)
            reply = target.reply(self.path) if callable(target.reply) else target.reply
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            length = reply.declared_length if reply.declared_length is not None else len(reply.body) + reply.stream_bytes
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
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
    target.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
