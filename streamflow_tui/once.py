"""``streamflow-tui --once``: one snapshot, as a table or as JSON, with exit codes for scripts."""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from typing import TextIO

from .core.bars import histogram_rows
from .core.config import ConsoleConfig
from .core.drift_types import RETRAIN
from .core.embedded import EmbeddedApiError, RegistryChoice, embedded_api
from .core.format import ms, num, pct, quantile
from .core.llm_report import goodput_share, llm_json
from .core.llm_report import render_text as render_llm
from .core.naming import MetricNames
from .core.report import SloCheck, slo_checks, to_json
from .core.results import Bucket, Snapshot
from .core.retraining import RetrainDecision, RetrainNotRun
from .core.source import WithFallback
from .core.sources import open_prometheus, open_scrape
from .options import console_config, metric_names

EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE, EXIT_DRIFT, EXIT_SLO = 0, 1, 2, 3, 4


def take_snapshot(args, names: MetricNames, stack: ExitStack) -> tuple[Snapshot, str | None]:
    """The snapshot, and the URL of the API it watched (for live drift): the console's sources, opened from
    the console's configuration, with its fallback rule (``WithFallback.needed``)."""
    config = console_config(args, api_url=args.api_url, names=names)
    if config.prometheus_url:
        source = open_prometheus(config)
        stack.callback(source.close)
        snapshot = source.snapshot(args.window)
        if not WithFallback.needed(snapshot) or not config.api_url:
            return snapshot, config.api_url
        # Prometheus cannot be read, or has no usable metrics: scrape the API itself, as the console does.
        fallback, api_url = scrape_snapshot(args, config, stack)
        return replace(fallback, prometheus=snapshot.prometheus), api_url
    return scrape_snapshot(args, config, stack)


# How much longer than --window a snapshot may watch a target whose counters move in steps (Ray Serve's
# 10 s): long enough for three updates of a 10-20 s period, short enough for a script.
STEP_WAIT_S = 45.0


def scrape_snapshot(args, config: ConsoleConfig, stack: ExitStack) -> tuple[Snapshot, str | None]:
    """Scrapes of the API (the embedded one when no URL is given) over ``--window`` seconds, longer while its
    counters move in steps (steps.py): then the rates are between two of their updates, or not given."""
    if not config.api_url:
        api = stack.enter_context(embedded_api(registry=RegistryChoice(args.registry, args.registry_location)))
        # --retrain promotes into the registry the embedded API serves (its own, unless one is named).
        args.registry_location = api.registry.location
        config = replace(config, api_url=api.url, registry_location=api.registry.location)
    api_url = config.api_url
    source = open_scrape(config, history_points=1000)
    stack.callback(source.close)
    status = source.poll()
    if args.window > 0 and status.up:
        watch(source, args.window)
        updates, _ = source.counter_updates(args.window)
        # Rates over the time actually between the first and last scrapes, not the nominal window; for
        # stepwise counters, between two of their updates.
        return source.snapshot(args.window if updates else source.span_seconds()), api_url
    return source.snapshot(0), api_url


def watch(source, window: float) -> None:
    """Scrape every window/10 s (0.2-1 s) until ``window`` s lie between the first and the last scrape, and on,
    up to STEP_WAIT_S more, while the counters look stepwise and no two updates far enough apart are seen."""
    every = min(1.0, max(0.2, window / 10))
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        time.sleep(max(0.0, start + n * every - time.monotonic()))
        if not source.poll().up:
            return
        if source.span_seconds() < window:
            continue
        updates, stepped = source.counter_updates(window)
        waiting = (updates is not None and stepped is None) or (updates is None and source.looks_stepwise())
        if not waiting or time.monotonic() - start >= window + STEP_WAIT_S:
            return


def drift_request(args, api_url: str | None):
    from .core.drift_types import DriftRequest

    def pairs(items: list[str], convert) -> tuple:
        return tuple((k, convert(v)) for k, v in (item.split("=", 1) for item in items))

    return DriftRequest(
        reference=args.drift[0],
        current=args.drift[1],
        threshold=args.threshold,
        reports_dir=args.reports_dir,
        api_url=api_url,
        num_method=args.num_stattest,
        cat_method=args.cat_stattest,
        num_threshold=args.num_threshold,
        cat_threshold=args.cat_threshold,
        column_methods=pairs(args.column_stattest, str),
        column_thresholds=pairs(args.column_threshold, float),
    )


