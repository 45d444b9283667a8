"""Fetch a /metrics endpoint and read the families the console needs from it.

Fetching: one deadline bounds the whole scrape (connect, headers and body), so a
target that drips its answer byte by byte fails within the timeout; the body's
Content-Encoding is undone with a cap on the decoded size (``decoding``).

Parsing: a large target (node_exporter, kube-state-metrics) serves thousands of
series the console never reads. ``Exposition`` indexes the body by its HELP and
TYPE lines — a family's samples follow its metadata as one group in both text
formats — and hands only the wanted families' text to prometheus-client's own
parser, which stays the judge of the syntax. A body without metadata is parsed
whole. The text-format parser silently mis-reads OpenMetrics, so the parser is
picked by the response's content type. Everything that can go wrong is a
``ScrapeError`` with a kind and a message a person can act on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from .connection import ConnectionOptions, ConnectionOptionsError, connection_reason
from .decoding import ACCEPT_ENCODING, BodyDecoder, DecodeError
from .errors import ScrapeError

# Ask for the classic text format only: prometheus-client answers OpenMetrics whenever the
# Accept header lists it at all, whatever its q, and its OpenMetrics parser is ~30 % slower.
# A target that speaks only OpenMetrics still answers (*/*), and is parsed by its content type.
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
OPENMETRICS = "application/openmetrics-text"

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]  # (sample name, sorted label pairs)

_EOF = re.compile(r"^# EOF[ \t]*(?:\n|$)", re.M)
_METADATA = re.compile(r"^# (HELP|TYPE) (\S+)(?:[ \t]+(.*))?$", re.M)
# Sample names a family of each type serves, from its TYPE name (text format / OpenMetrics).
_SUFFIXES = {
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
}


@dataclass(frozen=True)
class FamilyInfo:
    """What a family's metadata says, and where its text is."""

    name: str
    type: str
    help: str
    start: int
    end: int

    def sample_names(self, openmetrics: bool) -> tuple[str, ...]:
        # The text format serves _created as gauge families of their own; OpenMetrics inside the family.
        created = ("_created",) if openmetrics else ()
        if self.type in _SUFFIXES:
            return tuple(self.name + s for s in _SUFFIXES[self.type] if s != "_created" or openmetrics)
        if self.type == "counter":
            stem = self.name[: -len("_total")] if self.name.endswith("_total") else self.name
            if self.name.endswith("_total") or openmetrics:
                return (stem + "_total",) + tuple(stem + c for c in created)
            return (self.name,)
        return (self.name,)


class Exposition:
    """An indexed /metrics body: which families it has, each parsed only when asked for."""

    def __init__(self, text: str, media: str):
        self.text = text
        self.openmetrics = media == OPENMETRICS
        self.families: dict[str, FamilyInfo] = {}
        self.loose: list[tuple[int, int]] = []  # text outside any family's block (no metadata)
        self._by_sample: dict[str, str] = {}
        self._index()

    @classmethod
    def parse(cls, body: bytes, content_type: str | None) -> Exposition:
        media = (content_type or "text/plain").split(";")[0].strip().lower()
        if media not in (OPENMETRICS, "text/plain", ""):
            raise ScrapeError("content_type", f"expected Prometheus metrics, got {media} (is this a /metrics URL?)")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScrapeError("parse", f"body is not UTF-8 text (byte {exc.start})") from None
        if "\x00" in text:
            raise ScrapeError("parse", "body contains NUL bytes: not Prometheus text")
        return cls(text, media or "text/plain")

    def _index(self) -> None:
        starts: list[tuple[int, str, str, str]] = []  # (offset, family, kind, rest)
        for m in _METADATA.finditer(self.text):
            starts.append((m.start(), m.group(2), m.group(1), m.group(3) or ""))
        if not starts:
            self.loose.append((0, len(self.text)))
            return
        if self.text[: starts[0][0]].strip():
            self.loose.append((0, starts[0][0]))
        meta: dict[str, dict[str, str]] = {}
        spans: dict[str, list[int]] = {}
        current = None
        for offset, name, kind, rest in starts:
            if name != current:
                if current is not None:
                    spans[current][1] = offset
                if name in spans:
                    # Metadata of a family seen before: its samples are not one group. Prometheus
                    # rejects such a body too; the full parser gives the precise error.
                    self.families.clear()
                    self.loose = [(0, len(self.text))]
                    return
                spans[name] = [offset, len(self.text)]
                current = name
            meta.setdefault(name, {})[kind] = rest
        for name, (start, end) in spans.items():
            info = FamilyInfo(
                name, meta[name].get("TYPE", "untyped").strip() or "untyped", meta[name].get("HELP", ""), start, end
            )
            self.families[name] = info
            for sample in info.sample_names(self.openmetrics):
                self._by_sample.setdefault(sample, name)
        for name, info in self.families.items():
            if info.type not in _SUFFIXES and info.type != "counter":
                self._by_sample[name] = name  # a family named exactly so wins over a derived name

    def sample_names(self) -> dict[str, FamilyInfo]:
        """Every sample name the metadata announces, with its family."""
        return {s: self.families[f] for s, f in self._by_sample.items()}

    def family_of(self, sample_name: str) -> FamilyInfo | None:
        name = self._by_sample.get(sample_name)
        return self.families.get(name) if name else None

    def samples(self, sample_names: Iterable[str] | None = None) -> dict[SeriesKey, float]:
        """Samples of the families serving ``sample_names`` (all of them when None), plus loose text."""
        if sample_names is None:
            families = list(self.families.values())
        else:
            wanted = {self._by_sample[s] for s in sample_names if s in self._by_sample}
            families = sorted((self.families[n] for n in wanted), key=lambda f: f.start)
        out: dict[SeriesKey, float] = {}
        for a, b in self.loose:
            _merge(out, _parse(self.text[a:b], self.openmetrics))
        for family in families:
            block = self.text[family.start : family.end]
            parsed = _parse(block, self.openmetrics)
            if (
                not self.openmetrics
                and family.type == "counter"
                and not family.name.endswith("_total")
                and family.name + "_total" not in block
            ):
                # prometheus-client's text parser names the samples of a counter served as ``x`` (TorchServe's
                # Requests2XX, TGI's tgi_request_count) ``x_total``; Prometheus stores them as served, so do we.
                parsed = {
                    ((family.name if n == family.name + "_total" else n), labels): v
                    for (n, labels), v in parsed.items()
                }
            _merge(out, parsed)
        return out


