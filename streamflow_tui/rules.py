"""Prometheus recording and alerting rules for fleet drift, the SLOs and the AUC floor (#28): alerts with no
console running.

    python -m streamflow_tui.rules [-o deploy/prometheus/rules.yml] [--window 10m] [--reference month_000]
                                   [--slo-p95 0.1] [--slo-error-ratio 0.05] [--auc-floor 0.7] [--share 0.3]

Drift is computed in PromQL from the API's feature-bin counters (api/feature_bins.py) over the window, summed over
replicas: Jensen–Shannon for categorical features, generic; the normed Wasserstein distance for numeric ones as
Σ weight(le) · |F_ref(le) − F_cur(le)| / std + the exact part outside the reference's range, where the weights
come from the reference's bin edges and are written into the rules, labelled with the model version
(``core/binned_drift.wasserstein_weights``). A new champion with other edges needs the rules written again:
``StreamflowDriftRulesStale`` fires until they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from .core.binned_drift import THRESHOLD, wasserstein_weights
from .core.drift import DEFAULT_THRESHOLD

# The API's probability buckets (api/metrics.py), spelled as prometheus-client exposes them ("0.01" … "1.0").
PROBABILITY_LES = tuple(floatToGoString(round(0.01 * i, 2)) for i in range(1, 101))
HEADER = "# Written by `python -m streamflow_tui.rules` (#28); edit the command's flags, not this file.\n"


def counted(selector: str, window: str) -> str:
    """A counter's exact growth over the window, as core/fleet_drift.py counts it."""
    return f"(({selector} - {selector} offset {window}) >= 0 or {selector})"


def _const(value: float, **labels: str) -> str:
    expr = f"vector({value!r})"
    for name, text in labels.items():
        expr = f'label_replace({expr}, "{name}", "{text}", "", "")'
    return expr


def api_rules() -> list[dict[str, Any]]:
    """The dashboard's and the console's common queries (1m windows), as deploy/prometheus/rules.yml had them."""
    return [
        {
            "record": "endpoint_status_code:api_requests:rate1m",
            "expr": "sum by (endpoint, status, code) (rate(api_requests_total[1m]))",
        },
        {"record": "instance:api_requests:rate1m", "expr": "sum by (instance) (rate(api_requests_total[1m]))"},
        {
            "record": "job:api_requests_errors:ratio_rate1m",
            "expr": 'sum(rate(api_requests_total{status="error"}[1m])) / sum(rate(api_requests_total[1m]))',
        },
        {
            "record": "le:api_request_latency_seconds_bucket:rate1m",
            "expr": "sum by (le) (rate(api_request_latency_seconds_bucket[1m]))",
        },
        {
            "record": "job:api_request_latency_seconds:p95_1m",
            "expr": "histogram_quantile(0.95, sum by (le) (rate(api_request_latency_seconds_bucket[1m])))",
        },
        {
            "record": "job:api_predicted_churn:ratio_rate1m",
            "expr": 'sum(rate(api_predictions_total{predicted_class="1"}[1m])) / sum(rate(api_predictions_total[1m]))',
        },
    ]