def run_drift(args, api_url: str | None, err: TextIO):
    """(the drift result, None, the retrain document or None) or (None, why it failed — also said on stderr,
    None). Evidently and the retraining run in one worker process."""
    from .core.drift import DriftEngine
    from .core.errors import DriftError, RetrainError
    from .core.retraining import RetrainJob, run_retrain

    engine = DriftEngine()
    try:
        try:
            result = engine.run(drift_request(args, api_url))
        except DriftError as exc:
            print(f"streamflow-tui: drift check failed: {exc}", file=err)
            return None, str(exc), None
        if not args.retrain:
            return result, None, None
        if result.decision != RETRAIN:
            return result, None, RetrainNotRun(skipped=f"no retraining triggered ({result.decision})")
        job = RetrainJob(
            args.drift[1],
            api_url=api_url if args.drift[1] == "live" else None,
            min_gain=args.min_gain,
            registry=args.registry,
            registry_location=args.registry_location,
            command=args.retrain_cmd,
        )
        try:
            decision = run_retrain(job)  # the retrain command, as a process
        except RetrainError as exc:
            print(f"streamflow-tui: retraining failed: {exc}", file=err)
            return result, None, RetrainNotRun(error=str(exc))
        return result, None, decision
    finally:
        engine.close()


def run_fleet_drift(args, snapshot: Snapshot, api_url: str | None, err: TextIO):
    """``live`` with a Prometheus URL: the fleet's drift from the backend's feature-bin counters over ``--window``
    (core/fleet_drift.py), against the served model's training rows. As run_drift: (result, error, retrain)."""
    from .core.errors import DriftError, RetrainError
    from .core.fleet_drift import fleet_drift
    from .core.prometheus_client import PrometheusClient, PrometheusError
    from .core.retraining import RetrainJob, run_retrain

    client = PrometheusClient(args.prometheus_url, timeout=args.timeout, options=args.prometheus_options)
    try:
        fleet = fleet_drift(client, args.window, threshold=args.threshold)
    except (DriftError, PrometheusError) as exc:
        print(f"streamflow-tui: drift check failed: {exc}", file=err)
        return None, str(exc), None
    trained = snapshot.model.training_month if snapshot.model else None
    if trained and trained != args.drift[0]:
        print(
            f"streamflow-tui: note: fleet drift compares with the served model's training rows ({trained},"
            f" model {fleet.version}), not {args.drift[0]}",
            file=err,
        )
    if not args.retrain:
        return fleet, None, None
    if fleet.drift.decision != RETRAIN:
        return fleet, None, RetrainNotRun(skipped=f"no retraining triggered ({fleet.drift.decision})")
    job = RetrainJob(
        "live",
        api_url=api_url,
        min_gain=args.min_gain,
        registry=args.registry,
        registry_location=args.registry_location,
        command=args.retrain_cmd,
    )
    try:
        return fleet, None, run_retrain(job)
    except RetrainError as exc:
        print(f"streamflow-tui: retraining failed: {exc}", file=err)
        return fleet, None, RetrainNotRun(error=str(exc))


def llm_slo(snapshot: Snapshot, args) -> tuple[SloCheck, ...]:
    """--slo-goodput: the share of requests that met --slo-ttft and --slo-itl (from the engine's histograms)."""
    limit = getattr(args, "slo_goodput", None)
    if limit is None:
        return ()
    share = goodput_share(snapshot.llm, getattr(args, "slo_ttft", None), getattr(args, "slo_itl", None))
    return (SloCheck("goodput", limit, share, minimum=True, source="histograms" if share is not None else None),)


def exit_code(
    snapshot: Snapshot, slo: tuple[SloCheck, ...], *, drift=None, drift_asked: bool = False, fail_on_drift: bool = False
) -> int:
    target = snapshot.prometheus if snapshot.source == "prometheus" else snapshot.api
    if not target.up or target.error or (snapshot.source == "prometheus" and not snapshot.api.up):
        return EXIT_UNREADABLE
    if drift_asked and drift is None:
        return EXIT_UNREADABLE
    if fail_on_drift and drift is not None and drift.decision == RETRAIN:
        return EXIT_DRIFT
    if any(c.breached for c in slo):
        return EXIT_SLO
    return EXIT_OK