def _merge(into: dict[SeriesKey, float], parsed: dict[SeriesKey, float]) -> None:
    for key, value in parsed.items():
        if key in into:
            raise ScrapeError("duplicate", f"duplicate series {_show(key)}: the target's metrics are inconsistent")
        into[key] = value


def _parse(text: str, openmetrics: bool) -> dict[SeriesKey, float]:
    if not text.endswith("\n"):
        text += "\n"
    if openmetrics:
        # Each block is parsed as a body of its own: one "# EOF", at its end.
        text = _EOF.sub("", text) + "# EOF\n"
    parser = parse_openmetrics if openmetrics else parse_text
    samples: dict[SeriesKey, float] = {}
    media = OPENMETRICS if openmetrics else "text/plain"
    try:
        for family in parser(text):
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in samples:
                    raise ScrapeError(
                        "duplicate", f"duplicate series {_show(key)}: the target's metrics are inconsistent"
                    )
                samples[key] = float(s.value)
    except ScrapeError:
        raise
    except Exception as exc:  # the parsers raise ValueError, TypeError, IndexError… on garbage
        raise ScrapeError("parse", f"could not parse {media} metrics: {exc}") from None
    return samples


def parse_body(body: bytes, content_type: str | None) -> dict[SeriesKey, float]:
    """Every sample of a /metrics body; raises ScrapeError on anything but valid exposition text."""
    return Exposition.parse(body, content_type).samples()


def _show(key: SeriesKey) -> str:
    name, labels = key
    return name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")


@dataclass(frozen=True)
class ParsedScrape:
    at_ms: int
    exposition: Exposition
    seconds: float  # how long the scrape took
    encoding: str = "identity"
    raw_bytes: int = 0

    @classmethod
    def from_text(cls, at_ms: int, text: str, content_type: str = "text/plain; version=0.0.4") -> ParsedScrape:
        body = text.encode()
        return cls(at_ms, Exposition.parse(body, content_type), 0.0, raw_bytes=len(body))


