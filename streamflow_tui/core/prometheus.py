"""The Prometheus source: the same quantities as the scrape source, asked of a Prometheus server.

It aggregates every replica Prometheus scrapes (sums) and keeps a
per-instance breakdown; it has history, so consoles backfill their charts with
``query_range`` at start.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from . import compute
from .exposition import finite
from .naming import LATENCY_BUCKET, MetricNames, choose, derive_status
from .results import (
    EMPTY_LATENCY,
    EMPTY_REQUESTS,
    Bucket,
    Latency,
    MetricChoice,
    ModelStats,
    RequestStats,
    SeriesRate,
    Snapshot,
    SourceError,
    TargetStatus,
)

CHOICE_TTL_S = 30.0


class PrometheusError(SourceError):
    pass


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

    def __init__(self, url: str, *, timeout: float = 3.0):
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = self.url + path
        try:
            response = self._client.get(url, params=params)
        except httpx.TimeoutException:
            raise PrometheusError("timeout", f"Prometheus at {self.url} did not answer within {self._client.timeout.read} s") from None
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
            raise PrometheusError("unreachable", f"cannot connect to Prometheus at {self.url}: {reason}") from None
        except httpx.HTTPError as exc:
            raise PrometheusError("http", f"Prometheus at {self.url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            if response.status_code == 404:
                raise PrometheusError("not_found", f"{url} answered 404: is {self.url} a Prometheus server?")
            if response.status_code >= 400:
                raise PrometheusError("http", f"Prometheus answered HTTP {response.status_code} for {path}")
            raise PrometheusError("invalid", f"Prometheus answered {path} with something that is not its JSON API")
        if body["status"] != "success":
            kind = str(body.get("errorType") or "error")
            raise PrometheusError(kind, f"Prometheus {kind} error ({response.status_code}): {body.get('error', 'no message')}")
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

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"}
        data = self._get("/api/v1/query_range", params)
        if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusError("invalid", f"unexpected range result for {expr!r}")
        return data["result"]

    def label_names(self, match: str) -> frozenset[str]:
        data = self._get("/api/v1/labels", {"match[]": match})
        return frozenset(data or ())

    def close(self) -> None:
        self._client.close()


class PrometheusSource:
    kind = "prometheus"

    def __init__(self, prometheus_url: str, names: MetricNames | None = None, *, api_url: str | None = None, timeout: float = 3.0):
        self.client = PrometheusClient(prometheus_url, timeout=timeout)
        self.names = names or MetricNames()
        self.api_url = api_url
        self._choice: MetricChoice | None = None
        self._choice_at = 0.0

    def close(self) -> None:
        self.client.close()

    # -- which metrics -------------------------------------------------------------
    def choice(self, at: float) -> MetricChoice:
        if self._choice and time.monotonic() - self._choice_at < CHOICE_TTL_S and self._choice.requests:
            return self._choice
        # Metric names are validated ([a-zA-Z_:][a-zA-Z0-9_:]*), so they are safe inside a regex.
        wanted = f".+_requests_total|.+_(duration|latency)_seconds_bucket|{self.names.requests}|{self.names.latency}_bucket"
        rows = self.client.query(f'count by (__name__) ({{__name__=~"{wanted}"}})', at)
        available = {}
        for row in rows:
            name = row["metric"].get("__name__")
            if name and (name.endswith("_requests_total") or name == self.names.requests or LATENCY_BUCKET.match(name)
                         or name == self.names.latency + "_bucket"):  # fmt: skip
                available[name] = self.client.label_names(name) if not LATENCY_BUCKET.match(name) else frozenset({"le"})
        self._choice = choose(self.names, available)
        self._choice_at = time.monotonic()
        return self._choice

    # -- one snapshot -------------------------------------------------------------
    def snapshot(self, window_seconds: float) -> Snapshot:
        now = datetime.now(timezone.utc)
        at = now.timestamp()
        prom = TargetStatus(url=self.client.url, up=True, error=None)
        api = TargetStatus(url=self.api_url, up=None, error=None)
        try:
            choice = self.choice(at)
            instances, api = self._targets(at)
            if not choice.requests:
                prom = TargetStatus(url=self.client.url, up=True, error=choice.note)
                return Snapshot(now, self.kind, api, prom, window_seconds, EMPTY_REQUESTS, EMPTY_LATENCY, (), None, choice)
            w = f"{max(1, round(window_seconds * 1000))}ms"
            requests = self._requests(choice, w, at)
            latency, histogram, by_endpoint = EMPTY_LATENCY, (), ()
            if choice.latency:
                latency, histogram, by_endpoint = self._latency(choice, w, at)
            model = self._model(w, at)
        except PrometheusError as exc:
            prom = TargetStatus(url=self.client.url, up=exc.kind not in ("unreachable", "timeout", "http", "not_found"), error=exc.message)
            return Snapshot(now, self.kind, api, prom, window_seconds, EMPTY_REQUESTS, EMPTY_LATENCY, (), None, self._choice)
        return Snapshot(
            taken_at=now, source=self.kind, api=api, prometheus=prom, window_seconds=window_seconds,
            requests=requests, latency=latency, latency_histogram=histogram, model=model, metrics=choice,
            latency_by_endpoint=by_endpoint, instances=instances,
        )  # fmt: skip

    def _targets(self, at: float) -> tuple[tuple[str, ...], TargetStatus]:
        rows = self.client.query("up", at)
        states = {r["metric"].get("instance", "?"): _value(r["value"][1]) == 1 for r in rows}
        down = sorted(i for i, up in states.items() if not up)
        if not states:
            return (), TargetStatus(url=self.api_url, up=None, error="Prometheus scrapes no targets")
        error = f"Prometheus cannot scrape {', '.join(down)}" if down else None
        return tuple(sorted(states)), TargetStatus(url=self.api_url, up=any(states.values()), error=error)

    def _requests(self, c: MetricChoice, w: str, at: float) -> RequestStats:
        labels = [l for l in (c.endpoint_label, c.status_label, c.code_label) if l] + ["instance"]
        by = ", ".join(labels)
        rates = {self._key(r["metric"], c): _value(r["value"][1]) for r in self.client.query(f"sum by ({by}) (rate({c.requests}[{w}]))", at)}
        totals = {self._key(r["metric"], c): _value(r["value"][1]) for r in self.client.query(f"sum by ({by}) ({c.requests})", at)}
        if not totals:
            return EMPTY_REQUESTS
        several = len({k[3] for k in totals}) > 1
        by_series = tuple(
            SeriesRate(endpoint=key[0], status=key[1], code=key[2], total=totals[key], rps=rates.get(key),
                       instance=key[3] if several else None)  # fmt: skip
            for key in sorted(totals)
        )
        total = sum(t for t in totals.values() if t is not None)
        measured = [r for r in rates.values() if r is not None]
        rps = sum(measured) if measured else None
        errors = sum(r for k, r in rates.items() if k[1] == "error" and r is not None)
        return RequestStats(total=total, rps=rps, error_ratio=errors / rps if rps else None, by_series=by_series)

    @staticmethod
    def _key(metric: dict, c: MetricChoice) -> tuple[str, str, str, str]:
        code = metric.get(c.code_label, "") if c.code_label else ""
        status = (metric.get(c.status_label) if c.status_label else None) or derive_status(code)
        endpoint = metric.get(c.endpoint_label, "") if c.endpoint_label else ""
        return endpoint, status, code, metric.get("instance", "")

    def _latency(self, c: MetricChoice, w: str, at: float):
        bucket = f"{c.latency}_bucket"
        q = {}
        for quantile in (0.5, 0.95, 0.99):
            rows = self.client.query(f"histogram_quantile({quantile}, sum by (le) (rate({bucket}[{w}])))", at)
            q[f"p{round(quantile * 100)}"] = _value(rows[0]["value"][1]) if rows else None
        rows = self.client.query(f"sum(rate({c.latency}_sum[{w}])) / sum(rate({c.latency}_count[{w}]))", at)
        latency = Latency(avg=_value(rows[0]["value"][1]) if rows else None, **q)
        histogram = self._histogram(f"sum by (le) (increase({bucket}[{w}]))", at)
        by_endpoint: dict[str, dict[str, float | None]] = {}
        if c.endpoint_label:
            for quantile in (0.5, 0.95, 0.99):
                expr = f"histogram_quantile({quantile}, sum by (le, {c.endpoint_label}) (rate({bucket}[{w}])))"
                for r in self.client.query(expr, at):
                    by_endpoint.setdefault(r["metric"].get(c.endpoint_label, ""), {})[f"p{round(quantile * 100)}"] = _value(r["value"][1])
        return latency, histogram, tuple((e, Latency(**v)) for e, v in sorted(by_endpoint.items()))

    def _histogram(self, expr: str, at: float) -> tuple[Bucket, ...]:
        cumulative = []
        for r in self.client.query(expr, at):
            try:
                cumulative.append((float(r["metric"]["le"]), _value(r["value"][1])))
            except (KeyError, ValueError):
                continue
        # The scrape source's de-cumulation (duplicate le spellings merged, NaN shown as None).
        return compute.histogram([(le, math.nan if count is None else count) for le, count in cumulative])

    def _model(self, w: str, at: float) -> ModelStats | None:
        n = self.names
        by_class = {r["metric"].get("predicted_class", ""): _value(r["value"][1])
                    for r in self.client.query(f"sum by (predicted_class) (rate({n.predictions}[{w}]))", at)}  # fmt: skip
        info_rows = self.client.query(f"max by (version, training_month, served_month) ({n.model_info})", at)
        info = info_rows[0]["metric"] if len(info_rows) == 1 else {}
        if not by_class and not info:
            return None
        measured = [v for v in by_class.values() if v is not None]
        total = sum(measured) if measured else None
        churn = (by_class.get("1") or 0.0) / total if total else None
        return ModelStats(
            version=info.get("version") if info else (f"{len(info_rows)} versions" if info_rows else None),
            training_month=info.get("training_month"),
            served_month=info.get("served_month"),
            predictions_per_s=total,
            predicted_churn_rate=churn,
            score_histogram=self._histogram(f"sum by (le) (increase({n.probability}_bucket[{w}]))", at),
        )

    # -- history for charts ---------------------------------------------------------
    def history(self, duration_s: float, step_s: float, window_seconds: float) -> History:
        """The last ``duration_s`` seconds at ``step_s`` resolution (about one point per chart column)."""
        end = time.time()
        start = end - duration_s
        c = self.choice(end)
        if not c.requests:
            raise PrometheusError("no_metrics", c.note)
        w = f"{max(1, round(window_seconds * 1000))}ms"
        step = max(step_s, 0.001)
        errors = f'{c.status_label}="error"' if c.status_label else (f'{c.code_label}=~"[45].."' if c.code_label else "")
        exprs = {
            "rps": f"sum(rate({c.requests}[{w}]))",
            "error_ratio": f"sum(rate({c.requests}{{{errors}}}[{w}])) / sum(rate({c.requests}[{w}]))" if errors else None,
        }
        if c.latency:
            for quantile in (0.5, 0.95, 0.99):
                exprs[f"p{round(quantile * 100)}"] = f"histogram_quantile({quantile}, sum by (le) (rate({c.latency}_bucket[{w}])))"
        n = int(math.floor((end - start) / step)) + 1
        times = tuple(round(start + i * step, 3) for i in range(n))
        columns: dict[str, tuple[float | None, ...]] = {}
        for key in ("rps", "error_ratio", "p50", "p95", "p99"):
            expr = exprs.get(key)
            values: dict[float, float | None] = {}
            if expr:
                for series in self.client.query_range(expr, start, end, step):
                    for t, v in series.get("values", []):
                        values[round(float(t), 3)] = _value(v)
            columns[key] = tuple(values.get(t) for t in times)
        return History(times_s=times, **columns)
