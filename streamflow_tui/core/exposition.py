"""Fetch a /metrics endpoint and parse it with prometheus-client's parsers.

The text-format parser silently mis-reads OpenMetrics, so the parser is picked
by the response's content type. Everything that can go wrong is a
``ScrapeError`` with a kind and a message a person can act on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import httpx
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from .results import SourceError

# Ask for the classic text format only: prometheus-client answers OpenMetrics whenever the
# Accept header lists it at all, whatever its q, and its OpenMetrics parser is ~30 % slower.
# A target that speaks only OpenMetrics still answers (*/*), and is parsed by its content type.
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]  # (sample name, sorted label pairs)


class ScrapeError(SourceError):
    pass


@dataclass(frozen=True)
class ParsedScrape:
    at_ms: int
    samples: dict[SeriesKey, float]
    seconds: float  # how long the scrape took


def parse_body(body: bytes, content_type: str | None) -> dict[SeriesKey, float]:
    """Samples of a /metrics body; raises ScrapeError on anything but valid exposition text."""
    media = (content_type or "text/plain").split(";")[0].strip().lower()
    if media == "application/openmetrics-text":
        parser = parse_openmetrics
    elif media in ("text/plain", ""):
        parser = parse_text
    else:
        raise ScrapeError("content_type", f"expected Prometheus metrics, got {media} (is this a /metrics URL?)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScrapeError("parse", f"body is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise ScrapeError("parse", "body contains NUL bytes: not Prometheus text")
    samples: dict[SeriesKey, float] = {}
    try:
        for family in parser(text):
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in samples:
                    raise ScrapeError("duplicate", f"duplicate series {_show(key)}: the target's metrics are inconsistent")
                samples[key] = float(s.value)
    except ScrapeError:
        raise
    except Exception as exc:  # the parsers raise ValueError, TypeError, IndexError… on garbage
        raise ScrapeError("parse", f"could not parse {media} metrics: {exc}") from None
    return samples


def _show(key: SeriesKey) -> str:
    name, labels = key
    return name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")


class MetricsFetcher:
    """GETs one /metrics URL with a reused client, a timeout and a cap on the body size."""

    def __init__(self, url: str, *, timeout: float = 2.0, max_bytes: int = DEFAULT_MAX_BYTES):
        self.url = url
        self.max_bytes = max_bytes
        self._client = httpx.Client(timeout=timeout, headers={"accept": ACCEPT}, follow_redirects=False)

    def fetch(self) -> ParsedScrape:
        start = time.perf_counter()
        at_ms = int(time.time() * 1000)
        try:
            with self._client.stream("GET", self.url) as response:
                if response.status_code != 200:
                    raise ScrapeError("http", f"HTTP {response.status_code} from {self.url}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise ScrapeError("too_large", f"/metrics body of {int(declared)} bytes exceeds the {self.max_bytes}-byte cap")
                chunks, size = [], 0
                for chunk in response.iter_raw():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ScrapeError("too_large", f"/metrics body exceeds the {self.max_bytes}-byte cap")
                    chunks.append(chunk)
                content_type = response.headers.get("content-type")
        except httpx.TimeoutException:
            raise ScrapeError("timeout", f"no answer from {self.url} within {self._client.timeout.read} s") from None
        except httpx.ConnectError as exc:
            raise ScrapeError("unreachable", f"cannot connect to {self.url}: {_reason(exc)}") from None
        except httpx.RemoteProtocolError as exc:
            raise ScrapeError("truncated", f"{self.url} closed the connection mid-answer: {exc}") from None
        except httpx.HTTPError as exc:
            raise ScrapeError("http", f"{self.url}: {exc}") from None
        samples = parse_body(b"".join(chunks), content_type)
        return ParsedScrape(at_ms, samples, time.perf_counter() - start)

    def close(self) -> None:
        self._client.close()


def _reason(exc: Exception) -> str:
    text = str(exc)
    return "connection refused" if "refused" in text.lower() else text or type(exc).__name__


def finite(value: float | None) -> float | None:
    """None for NaN and infinities, which are not measurements a person can read."""
    return None if value is None or not math.isfinite(value) else value
