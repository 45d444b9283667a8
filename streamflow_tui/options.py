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