def run(args, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        names = metric_names(args)
    except ValueError as exc:
        print(f"streamflow-tui: {exc}", file=err)
        return EXIT_USAGE
    drift = None
    with ExitStack() as stack:
        try:
            snapshot, api_url = take_snapshot(args, names, stack)
        except EmbeddedApiError as exc:
            print(f"streamflow-tui: cannot start the embedded API: {exc}", file=err)
            return EXIT_UNREADABLE
        drift_error = retrained = fleet = None
        if args.drift and args.prometheus_url and args.drift[1] == "live":
            fleet, drift_error, retrained = run_fleet_drift(args, snapshot, api_url, err)
            drift = fleet.drift if fleet is not None else None
        elif args.drift:
            drift, drift_error, retrained = run_drift(
                args, api_url, err
            )  # while an embedded API still serves its live rows
    slo = slo_checks(snapshot, p95=args.slo_p95, error_ratio=args.slo_error_ratio, min_auc=args.slo_min_auc)
    slo += llm_slo(snapshot, args)
    if args.json:
        shown = fleet or drift
        drift_doc = shown.to_json() if shown else ({"error": drift_error} if drift_error else None)
        document = to_json(snapshot, slo, drift_doc)
        if snapshot.llm is not None:  # with goodput against the objectives given
            document["llm"] = llm_json(snapshot.llm, getattr(args, "slo_ttft", None), getattr(args, "slo_itl", None))
        if args.retrain:
            document["retrain"] = retrained.to_json() if retrained is not None else None
        json.dump(document, out, indent=2, allow_nan=False)
        out.write("\n")
    else:
        out.write(render_text(snapshot, slo))
        if snapshot.llm is not None:
            out.write(render_llm(snapshot.llm, getattr(args, "slo_ttft", None), getattr(args, "slo_itl", None)))
        if drift is not None:
            out.write(render_drift(drift))
            if fleet is not None:
                out.write(
                    f"{'':<11} source prometheus: {fleet.replicas} replica(s), window {fleet.window_seconds:g} s\n"
                )
        elif drift_error:
            out.write(f"\n{'drift':<11} check failed: {drift_error}\n")
        if retrained is not None:
            out.write(render_retrain(retrained))
    if isinstance(retrained, RetrainNotRun) and retrained.error:
        return EXIT_UNREADABLE  # the retraining was asked for and could not run: a failure, as in streamflow-retrain
    return exit_code(snapshot, slo, drift=drift, drift_asked=bool(args.drift), fail_on_drift=args.fail_on_drift)


def render_retrain(d: RetrainDecision | RetrainNotRun) -> str:
    if isinstance(d, RetrainNotRun):
        return f"{'retrain':<11} {d.skipped or 'failed: ' + str(d.error)}\n"
    old, new = d.champion.metrics, d.challenger.metrics
    return (
        f"{'retrain':<11} {d.decision}: {d.reason}\n"
        f"{'':<11} log loss {num(old.log_loss, '{:.4f}')} → {num(new.log_loss, '{:.4f}')},"
        f" ROC AUC {num(old.roc_auc, '{:.4f}')} → {num(new.roc_auc, '{:.4f}')}"
        f" ({d.data.holdout_rows:,} held-out rows); serving {d.serving}\n"
    )


# -- text rendering -----------------------------------------------------------------


def _up(up: bool | None) -> str:
    return {True: "UP", False: "DOWN", None: "–"}[up]


def bars(buckets: tuple[Bucket, ...], width: int = 30) -> list[str]:
    """Plain-text bars for the buckets between the first and the last that saw observations."""
    rows = histogram_rows(buckets, width)
    if not rows:
        return ["  (no observations)"]
    return [f"  {r.label:>12}  {'█' * r.length:<{width}}  {r.count}" for r in rows]


def render_drift(d) -> str:
    share = f"{d.drifted_columns}/{d.total_columns} columns drifted (share {d.drift_share:.2f} {'≥' if d.drift_share >= d.threshold else '<'} {d.threshold:.2f})"
    lines = ["", f"{'drift':<11} {d.reference} → {d.current}   {share}   {d.decision}"]
    if d.target_drift is not None:
        label = (
            "–"
            if d.label_test is None
            else (
                f"{'yes' if d.label_drift else 'no'} ({d.label_test.stattest} {num(d.label_test.score, '{:.3g}')} vs {d.label_test.threshold:g})"
            )
        )
        lines.append(
            f"{'':<11} target drift {d.target_drift:.3f} (churn {pct(d.churn_rate_reference)} → {pct(d.churn_rate_current)}), label drift: {label}"
        )
    else:
        lines.append(
            f"{'':<11} target drift – (no churn_label in {'both datasets' if d.current != 'live' else 'live data'})"
        )
    lines.append(f"  {'column':<31} {'type':<5} {'test':<14} {'score':>9} {'threshold':>10}  drifted")
    for c in d.columns:
        lines.append(
            f"  {c.column:<31} {c.type:<5} {c.stattest:<14} {num(c.score, '{:.4g}'):>9} {c.threshold:>10g}  {'DRIFT' if c.drifted else '-'}"
        )
    if d.report_html or d.report_json:
        lines.append(f"{'reports':<11} {d.report_html or '–'}\n{'':<11} {d.report_json or '–'}")
    return "\n".join(lines) + "\n"


def render_performance(p) -> str:
    def scores(x) -> str:
        return f"AUC {num(x.roc_auc, '{:.3f}')}  precision {pct(x.precision)}  recall {pct(x.recall)}  accuracy {pct(x.accuracy)}"

    realized = scores(p.realized) if p.realized else f"– ({p.realized_reason or 'no labels yet'})"
    line = f"{'quality':<11} realised {realized}   labels {num(p.labels, '{:,.0f}')} ({pct(p.coverage)} of predictions, {p.window})"
    if p.estimated:
        line += f"\n{'':<11} estimated {scores(p.estimated)}   ({p.assumption})"
    elif p.estimated_reason:
        line += f"\n{'':<11} estimated – ({p.estimated_reason})"
    return line


def render_text(s: Snapshot, slo: tuple[SloCheck, ...] = ()) -> str:
    fallback = " (fallback: Prometheus unavailable)" if s.source == "scrape" and s.prometheus.up is False else ""
    interval = f" ({s.scrape_interval_s:g} s scrapes)" if s.scrape_interval_s else ""
    lines = [
        f"StreamFlow snapshot {s.taken_at:%Y-%m-%d %H:%M:%S} UTC · source {s.source}{fallback} · window {s.window_seconds:g} s{interval}"
    ]
    for name, t in (("api", s.api), ("prometheus", s.prometheus)):
        if t.url or t.error:
            lines.append(f"{name:<11} {t.url or '–'}  {_up(t.up)}" + (f"  ! {t.error}" if t.error else ""))
    r, lat = s.requests, s.latency
    errors = pct(r.error_ratio) if s.metrics is None or s.metrics.errors_known else "– (not counted by the target)"
    lines.append(f"{'requests':<11} total {num(r.total, '{:,.0f}')}   rate {num(r.rps)}/s   errors {errors}")
    peak = f"   max {ms(lat.max)}" if lat.max is not None else ""
    p50, p95, p99 = (quantile(getattr(lat, k), lat.bounds_of(k)) for k in ("p50", "p95", "p99"))
    lines.append(f"{'latency':<11} avg {ms(lat.avg)}   p50 {p50}   p95 {p95}   p99 {p99}{peak}")
    if s.counter_updates:
        lines.append(f"{'updates':<11} {s.counter_updates.note}")
    if s.model:
        m = s.model
        lines.append(
            f"{'model':<11} {m.version or '–'}  served {m.served_month or '–'}   predicted churn {pct(m.predicted_churn_rate)}"
            f"   {num(m.predictions_per_s)} predictions/s"
        )
    if s.performance:
        lines.append(render_performance(s.performance))
    for c in slo:
        shown = (
            ms(c.value)
            if c.name == "p95"
            else (num(c.value, "{:.3f}") + (f" ({c.source})" if c.source else "") if c.minimum else pct(c.value))
        )
        limit = ms(c.limit) if c.name == "p95" else (f"{c.limit:.3f}" if c.minimum else pct(c.limit))
        verdict = {True: "BREACHED", False: "ok", None: "no data"}[c.breached]
        lines.append(f"{'slo ' + c.name:<11} {shown} (limit {limit})  {verdict}")
    if r.by_series:
        models = any(x.model for x in r.by_series)
        instances = any(x.instance for x in r.by_series)
        head = (
            f"  {'endpoint':<22} "
            + (f"{'model':<18} " if models else "")
            + f"{'status':<8} {'code':<5} {'total':>10} {'req/s':>9}"
        )
        lines += ["", head + ("  instance" if instances else "")]
        for x in r.by_series:
            row = f"  {x.endpoint[:22] or '–':<22} " + (f"{(x.model or '–')[:18]:<18} " if models else "")
            row += f"{x.status or '–':<8} {x.code[:5] or '–':<5} {num(x.total, '{:,.0f}'):>10} {num(x.rps):>9}"
            lines.append(row + (f"  {x.instance}" if x.instance else ""))
    if s.latency_histogram:
        lines += ["", "  latency histogram" + (" (window)" if s.window_seconds else " (since start)")]
        lines += bars(s.latency_histogram)
    if s.metrics:
        what = s.metrics.family or "–"
        lines += [
            "",
            f"metrics: {what}" + (f" (preset {s.metrics.preset})" if s.metrics.preset else "") + f" — {s.metrics.note}",
        ]
    return "\n".join(lines) + "\n"
