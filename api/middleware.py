"""Pure ASGI middleware: request metrics and a request-body cap.

Pure ASGI (not BaseHTTPMiddleware) keeps the per-request cost to a few
microseconds and sees every response, including 404s, 422s and 500s.
"""

from __future__ import annotations

import json
from time import perf_counter

from starlette.routing import Match

from .metrics import UNMATCHED_ENDPOINT, ApiMetrics


def route_template(scope) -> str:
    """The matched route's path template, or one fixed value for unmatched paths."""
    route = scope.get("route")
    if route is None:  # answered before routing, e.g. a 413 from the body cap
        router = getattr(scope.get("app"), "router", None)
        for candidate in getattr(router, "routes", ()):
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None) or UNMATCHED_ENDPOINT


class InstrumentationMiddleware:
    def __init__(self, app, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        code = 500  # an exception before the response starts becomes a 500

        async def send_and_record_status(message):
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            self.metrics.observe_request(route_template(scope), code, perf_counter() - start)


class BodyLimitMiddleware:
    """Answers 413 to bodies over ``max_bytes``, declared or streamed."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        received = 0
        started = rejected = False

        async def counting_receive():
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request" and not started:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now; the app then sees a disconnected client and its reply is dropped.
                    rejected = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if rejected:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _reject(self, send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
