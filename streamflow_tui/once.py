"""``streamflow-tui --once``: one snapshot, as a table or as JSON, with exit codes for scripts."""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import ExitStack
from typing import TextIO

from .core.embedded import EmbeddedApiError, embedded_api
from .core.naming import MetricNames
from .core.report import SloCheck, slo_checks, to_json
from .core.results import Bucket, Snapshot

EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE, EXIT_DRIFT, EXIT_SLO = 0, 1, 2, 3, 4


def take_snapshot(args, names: MetricNames, stack: ExitStack) -> Snapshot:
    if args.prometheus_url:
        from .core.prometheus import PrometheusSource

        source = PrometheusSource(args.prometheus_url, names, api_url=args.api_url, timeout=args.timeout)
        stack.callback(source.close)
        return source.snapshot(args.window)

    from .core.scrape import ScrapeSource

    api_url = args.api_url or stack.enter_context(embedded_api())
    source = ScrapeSource(api_url, names, history_points=2, timeout=args.timeout)
    stack.callback(source.close)
    status = source.poll()
    if args.window > 0 and status.up:
        time.sleep(args.window)
        source.poll()
        # Rates over the time actually between the two scrapes, not the nominal window.
        return source.snapshot(source.span_seconds())
    return source.snapshot(0)


def exit_code(snapshot: Snapshot, slo: tuple[SloCheck, ...]) -> int:
    target = snapshot.prometheus if snapshot.source == "prometheus" else snapshot.api
    if not target.up or target.error or (snapshot.source == "prometheus" and not snapshot.api.up):
        return EXIT_UNREADABLE
    if any(c.breached for c in slo):
        return EXIT_SLO
    return EXIT_OK


def run(args, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        names = MetricNames.from_env(
            requests=args.requests_metric, latency=args.latency_metric, endpoint_label=args.endpoint_label,
            status_label=args.status_label, code_label=args.code_label,
        )  # fmt: skip
    except ValueError as exc:
        print(f"streamflow-tui: {exc}", file=err)
        return EXIT_USAGE
    with ExitStack() as stack:
        try:
            snapshot = take_snapshot(args, names, stack)
        except EmbeddedApiError as exc:
            print(f"streamflow-tui: cannot start the embedded API: {exc}", file=err)
            return EXIT_UNREADABLE
    slo = slo_checks(snapshot, p95=args.slo_p95, error_ratio=args.slo_error_ratio)
    if args.json:
        json.dump(to_json(snapshot, slo), out, indent=2, allow_nan=False)
        out.write("\n")
    else:
        out.write(render_text(snapshot, slo))
    return exit_code(snapshot, slo)


# -- text rendering -----------------------------------------------------------------

def _num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.2f} s"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _up(up: bool | None) -> str:
    return {True: "UP", False: "DOWN", None: "–"}[up]


def _bound(le: float) -> str:
    return f"{le * 1000:g} ms" if le < 1 else f"{le:g} s"


def bars(buckets: tuple[Bucket, ...], width: int = 30) -> list[str]:
    """Text bars for the buckets between the first and the last that saw observations."""
    used = [i for i, b in enumerate(buckets) if b.count]
    if not used:
        return ["  (no observations)"]
    peak = max(b.count or 0.0 for b in buckets)
    lines = []
    for i in range(used[0], used[-1] + 1):
        b = buckets[i]
        label = f"> {_bound(buckets[i - 1].le)}" if math.isinf(b.le) and i else f"≤ {_bound(b.le)}"
        n = round(width * (b.count or 0.0) / peak)
        lines.append(f"  {label:>12}  {'█' * n:<{width}}  {_num(b.count, '{:,.0f}')}")
    return lines


def render_text(s: Snapshot, slo: tuple[SloCheck, ...] = ()) -> str:
    lines = [f"StreamFlow snapshot {s.taken_at:%Y-%m-%d %H:%M:%S} UTC · source {s.source} · window {s.window_seconds:g} s"]
    for name, t in (("api", s.api), ("prometheus", s.prometheus)):
        if t.url or t.error:
            lines.append(f"{name:<11} {t.url or '–'}  {_up(t.up)}" + (f"  ! {t.error}" if t.error else ""))
    r, lat = s.requests, s.latency
    lines.append(f"{'requests':<11} total {_num(r.total, '{:,.0f}')}   rate {_num(r.rps)}/s   errors {_pct(r.error_ratio)}")
    lines.append(f"{'latency':<11} avg {_ms(lat.avg)}   p50 {_ms(lat.p50)}   p95 {_ms(lat.p95)}   p99 {_ms(lat.p99)}")
    if s.model:
        m = s.model
        lines.append(
            f"{'model':<11} {m.version or '–'}  served {m.served_month or '–'}   predicted churn {_pct(m.predicted_churn_rate)}"
            f"   {_num(m.predictions_per_s)} predictions/s"
        )
    for c in slo:
        shown = _ms(c.value) if c.name == "p95" else _pct(c.value)
        limit = _ms(c.limit) if c.name == "p95" else _pct(c.limit)
        verdict = {True: "BREACHED", False: "ok", None: "no data"}[c.breached]
        lines.append(f"{'slo ' + c.name:<11} {shown} (limit {limit})  {verdict}")
    if r.by_series:
        lines += ["", f"  {'endpoint':<22} {'status':<8} {'code':<5} {'total':>10} {'req/s':>9}" + ("  instance" if any(x.instance for x in r.by_series) else "")]
        for x in r.by_series:
            lines.append(f"  {x.endpoint[:22]:<22} {x.status:<8} {x.code:<5} {_num(x.total, '{:,.0f}'):>10} {_num(x.rps):>9}" + (f"  {x.instance}" if x.instance else ""))
    if s.latency_histogram:
        lines += ["", "  latency histogram" + (" (window)" if s.window_seconds else " (since start)")]
        lines += bars(s.latency_histogram)
    if s.metrics and s.metrics.detected:
        lines += ["", f"metrics: {s.metrics.note}"]
    return "\n".join(lines) + "\n"
