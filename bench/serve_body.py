"""Serve one file as /metrics from uvicorn, gzipped when asked (``--gzip``) or never: a scrape target for benchmarks.

python bench/serve_body.py FILE PORT [--gzip]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.routing import Route


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("port", type=int)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    body = Path(args.file).read_bytes()

    async def metrics(request):
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    middleware = [Middleware(GZipMiddleware, minimum_size=0)] if args.gzip else []
    app = Starlette(routes=[Route("/metrics", metrics)], middleware=middleware)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
