"""The final report: hey/oha-style text and the ``streamflow.load/1`` JSON, from the same numbers."""

from __future__ import annotations

import statistics
from typing import Any

from .config import LoadConfig
from .stats import LoadSnapshot, LoadStats

SCHEMA = "streamflow.load/1"


def build(config: LoadConfig, stats: LoadStats) -> dict[str, Any]:
    s: LoadSnapshot = stats.snapshot()
    latency = {}
    for kind, corrected in (("corrected", True), ("uncorrected", False)):
        latency[kind] = {**stats.latency_summary(corrected), **(s.corrected if corrected else s.uncorrected)}
    timeline = stats.timeline_rows()
    answered = [row["ok"] + row["errors"] - row["no_answer"] for row in timeline]
    per_second = answered[1:-1] or answered  # answered requests a second, the partial first and last seconds left out
    doc = {
        "schema": SCHEMA,
        "target": {
            "url": config.url,
            "method": config.method,
            "payload": config.payload,
            "month": config.month if config.payload != "none" else None,
        },
        "model": config.model,
        "rate": config.rate,
        "concurrency": config.concurrency,
        "duration_s": config.duration,
        "requests_limit": config.requests,
        "elapsed_s": s.elapsed_s,
        "totals": {
            "sent": s.sent,
            "ok": s.ok,
            "errors": s.errors,
            "cancelled": s.cancelled,
            "not_sent": s.not_sent,
            "late": s.late,
            "no_answer": s.no_answer,
            "retried": s.retried,
        },
        "throughput_rps": s.achieved_rps,
        "send_rate": s.send_rate,
        "per_second": {
            "min": min(per_second, default=None),
            "median": statistics.median(per_second) if per_second else None,
            "max": max(per_second, default=None),
        },
        "fell_behind": s.fell_behind,
        "max_send_lag_s": s.max_send_lag_s,
        "latency_seconds": latency,
        "histogram": stats.histogram_rows(corrected=config.rate is not None),
        "status_codes": dict(sorted(s.status_codes.items())),
        "error_kinds": dict(sorted(s.error_kinds.items())),
        "timeline": timeline,
        "warnings": warnings(s, config),
        "feedback": stats.feedback,
    }
    if stats.stream is not None:  # --stream: a block of its own; readers of the plain report are unaffected
        settings = config.stream.settings() if config.stream is not None else None
        doc["stream"] = {"settings": settings, **stats.stream.report(s.elapsed_s)}
        doc["warnings"] += stream_warnings(s, doc["stream"])
    return doc


def stream_warnings(s: LoadSnapshot, st: dict[str, Any]) -> list[str]:
    """What makes a stream run's numbers mean something else than the user may think."""
    out = []
    not_sse = s.error_kinds.get("not_sse", 0)
    if s.sent and not_sse > s.sent / 2:
        out.append(
            f"{not_sse:,} of {s.sent:,} answers were not an event stream: is the target an OpenAI-compatible"
            " server, and does it stream?"
        )
    if st["streams"] and st["tokens_per_request"]["p50"] == 0:
        out.append(
            "half the streams or more ended with data: [DONE] and no token: empty answers, or an engine that ends"
            " a stream when another request comes in (llama-cpp-python's server does, unless --interrupt_requests False)"
        )
    return out


def warnings(s: LoadSnapshot, config: LoadConfig) -> list[str]:
    """What makes the run's numbers mean something else than the user may think."""
    out = []
    answered = sum(s.status_codes.values())
    not_found = s.status_codes.get("404", 0)
    if answered and not_found > answered / 2:
        what = f"user ids from {config.month}" if config.payload == "user_id" else "the requests"
        out.append(
            f"{not_found / answered:.0%} of the answers were 404: the target does not know {what}"
            " (does it serve that month? try --payload features)"
        )
    if s.sent and s.no_answer > s.sent / 2:
        out.append(f"{s.no_answer:,} of {s.sent:,} requests got no answer at all (is the target up?)")
    return out


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v * 1000:.2f} ms"


