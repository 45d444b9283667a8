"""How the API refuses a request: 415 for a body that is not JSON, 422 for one that does not fit the schema.

- A route with a request body takes ``application/json`` (or ``application/*+json``) and nothing else:
  another content type, or none, is a 415 saying what is accepted (FastAPI's own handling would parse a
  body without a content type as JSON, and answer 422 to one sent as text/plain).
- The body is parsed here, once (FastAPI's handler reads the same cached document): JSON nested deeper than
  the parser goes, an integer of more than 4,300 digits or bytes that are not UTF-8 are a 422 like any other
  invalid JSON — FastAPI would answer 400 "There was an error parsing the body" to those.
- A 422 never echoes the request: each error names its field (``loc``) and shows at most an 80-character
  excerpt of the offending value; as many errors are listed as fit in ~3 KiB, with the total count beside
  them. A 1 MiB string or a batch of 10,000 bad items earns a 422 of a few hundred bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .schemas import UNION_TAGS

ACCEPTED_CONTENT_TYPES = ("application/json", "application/*+json")
EXCERPT_CHARS = 80  # longest `input` excerpt (and longest loc element, msg is cut at 200)
MSG_CHARS = 200
ERRORS_BYTES = 3_072  # errors listed in a 422 stop here (the first one is always listed)
ELLIPSIS = "…"


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, with any parameters (``; charset=utf-8``)."""
    if not content_type:
        return False
    maintype, _, subtype = content_type.split(";", 1)[0].strip().lower().partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def unsupported_media_type(content_type: str | None) -> JSONResponse:
    if content_type:
        detail = f"the body must be JSON: Content-Type {cut(content_type, EXCERPT_CHARS)!r} is not accepted"
    else:
        detail = "the body must be JSON, sent with Content-Type: application/json (none was given)"
    return JSONResponse({"detail": detail, "accepted": list(ACCEPTED_CONTENT_TYPES)}, status_code=415)


class JsonBodyRoute(APIRoute):
    """A route whose request body, if it has one, must be sent and parse as JSON (see the module's doc)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_body_handler(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if not is_json(content_type):
                return unsupported_media_type(content_type)
            try:
                body = await request.body()
            except ClientDisconnect:
                # Gone before the body was read (or cut off by the body cap, which has answered 413): nobody
                # reads this answer; FastAPI's own handler would give the same 400.
                return JSONResponse({"detail": "the client disconnected before the body was read"}, status_code=400)
            if body:
                await _parse_json(request)
            return await handler(request)

        return json_body_handler


async def _parse_json(request: Request) -> None:
    """Parse the body into the request's cache, or raise the 422 that says why it is not JSON."""
    try:
        await request.json()
    except RecursionError:
        raise RequestValidationError(
            [{"type": "json_too_deep", "loc": ("body",), "msg": "JSON nested too deeply to parse"}]
        ) from None
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": f"JSON decode error: {exc.msg}"}]
        ) from None
    except ValueError as exc:  # not UTF-8, or an integer longer than Python converts
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {exc}"}]
        ) from None


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """The 422 body: ``{"detail": [{"type", "loc", "msg", "input"}, ...], "error_count": N}``, bounded."""
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[Any] = exc.errors()
    shown: list[dict[str, Any]] = []
    size = 0
    for error in errors:
        item = short_error(error)
        item_size = len(json.dumps(item, ensure_ascii=False).encode())
        if shown and size + item_size > ERRORS_BYTES:
            break
        shown.append(item)
        size += item_size
    return JSONResponse({"detail": shown, "error_count": len(errors)}, status_code=422)


def short_error(error: Any) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    return {
        "type": cut(str(error.get("type", "invalid")), 64),
        "loc": [
            item if isinstance(item, int) else cut(str(item), EXCERPT_CHARS)
            for i, item in enumerate(loc)
            # A tagged union puts its tag in the loc (body.PredictByFeatures.features.…): not a field of the
            # request, so left out. The last element stays whatever it is (it may be a key the client sent).
            if not (isinstance(item, str) and item in UNION_TAGS and i < len(loc) - 1)
        ],
        "msg": cut(str(error.get("msg", "")), MSG_CHARS),
        "input": excerpt(error["input"]) if "input" in error else None,
    }


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """The JSON text of ``value``, cut to ``limit`` characters (ending in ``…`` when cut), built only as far as
    it is shown: a 1 MiB string or a list of 10,000 items costs a few pieces, a 10,000-deep list ~80 levels."""
    text = ""
    for piece in _pieces(value, limit):
        text += piece
        if len(text) > limit:
            return text[: limit - 1] + ELLIPSIS
    return text


def _pieces(value: Any, limit: int) -> Iterator[str]:
    if isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield (", " if i else "") + _scalar(str(key), limit) + ": "
            yield from _pieces(item, limit)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ", "
            yield from _pieces(item, limit)
        yield "]"
    else:
        yield _scalar(value, limit)


def _scalar(value: Any, limit: int) -> str:
    if isinstance(value, str):
        return json.dumps(value[: limit + 1], ensure_ascii=False)  # never the whole of a long string
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return (
            str(value) if value.bit_length() < 256 else f"<integer of ~{int(value.bit_length() * 0.30103) + 1} digits>"
        )
    if isinstance(value, float):
        return (
            repr(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else ("-" * (value < 0)) + "Infinity")
        )
    if isinstance(value, bytes):
        return json.dumps(value[: limit + 1].decode("utf-8", "replace"), ensure_ascii=False)
    return cut(repr(value), limit + 1)