def drift_rules(window: str, layouts: list[Any]) -> list[dict[str, Any]]:
    """Per-feature drift scores over ``window``, summed over replicas, and the share of drifted features."""
    w = f"w{window}"
    q_cat = f"version_feature_category:api_feature_categories:share_{w}"
    p_cat = "version_feature_category:api_reference_feature_categories:share"
    m_cat = f"version_feature_category:api_feature_categories:mid_{w}"
    q_cdf = f"version_feature_le:api_feature_values:cdf_{w}"
    p_cdf = "version_feature_le:api_reference_feature_values:cdf"
    weights = "version_feature_le:api_feature_wasserstein:weight"
    score = f"version_feature:api_feature_drift:{w}"
    live_cat = f"sum by (version, feature, category) ({counted('api_feature_categories_total', window)})"
    live_val = f"sum by (version, feature, le) ({counted('api_feature_values_total', window)})"
    all_values = 'api_feature_values_total{le="+Inf"}'
    present = f"sum by (version, feature) ({counted(all_values, window)})"
    ref_cat = "max by (version, feature, category) (api_reference_feature_categories)"
    ref_val = "max by (version, feature, le) (api_reference_feature_values)"
    ref_total = 'max by (version, feature) (api_reference_feature_values{le="+Inf"})'
    outside = f"sum by (version, feature) ({counted('api_feature_outside_total', window)})"
    std = "clamp_min(max by (version, feature) (api_reference_feature_std), 0.001)"
    # One constant series per (version, feature, edge): the edges are fixed per version.
    terms = [
        _const(weight, version=layout.version, feature=b.name, le=_le(edge))
        for layout in layouts
        for b in layout.numeric
        for edge, weight in zip(b.edges, wasserstein_weights(b.edges, b.integral))
    ]
    return [
        {"record": f"version:api_feature_rows:{w}", "expr": f"max by (version) ({present})"},
        {
            "record": q_cat,
            "expr": f"{live_cat} / on (version, feature) group_left sum by (version, feature) ({live_cat})",
        },
        {
            "record": p_cat,
            "expr": f"{ref_cat} / on (version, feature) group_left sum by (version, feature) ({ref_cat})",
        },
        {"record": m_cat, "expr": f"({q_cat} + {p_cat}) / 2"},
        {
            "record": score,
            "expr": f"sqrt((sum by (version, feature) (({p_cat} > 0) * ln(({p_cat} > 0) / {m_cat}))"
            f" + sum by (version, feature) (({q_cat} > 0) * ln(({q_cat} > 0) / {m_cat}))) / 2)",
            "labels": {"test": "jensenshannon"},
        },
        {"record": q_cdf, "expr": f"{live_val} / on (version, feature) group_left {present}"},
        {"record": p_cdf, "expr": f"{ref_val} / on (version, feature) group_left {ref_total}"},
        {"record": weights, "expr": " or ".join(terms) if terms else "vector(0) < 0"},
        {
            "record": score,
            "expr": f"(sum by (version, feature) (abs({q_cdf} - {p_cdf}) * on (version, feature, le) {weights})"
            f" + {outside} / {present}) / {std}",
            "labels": {"test": "wasserstein"},
        },
        {
            "record": f"version:api_feature_drift_share:{w}",
            "expr": f"(count by (version) ({score} >= {THRESHOLD}) or count by (version) ({score}) * 0)"
            f" / count by (version) ({score})",
        },
    ]


def auc_rules(window: str) -> list[dict[str, Any]]:
    """Realised ROC AUC of labelled predictions over the window: binned Mann–Whitney on the 0.01-wide buckets
    (docs/PERFORMANCE.md), each bucket paired with the one below it by a generated ``label_replace``."""
    w = f"w{window}"
    buckets = f"actual_le:api_labelled_probability_bucket:{w}"
    below = f"actual_le:api_labelled_probability_bucket:below_{w}"
    shifted = [f'{buckets}{{le="{PROBABILITY_LES[0]}"}} * 0']
    shifted += [
        f'label_replace({buckets}{{le="{lower}"}}, "le", "{upper}", "", "")'
        for lower, upper in zip(PROBABILITY_LES, PROBABILITY_LES[1:])
    ]
    pos = f'({buckets}{{actual="1"}} - {below}{{actual="1"}})'
    neg_mid = f'({buckets}{{actual="0"}} + {below}{{actual="0"}}) / 2'
    totals = f'sum({buckets}{{actual="1",le="+Inf"}}) * sum({buckets}{{actual="0",le="+Inf"}})'
    return [
        {
            "record": buckets,
            "expr": f"sum by (actual, le) ({counted('api_labelled_probability_bucket', window)})",
        },
        {"record": below, "expr": " or ".join(shifted)},
        {
            "record": f"job:api_roc_auc:{w}",
            "expr": f"sum({pos} * ignoring (actual) {neg_mid}) / ({totals})",
        },
    ]