class _LoopThread:
    """A private event loop in a daemon thread: the fetch runs async so one deadline can cancel it whole."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="streamflow-fetch", daemon=True)
        self._thread.start()

    def run(self, coro, timeout: float | None = None):
        """The coroutine's result; concurrent.futures.TimeoutError after ``timeout`` s, CancelledError if the
        loop is closed meanwhile — a caller never waits forever on a loop that stopped."""
        if self.loop.is_closed():
            coro.close()
            raise concurrent.futures.CancelledError()
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self.loop.is_closed():
            return

        def stop() -> None:
            for task in asyncio.all_tasks(self.loop):  # a fetch in flight ends now: its caller is told
                task.cancel()
            self.loop.call_later(0.1, self.loop.stop)  # time for the cancellations to unwind

        self.loop.call_soon_threadsafe(stop)
        self._thread.join(timeout=2)
        self.loop.close()


@dataclass
class _Progress:
    raw_bytes: int = 0
    phase: str = "connecting"


class MetricsFetcher:
    """GETs one /metrics URL: a reused client, one deadline for the whole answer, a cap on its decoded size."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        options: ConnectionOptions | None = None,
    ):
        self.url = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._options_error: str | None = None
        try:
            kwargs = (options or ConnectionOptions()).client_kwargs()
        except ConnectionOptionsError as exc:
            self._options_error, kwargs = str(exc), {}
        headers = {"accept": ACCEPT, "accept-encoding": ACCEPT_ENCODING, **kwargs.pop("headers", {})}
        self._loop = _LoopThread()
        self._closing = False
        # Per-phase timeouts a little past the deadline: the deadline is the one that fires.
        self._client = httpx.AsyncClient(timeout=timeout + 1.0, headers=headers, follow_redirects=False, **kwargs)

    def fetch(self) -> ParsedScrape:
        if self._options_error:
            raise ScrapeError("config", self._options_error)
        start = time.perf_counter()
        at_ms = int(time.time() * 1000)
        progress = _Progress()
        closed = ScrapeError("closed", f"the scrape of {self.url} was stopped: the source is closing")
        try:
            # The deadline is enforced inside _fetch; this bound only guards against a loop that stopped.
            body, content_type, encoding = self._loop.run(self._fetch(progress), timeout=self.timeout + 5.0)
        except concurrent.futures.TimeoutError:
            raise ScrapeError("timeout", f"no complete answer from {self.url} within {self.timeout:g} s") from None
        except concurrent.futures.CancelledError:
            raise closed from None
        except ScrapeError:
            if self._closing:  # the connection was closed by close(), not by the target: say so, not "truncated"
                raise closed from None
            raise
        exposition = Exposition.parse(body, content_type)
        return ParsedScrape(at_ms, exposition, time.perf_counter() - start, encoding, progress.raw_bytes)

    async def _fetch(self, progress: _Progress) -> tuple[bytes, str | None, str]:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client.stream("GET", self.url) as response:
                    progress.phase = "reading"
                    if response.status_code != 200:
                        raise ScrapeError(
                            "http", f"HTTP {response.status_code} from {self.url}" + _auth_hint(response.status_code)
                        )
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise ScrapeError(
                            "too_large",
                            f"/metrics body of {int(declared):,} bytes exceeds the {self.max_bytes:,}-byte cap",
                        )
                    decoder = BodyDecoder(response.headers.get("content-encoding"), self.max_bytes)
                    async for chunk in response.aiter_raw():
                        decoder.feed(chunk)
                        progress.raw_bytes = decoder.raw_bytes
                    return decoder.finish(), response.headers.get("content-type"), decoder.encoding
        except TimeoutError:
            got = "no answer" if progress.phase == "connecting" else f"{progress.raw_bytes:,} bytes of the body"
            raise ScrapeError(
                "timeout", f"no complete answer from {self.url} within {self.timeout:g} s ({got} by then)"
            ) from None
        except DecodeError as exc:
            raise ScrapeError(exc.kind, exc.message) from None
        except httpx.TimeoutException:
            raise ScrapeError("timeout", f"no answer from {self.url} within {self.timeout:g} s") from None
        except httpx.ConnectError as exc:
            raise ScrapeError("unreachable", f"cannot connect to {self.url}: {connection_reason(exc)}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ScrapeError(
                "truncated",
                f"{self.url} closed the connection mid-answer after {progress.raw_bytes:,} bytes: {exc or type(exc).__name__}",
            ) from None
        except httpx.HTTPError as exc:
            raise ScrapeError("http", f"{self.url}: {exc}") from None

    def close(self) -> None:
        self._closing = True
        try:
            self._loop.run(self._client.aclose(), timeout=5.0)
        except (RuntimeError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            pass
        self._loop.close()


def _auth_hint(status: int) -> str:
    return " (credentials needed: see --api-header / --api-bearer-token-file)" if status in (401, 403) else ""


def finite(value: float | None) -> float | None:
    """None for NaN and infinities, which are not measurements a person can read."""
    return None if value is None or not math.isfinite(value) else value