def render(r: dict[str, Any]) -> str:
    t = r["totals"]
    load = f"open model, {r['rate']:g} req/s" if r["model"] == "open" else f"closed model, {r['concurrency']} workers"
    lines = [
        f"Target      {r['target']['method']} {r['target']['url']}"
        + (f"  ({r['target']['payload']} from {r['target']['month']})" if r["target"]["month"] else ""),
        f"Load        {load}",
    ]
    seg = r.get("segment")
    if seg and seg["count"] > 1:
        share = f"{seg['rate']:g} req/s" if r["model"] == "open" else f"{seg['concurrency']} workers"
        lines.append(f"Segment     {seg['index']}/{seg['count']} ({share} of it), run {seg['run_id']} on {seg['host']}")
    merged = r.get("segments")
    if merged:
        hosts = merged["hosts"]
        lines.append(
            f"Merged      {merged['merged']} of {merged['count']} segments from {len(hosts)} host"
            f"{'s' if len(hosts) != 1 else ''} ({', '.join(hosts)}), run {merged['run_id']}"
        )
    if r.get("partial"):
        lines.append(f"Partial     {r.get('partial_reason') or 'some segments are partial or missing (see below)'}")
    lines += [
        "",
        "Summary:",
        f"  Total:        {r['elapsed_s']:.3f} s",
        f"  Requests:     {t['sent']:,} sent = {t['ok']:,} ok + {t['errors']:,} errors + {t['cancelled']:,} cancelled"
        + (f" ({t['no_answer']:,} errors got no answer)" if t.get("no_answer") else ""),
        f"  Requests/sec: {r['throughput_rps']:.1f}" if r["throughput_rps"] is not None else "  Requests/sec: –",
    ]
    if r["model"] == "open":
        rate = "–" if r["send_rate"] is None else f"{r['send_rate']:.1f}"
        target = seg["rate"] if seg and seg["count"] > 1 and seg["rate"] else r["rate"]
        lines.append(
            f"  Send rate:    {rate} req/s (target {target:g}); {t['late']:,} sent >10 ms late; {t['not_sent']:,} never sent"
        )
    ps = r["per_second"]
    if ps["median"] is not None:
        lines.append(f"  Per second:   min {ps['min']:,}  median {ps['median']:,.0f}  max {ps['max']:,}")
    c, u = r["latency_seconds"]["corrected"], r["latency_seconds"]["uncorrected"]
    lines += [
        "",
        f"  {'latency':<10} {'corrected':>12} {'uncorrected':>12}"
        if r["model"] == "open"
        else f"  {'latency':<10} {'':>12} {'':>12}",
    ]
    for key, label in (
        ("fastest", "Fastest"),
        ("slowest", "Slowest"),
        ("average", "Average"),
        ("stddev", "Stddev"),
        ("p50", "p50"),
        ("p90", "p90"),
        ("p95", "p95"),
        ("p99", "p99"),
        ("p99_9", "p99.9"),
    ):
        lines.append(f"  {label:<10} {_ms(c[key]):>12} {_ms(u[key]):>12}")
    if r["model"] == "closed":
        lines.append("  (closed model: no intended send times, so corrected = uncorrected)")
    if r.get("stream"):
        lines += render_stream(r["stream"])
    if r["histogram"]:
        peak = max(h["count"] for h in r["histogram"]) or 1
        lines += ["", "Latency histogram" + (" (corrected):" if r["model"] == "open" else ":")]
        for h in r["histogram"]:
            lines.append(f"  {h['le'] * 1000:9.2f} ms [{h['count']:>8,}]  {'■' * round(40 * h['count'] / peak)}")
    if r["status_codes"]:
        lines += ["", "Status codes:"] + [f"  [{code}] {n:,} responses" for code, n in r["status_codes"].items()]
    if r["error_kinds"]:
        lines += ["", "Errors:"] + [f"  {kind}: {n:,}" for kind, n in r["error_kinds"].items()]
    if r.get("feedback"):
        f = r["feedback"]
        lines += [
            "",
            f"Feedback:     {f['sent']:,} labels sent {f['delay_s']:g} s after their answer ({f['fraction']:.0%} of answers);"
            f" {f['unknown']:,} unknown to the API, {f['failed']:,} not delivered"
            + (f" ({f['error']})" if f["error"] else ""),
        ]
    if t.get("retried"):
        lines += [
            "",
            f"Retried:     {t['retried']:,} requests went out a second time, on a new connection: the target had"
            " closed the idle keep-alive connection the first try was sent on (its keep-alive timeout).",
        ]
    for warning in r.get("warnings", []):
        lines += ["", f"! {warning}"]
    if r["fell_behind"]:
        lines += [
            "",
            f"! The target fell behind the schedule: {t['late']:,} requests went out more than 10 ms late "
            f"(worst {r['max_send_lag_s'] * 1000:.0f} ms) and {t['not_sent']:,} were never sent. "
            "Corrected latency includes that wait.",
        ]
    return "\n".join(lines) + "\n"


