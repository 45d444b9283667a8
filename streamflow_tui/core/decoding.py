"""Undo a response's Content-Encoding with a cap on the *decoded* size.

httpx decodes gzip and deflate too, but with no bound on what a chunk expands
to: 64 KiB of a gzip bomb become ~64 MiB before anyone can count. zlib's
``max_length`` stops decompression at the cap, so a bomb costs at most the cap
in memory and the time to produce it. Every failure is a ``DecodeError`` whose
message says what the body claimed to be and what it was.
"""

from __future__ import annotations

import zlib

from .errors import DecodeError

SUPPORTED = ("identity", "gzip", "deflate")
ACCEPT_ENCODING = "gzip, deflate"  # never br/zstd: only what can be decoded here, with a cap


class _Inflater:
    """One gzip or deflate layer, fed chunk by chunk."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        # gzip: header + trailer (wbits 16+); deflate: zlib wrapper, or raw deflate as some servers send it.
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
        self._raw_fallback = encoding == "deflate"
        self._seen = 0

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``, at most ``room`` + 1 of them (so the caller sees the cap crossed)."""
        try:
            out = self._z.decompress(data, room + 1)
        except zlib.error as exc:
            if self._raw_fallback and self._seen == 0:
                self._raw_fallback = False
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(data, room)
            raise DecodeError(
                "encoding", f"body declared Content-Encoding {self.encoding} but is not valid {self.encoding} ({exc})"
            ) from None
        self._seen += len(data)
        return out  # shorter than room + 1 means zlib consumed all of data

    def finish(self) -> None:
        if not self._z.eof:
            raise DecodeError("truncated", f"{self.encoding} body ends before its end marker: the answer was cut short")
        if self._z.unused_data.strip():
            raise DecodeError(
                "encoding", f"{len(self._z.unused_data)} bytes of garbage after the end of the {self.encoding} stream"
            )


class BodyDecoder:
    """Accumulates a body from raw chunks, decoding ``content_encoding`` and capping raw and decoded size."""

    def __init__(self, content_encoding: str | None, max_bytes: int):
        self.max_bytes = max_bytes
        layers = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
        layers = ["gzip" if e == "x-gzip" else e for e in layers if e != "identity"]
        unknown = [e for e in layers if e not in SUPPORTED]
        if unknown:
            raise DecodeError(
                "encoding", f"unsupported Content-Encoding {', '.join(unknown)} (StreamFlow asks for {ACCEPT_ENCODING})"
            )
        # Encodings are listed in the order they were applied: undo them last first.
        self._layers = [_Inflater(e) for e in reversed(layers)]
        self.raw_bytes = 0
        self.size = 0
        self._chunks: list[bytes] = []

    @property
    def encoding(self) -> str:
        return ", ".join(reversed([layer.encoding for layer in self._layers])) or "identity"

    def feed(self, raw: bytes) -> None:
        self.raw_bytes += len(raw)
        if self.raw_bytes > self.max_bytes:
            raise DecodeError("too_large", f"/metrics body exceeds the {self.max_bytes:,}-byte cap")
        data = raw
        for layer in self._layers:
            data = layer.feed(data, self.max_bytes - self.size)
            if self.size + len(data) > self.max_bytes:  # also stops a layer with input left over
                raise DecodeError(
                    "too_large",
                    f"/metrics body decodes to more than the {self.max_bytes:,}-byte cap ({layer.encoding} bomb?)",
                )
        self.size += len(data)
        if data:
            self._chunks.append(data)

    def finish(self) -> bytes:
        for layer in self._layers:
            layer.finish()
        return b"".join(self._chunks)
