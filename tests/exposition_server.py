"""A real uvicorn server on a free loopback port that serves any exposition a test sets.

``/<name>/metrics`` answers ``server.bodies[name]`` (text or bytes, with its
content type), gzipped when the client asks, as prometheus-client's own
handlers and Go exporters do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from conftest import free_port
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from waiting import wait_until

TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class ExpositionServer:
    url: str = ""
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    encodings: list[str] = field(default_factory=list)  # Content-Encoding of each answer ("identity" when none)

    def set(self, name: str, body: str | bytes, content_type: str = TEXT) -> None:
        self.bodies[name] = (body.encode() if isinstance(body, str) else body, content_type)

    def target(self, name: str) -> str:
        return f"{self.url}/{name}"


class _RecordEncoding:
    """Outermost ASGI layer: notes the Content-Encoding each answer went out with."""

    def __init__(self, app, server: ExpositionServer):
        self.app, self.server = app, server

    async def __call__(self, scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                self.server.encodings.append(headers.get(b"content-encoding", b"identity").decode())
            await send(message)

        await self.app(scope, receive, sending)


@contextmanager
def exposition_server(*, gzip: bool = True) -> Iterator[ExpositionServer]:
    server = ExpositionServer()

    async def metrics(request: Request) -> Response:
        name = request.path_params["name"]
        server.hits[name] = server.hits.get(name, 0) + 1
        if name not in server.bodies:
            return PlainTextResponse(f"no exposition named {name}\n", status_code=404)
        body, content_type = server.bodies[name]
        return Response(body, media_type=content_type)

    middleware = [Middleware(GZipMiddleware, minimum_size=0)] if gzip else []
    app = Starlette(routes=[Route("/{name}/metrics", metrics)], middleware=middleware)
    port = free_port()
    config = uvicorn.Config(
        _RecordEncoding(app, server), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("the exposition server stopped before it started")
        return uv.started

    wait_until(started, 20, "the exposition server started", interval=0.02)
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