def _stream_row(label: str, cells: list[float | None]) -> str:
    return f"  {label:<10}" + "".join(f" {_ms(v):>11}" for v in cells)


def render_stream(st: dict[str, Any]) -> list[str]:
    """The ``stream`` block as text: tokens, usage, TTFT / ITL / e2e percentiles and the server's split."""
    cfg = st.get("settings") or {}
    tps = "–" if st["tokens_per_s"] is None else f"{st['tokens_per_s']:,.1f}"
    per = st["tokens_per_request"]
    lines = [
        "",
        f"Streams ({cfg.get('api', '?')}, model {cfg.get('model') or '(not sent)'}, max_tokens {cfg.get('max_tokens', '?')}):",
        f"  Tokens:       {st['tokens']:,} out, {tps} tokens/s; {st['streams']:,} streams ended with [DONE]"
        + (f"; per stream p50 {per['p50']:g}, max {per['max']:g}" if per["count"] else ""),
    ]
    if st["usage_reported"]:
        lines.append(
            f"  Usage:        {st['prompt_tokens']:,} prompt + {st['completion_tokens']:,} completion tokens"
            f" (reported for {st['usage_reported']:,} streams)"
        )
    ttft, itl, e2e = st["ttft_seconds"], st["itl_seconds"]["uncorrected"], st["e2e_seconds"]
    lines += [
        "",
        f"  {'':<10}" + "".join(f" {h:>11}" for h in ("TTFT corr", "TTFT uncorr", "ITL", "e2e corr", "e2e uncorr")),
    ]
    columns = (ttft["corrected"], ttft["uncorrected"], itl, e2e["corrected"], e2e["uncorrected"])
    for key, label in (("min", "Fastest"), ("mean", "Average"), ("p50", "p50"), ("p90", "p90"), ("p99", "p99"),
                       ("p99_9", "p99.9"), ("max", "Slowest")):  # fmt: skip
        lines.append(_stream_row(label, [c[key] for c in columns]))
    split = st["ttft_split"]
    if split["available"]:
        lines.append(f"  TTFT split ({', '.join(f'{k}: {n:,}' for k, n in split['sources'].items())}):")
        for name, key in (("queue", "queue_seconds"), ("prefill", "prefill_seconds"), ("network", "network_seconds")):
            h = split[key]
            if h is None:
                lines.append(f"    {name:<8} not reported by the server")
            else:
                lines.append(f"    {name:<8} p50 {_ms(h['p50'])}  p99 {_ms(h['p99'])}")
        if split.get("note"):
            lines.append(f"    ({split['note']})")
    else:
        lines.append(f"  TTFT split: {split['note']}")
    return lines


def progress_line(s: LoadSnapshot) -> str:
    rps = "–" if s.achieved_rps is None else f"{s.achieved_rps:,.0f}"
    return (
        f"{s.elapsed_s:6.1f}s  sent {s.sent:,}  ok {s.ok:,}  err {s.errors:,}  {rps} req/s  "
        f"p50 {_ms(s.corrected['p50'])}  p99 {_ms(s.corrected['p99'])}  in flight {s.in_flight}"
    )