def alerts(args: argparse.Namespace) -> list[dict[str, Any]]:
    w = f"w{args.window}"
    enough = f"and on (version) version:api_feature_rows:{w} >= 30"
    return [
        {
            "alert": "StreamflowFeatureDrift",
            "expr": f"version_feature:api_feature_drift:{w} >= {THRESHOLD} {enough}",
            "for": args.alert_for,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": '{{ $labels.feature }} drifted ({{ $labels.test }} {{ $value | printf "%.3f" }} >= '
                f"{THRESHOLD}) over the last {args.window}, fleet-wide",
            },
        },
        {
            "alert": "StreamflowRetrainingTriggered",
            "expr": f"version:api_feature_drift_share:{w} >= {args.share} {enough}",
            "for": args.alert_for,
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $value | humanizePercentage }} of the features drifted over the last "
                f"{args.window} (>= {args.share:g}): RETRAINING_TRIGGERED",
            },
        },
        {
            "alert": "StreamflowDriftRulesStale",
            "expr": "max by (version) (api_model_info == 1) unless on (version) "
            "group by (version) (version_feature_le:api_feature_wasserstein:weight)",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "model {{ $labels.version }} has no drift rules: run python -m streamflow_tui.rules again"
            },
        },
        {
            "alert": "StreamflowLatencyP95AboveSLO",
            "expr": f"job:api_request_latency_seconds:p95_1m > {args.slo_p95:g}",
            "for": args.alert_for,
            "labels": {"severity": "warning"},
            "annotations": {"summary": f"p95 latency {{{{ $value | humanizeDuration }}}} > SLO {args.slo_p95:g} s"},
        },
        {
            "alert": "StreamflowErrorRatioAboveSLO",
            "expr": f"job:api_requests_errors:ratio_rate1m > {args.slo_error_ratio:g}",
            "for": args.alert_for,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"error ratio {{{{ $value | humanizePercentage }}}} > SLO {args.slo_error_ratio:g}"
            },
        },
        {
            "alert": "StreamflowAucBelowFloor",
            "expr": f"job:api_roc_auc:w{args.auc_window} < {args.auc_floor:g}",
            "for": args.alert_for,
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f'realised ROC AUC {{{{ $value | printf "%.3f" }}}} < floor {args.auc_floor:g}'
                f" over the last {args.auc_window}"
            },
        },
    ]


def rules(args: argparse.Namespace) -> dict[str, Any]:
    from api.feature_bins import reference_layout
    from api.model import model_version

    layouts = []
    for month in args.reference:
        layout = reference_layout(month, model_version(month))
        if layout is None:
            raise SystemExit(f"error: --reference {month}: not a bundled month")
        layouts.append(layout)
    return {
        "groups": [
            {"name": "streamflow-api", "interval": args.interval, "rules": api_rules()},
            {"name": "streamflow-drift", "interval": args.interval, "rules": drift_rules(args.window, layouts)},
            {"name": "streamflow-auc", "interval": args.interval, "rules": auc_rules(args.auc_window)},
            {"name": "streamflow-alerts", "interval": args.interval, "rules": alerts(args)},
        ]
    }


def _le(edge: float) -> str:
    return floatToGoString(edge)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m streamflow_tui.rules", description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", help="write here (default: stdout)")
    p.add_argument("--window", default="10m", help="drift window (a Prometheus duration)")
    p.add_argument("--reference", nargs="+", default=["month_000"], help="training months of the served models")
    p.add_argument("--interval", default="5s", help="rule evaluation interval")
    p.add_argument("--alert-for", default="5m", help="how long a condition holds before the alert fires")
    p.add_argument("--share", type=float, default=DEFAULT_THRESHOLD, help="drift share that triggers retraining")
    p.add_argument("--slo-p95", type=float, default=0.1, help="p95 latency SLO, seconds")
    p.add_argument("--slo-error-ratio", type=float, default=0.05)
    p.add_argument("--auc-floor", type=float, default=0.7)
    p.add_argument("--auc-window", default="1d", help="labels arrive late: AUC over a long window")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    text = HEADER + yaml.safe_dump(rules(args), sort_keys=False, width=10_000)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
