"""Prometheus's HTTP API, as the console uses it: instant and range queries, metadata, label values —
with the connection options (headers, tokens, TLS) and errors that say what went wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .connection import ConnectionOptions, ConnectionOptionsError, connection_reason
from .errors import PrometheusError
from .exposition import finite


def go_duration(text: str) -> float | None:
    """Seconds of a Prometheus duration ("15s", "1m", "1m30s", "500ms"); None when it is not one."""
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(float(n) * unit[u] for n, u in parts)


@dataclass(frozen=True)
class History:
    """Series over time for charts: one value (or None) per timestamp."""

    times_s: tuple[float, ...]
    rps: tuple[float | None, ...]
    error_ratio: tuple[float | None, ...]
    p50: tuple[float | None, ...]
    p95: tuple[float | None, ...]
    p99: tuple[float | None, ...]


def _value(raw: Any) -> float | None:
    """A sample value as Prometheus sends it ("1.5", "NaN", "+Inf"); None if not a finite number."""
    try:
        return finite(float(raw))
    except (TypeError, ValueError):
        return None


class PrometheusClient:
    """Prometheus's HTTP API (``/api/v1/*``), every failure turned into a PrometheusError."""

    def __init__(self, url: str, *, timeout: float = 3.0, options: ConnectionOptions | None = None):
        self.url = url.rstrip("/")
        self._options_error: str | None = None
        try:
            kwargs = (options or ConnectionOptions()).client_kwargs()
        except ConnectionOptionsError as exc:
            self._options_error, kwargs = str(exc), {}
        self._client = httpx.Client(timeout=timeout, **kwargs)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        if self._options_error:
            raise PrometheusError("config", self._options_error)
        url = self.url + path
        try:
            response = self._client.get(url, params=params)
        except httpx.TimeoutException:
            raise PrometheusError(
                "timeout", f"Prometheus at {self.url} did not answer within {self._client.timeout.read} s"
            ) from None
        except httpx.ConnectError as exc:
            raise PrometheusError(
                "unreachable", f"cannot connect to Prometheus at {self.url}: {connection_reason(exc)}"
            ) from None
        except httpx.HTTPError as exc:
            raise PrometheusError("http", f"Prometheus at {self.url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            if response.status_code == 404:
                raise PrometheusError(
                    "not_found", f"{url} answered 404: is {self.url} a Prometheus server (with its path prefix)?"
                )
            if response.status_code in (401, 403):
                raise PrometheusError(
                    "auth",
                    f"Prometheus answered HTTP {response.status_code} for {path}: credentials needed or refused"
                    " (--header, --bearer-token-file, --basic-auth)",
                )
            if response.status_code >= 400:
                raise PrometheusError("http", f"Prometheus answered HTTP {response.status_code} for {path}")
            raise PrometheusError("invalid", f"Prometheus answered {path} with something that is not its JSON API")
        if body["status"] != "success":
            kind = str(body.get("errorType") or "error")
            raise PrometheusError(
                kind, f"Prometheus {kind} error ({response.status_code}): {body.get('error', 'no message')}"
            )
        return body.get("data")

    def query(self, expr: str, at: float) -> list[dict]:
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if not isinstance(data, dict) or data.get("resultType") not in ("vector", "scalar"):
            raise PrometheusError("invalid", f"unexpected result for {expr!r}")
        result = data.get("result")
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        if not isinstance(result, list):
            raise PrometheusError("invalid", f"unexpected result for {expr!r}")
        return result

    def query_matrix(self, expr: str, at: float) -> list[dict]:
        """An instant query of a range selector (``up[5m]``): the raw samples with their timestamps."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusError("invalid", f"unexpected result for {expr!r}")
        return data["result"]

    def scrape_intervals(self) -> list[float]:
        """Configured scrape intervals of the active targets (Prometheus ≥ 2.31 reports them), in seconds."""
        try:
            data = self._get("/api/v1/targets", {"state": "active"})
        except PrometheusError as exc:
            if exc.kind in ("not_found", "bad_data", "http"):
                return []
            raise
        out = []
        for target in (data or {}).get("activeTargets", []) if isinstance(data, dict) else ():
            seconds = go_duration(str(target.get("scrapeInterval", ""))) if isinstance(target, dict) else None
            if seconds:
                out.append(seconds)
        return out

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"}
        data = self._get("/api/v1/query_range", params)
        if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusError("invalid", f"unexpected range result for {expr!r}")
        return data["result"]

    def metric_names(self) -> list[str]:
        data = self._get("/api/v1/label/__name__/values", {})
        return [n for n in data or () if isinstance(n, str)]

    def series_labels(self, names: list[str], start: float, end: float) -> dict[str, frozenset[str]]:
        """Label names seen on each metric name (one series API call for all of them)."""
        if not names:
            return {}
        # Metric names are validated ([a-zA-Z_:][a-zA-Z0-9_:]*), so they are safe inside a regex.
        match = '{__name__=~"' + "|".join(sorted(names)) + '"}'
        data = self._get("/api/v1/series", {"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"})
        out: dict[str, set[str]] = {}
        for series in data or ():
            if isinstance(series, dict) and "__name__" in series:
                out.setdefault(series["__name__"], set()).update(k for k in series if k != "__name__")
        return {k: frozenset(v) for k, v in out.items()}

    def metadata(self) -> dict[str, tuple[str, str]]:
        """TYPE and HELP by family name, where the server keeps them (VictoriaMetrics 1.79 does not)."""
        try:
            data = self._get("/api/v1/metadata", {})
        except PrometheusError as exc:
            if exc.kind in ("not_found", "bad_data", "http"):
                return {}
            raise
        out = {}
        for name, entries in (data or {}).items() if isinstance(data, dict) else ():
            if entries and isinstance(entries[0], dict):
                out[name] = (str(entries[0].get("type", "untyped")), str(entries[0].get("help", "")))
        return out

    def close(self) -> None:
        self._client.close()
