"""The command line's flags as the core's typed objects: metric names, connection options, exclusions.

Shared by the console (``cli``) and ``--once``, so both read a flag the same way. Only argparse's
Namespace comes in; nothing here parses or prints.
"""

from __future__ import annotations

import argparse


def preset_ids() -> list[str]:
    from .core.presets import PRESETS

    return sorted(PRESETS)


def excluded_endpoints(given: list[str] | None) -> tuple[str, ...]:
    from .core.naming import DEFAULT_EXCLUDED

    if given is None:
        return DEFAULT_EXCLUDED
    return tuple(g for g in given if g)


def metric_names(args: argparse.Namespace):
    """The metric-name flags over the STREAMFLOW_* environment; ValueError names a bad one."""
    from .core.naming import MetricNames

    return MetricNames.from_env(
        requests=args.requests_metric,
        latency=args.latency_metric,
        endpoint_label=args.endpoint_label,
        status_label=args.status_label,
        code_label=args.code_label,
        model_label=args.model_label,
    )


def connection_options(args: argparse.Namespace):
    """(Prometheus options, API options) from the flags; ValueError names a bad one."""
    from .core.connection import ConnectionOptions

    prometheus = ConnectionOptions(
        headers=ConnectionOptions.parse_headers(args.header),
        bearer_token_file=args.bearer_token_file,
        bearer_token_env=args.bearer_token_env,
        basic_auth_user=args.basic_auth,
        basic_auth_password_env="STREAMFLOW_PROMETHEUS_PASSWORD",
        ca_file=args.ca_file,
        insecure=args.insecure,
    )
    api = ConnectionOptions(
        headers=ConnectionOptions.parse_headers(args.api_header),
        bearer_token_file=args.api_bearer_token_file,
        bearer_token_env=args.api_bearer_token_env,
        basic_auth_user=args.api_basic_auth,
        basic_auth_password_env="STREAMFLOW_API_PASSWORD",
        ca_file=args.api_ca_file,
        insecure=args.api_insecure,
    )
    for options in (prometheus, api):
        options.client_kwargs()  # a missing token file or CA bundle is a usage error now, not a banner later
    return prometheus, api


# The flags that are ConsoleConfig's fields by the same name, given or left to the config's own default.
_CONFIG_FLAGS = (
    "prometheus_url",
    "interval",
    "history",
    "reports_dir",
    "export_dir",
    "slo_p95",
    "slo_error_ratio",
    "preset",
    "timeout",
    "prometheus_options",
    "api_options",
    "exclude",
    "job",
    "drift_every",
    "drift_false_alarms",
    "performance_window",
    "registry",
    "registry_location",
    "min_gain",
    "retrain_cmd",
)


def console_config(args: argparse.Namespace, *, api_url: str | None, names, **overrides):
    """The one ConsoleConfig the console, a replay and ``--once`` are built from: each flag given, else
    ConsoleConfig's own default (written once, in core/config.py)."""
    from .core.config import ConsoleConfig

    given = {name: value for name in _CONFIG_FLAGS if (value := getattr(args, name, None)) is not None}
    if getattr(args, "window", 0) > 0:  # --window 0 is --once's "since the start": the console keeps its default
        given["window"] = args.window
    if getattr(args, "record", None):
        given["record_path"] = args.record
    return ConsoleConfig(api_url=api_url, names=names, **{**given, **overrides})
