"""The console's command line: its flags (``build_parser``) and the checks of how they combine, each a usage
error with its reason. Only argparse and the core's light modules are imported: ``--once`` starts fast."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .core.config import DEFAULTS
from .core.drift_types import DEFAULT_THRESHOLD
from .core.naming import env_variable
from .options import preset_ids


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def named(flags: list[str], one: str, many: str) -> str:
    """``--a only applies`` / ``--a, --b only apply``: the flags named, and the verb agreeing with them."""
    return f"{', '.join(flags)} {one if len(flags) == 1 else many}"


class Parser(argparse.ArgumentParser):
    """A usage error is one usage line and its reason, not the whole usage block (``--help`` shows that)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"usage: {self.prog} [options]  ({self.prog} --help lists them)\n{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="streamflow-tui", description="Watch a prediction service: traffic, latency, model output, drift.")
    p.add_argument(
        "--api-url", help="base URL of the API to watch (default: start the bundled API on a free loopback port)"
    )
    p.add_argument("--prometheus-url", help="read metrics from this Prometheus server instead of scraping the API")
    p.add_argument(
        "--job",
        help="with --prometheus-url: the scrape job of the API (its up, and only its series; default: every job)",
    )
    p.add_argument("--once", action="store_true", help="take one snapshot, print it and exit")
    p.add_argument("--json", action="store_true", help="with --once: print the streamflow.snapshot/1 JSON object")
    p.add_argument(
        "--window",
        type=_positive_float,
        default=DEFAULTS["window"],
        help="seconds to measure rates over (default: %(default)s; 0 = totals since start)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULTS["timeout"],
        help="HTTP timeout in seconds (default: %(default)s)",
    )
    p.add_argument("--interval", type=_positive_float, help="console: seconds between polls (default: 1)")
    p.add_argument("--history", type=_positive_float, help="console: seconds of history kept (default: 600)")
    p.add_argument("--export-dir", help="console: where e writes series and screenshots (default: exports)")
    p.add_argument(
        "--record",
        metavar="FILE",
        help="console: record every poll, drift result, load phase and model change to "
        "this SQLite file as it goes (appends; the last 24 h are kept; R toggles recording)",
    )
    p.add_argument(
        "--replay",
        metavar="FILE",
        help="console: play back a recording made with --record (or R): "
        "p pauses, , and . step, + and - change the speed, g jumps to a time",
    )
    p.add_argument(
        "--drift-every",
        type=_positive_float,
        metavar="S",
        help="console: check live drift against the reference every S seconds (default: off; t toggles it, at 60 s);"
        " with --prometheus-url, the fleet drift window",
    )
    p.add_argument(
        "--drift-false-alarms",
        metavar="N/DURATION",
        help="console, with --prometheus-url: per-feature drift alarms (CUSUM) allowing at most N false alarms"
        " per DURATION, e.g. 1/30d (units s m h d w)",
    )
    p.add_argument(
        "--slo-p95",
        type=_positive_float,
        metavar="SECONDS",
        help="objective for p95 latency: highlighted in the console (default 0.1 there); --once exits 4 when breached",
    )
    p.add_argument(
        "--slo-error-ratio",
        type=_positive_float,
        metavar="R",
        help="objective for the error ratio (0-1): highlighted in the console (default 0.05 there); --once exits 4",
    )
    p.add_argument(
        "--slo-min-auc",
        type=_positive_float,
        metavar="AUC",
        help="objective for the model's ROC AUC (realised, or estimated before labels): --once exits 4 below it",
    )
    p.add_argument(
        "--slo-ttft",
        type=_positive_float,
        metavar="SECONDS",
        help="LLM engines: time-to-first-token objective; goodput is the share of requests within it (and --slo-itl)",
    )
    p.add_argument(
        "--slo-itl",
        type=_positive_float,
        metavar="SECONDS",
        help="LLM engines: inter-token latency objective (per-request time per output token where that is served)",
    )
    p.add_argument(
        "--slo-goodput",
        type=_positive_float,
        metavar="SHARE",
        help="LLM engines: --once exits 4 when the goodput (0-1) against --slo-ttft/--slo-itl falls below it",
    )
    p.add_argument(
        "--registry",
        choices=("local", "mlflow"),
        help="model registry that r / --retrain register to and the embedded API serves"
        f" (default: $STREAMFLOW_API_REGISTRY or {DEFAULTS['registry']}, as the API)",
    )
    p.add_argument(
        "--registry-location",
        metavar="DIR|URI",
        help="local: registry directory (default: $STREAMFLOW_API_REGISTRY_LOCATION; else with --api-url"
        " <cache>/streamflow/registry, and without it the embedded API's own, removed on exit); mlflow: tracking URI"
        " (default: $STREAMFLOW_API_REGISTRY_LOCATION or $MLFLOW_TRACKING_URI)",
    )
    p.add_argument(
        "--min-gain",
        type=_positive_float,
        default=DEFAULTS["min_gain"],
        help="relative log-loss gain a retrained model needs to be promoted (default: %(default)s)",
    )
    p.add_argument(
        "--retrain-cmd",
        metavar="CMD",
        help="what r and --retrain run: a command that prints a streamflow.retrain/1 decision (docs/schemas/);"
        " {data}, {api_url}, {min_gain}, {registry}, {registry_location} are filled in"
        " (default: streamflow-retrain --data {data} --min-gain {min_gain} --registry {registry} …)",
    )
    p.add_argument(
        "--performance-window",
        type=_positive_float,
        default=DEFAULTS["performance_window"],
        metavar="S",
        help="model quality over the last S seconds: the labels that arrived and the predictions made in them"
        " (default: 0 = since the API started)",
    )
    drift = p.add_argument_group("drift (with --once)")
    drift.add_argument(
        "--drift",
        nargs=2,
        metavar=("REF", "CUR"),
        help="compare two datasets: month_XXX, a .csv/.parquet file, or live",
    )
    drift.add_argument(
        "--threshold",
        type=_positive_float,
        default=DEFAULT_THRESHOLD,
        help="drift share that triggers retraining (default: %(default)s)",
    )
    drift.add_argument("--fail-on-drift", action="store_true", help="exit 3 when retraining is triggered")
    drift.add_argument(
        "--retrain",
        action="store_true",
        help="when retraining is triggered, retrain on CUR and promote or keep the champion (streamflow-retrain)",
    )
    drift.add_argument(
        "--reports-dir",
        default=DEFAULTS["reports_dir"],
        help="where the HTML and JSON reports go (default: %(default)s)",
    )
    drift.add_argument("--num-stattest", help="Evidently stat test for numeric columns (default: Evidently's choice)")
    drift.add_argument("--cat-stattest", help="Evidently stat test for categorical columns")
    drift.add_argument("--num-threshold", type=_positive_float, help="threshold of the numeric stat test")
    drift.add_argument("--cat-threshold", type=_positive_float, help="threshold of the categorical stat test")
    drift.add_argument(
        "--column-stattest",
        action="append",
        default=[],
        metavar="COLUMN=TEST",
        help="per-column stat test (repeatable)",
    )
    drift.add_argument(
        "--column-threshold", action="append", default=[], metavar="COLUMN=T", help="per-column threshold (repeatable)"
    )
    conn = p.add_argument_group("connections (secrets come from files or environment variables, never from flags)")
    conn.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra header for --prometheus-url, e.g. X-Scope-OrgID=tenant-1 (repeatable)",
    )
    conn.add_argument(
        "--bearer-token-file", metavar="FILE", help="--prometheus-url: send the token in FILE as a bearer token"
    )
    conn.add_argument(
        "--bearer-token-env", metavar="VAR", help="--prometheus-url: send the token in environment variable VAR"
    )
    conn.add_argument(
        "--basic-auth",
        metavar="USER",
        help="--prometheus-url: basic auth as USER, password from $STREAMFLOW_PROMETHEUS_PASSWORD",
    )
    conn.add_argument("--ca-file", metavar="PEM", help="--prometheus-url: trust this CA bundle")
    conn.add_argument("--insecure", action="store_true", help="--prometheus-url: do not verify its TLS certificate")
    conn.add_argument(
        "--api-header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra header for --api-url (repeatable)",
    )
    conn.add_argument(
        "--api-bearer-token-file", metavar="FILE", help="--api-url: send the token in FILE as a bearer token"
    )
    conn.add_argument(
        "--api-bearer-token-env", metavar="VAR", help="--api-url: send the token in environment variable VAR"
    )
    conn.add_argument(
        "--api-basic-auth", metavar="USER", help="--api-url: basic auth as USER, password from $STREAMFLOW_API_PASSWORD"
    )
    conn.add_argument("--api-ca-file", metavar="PEM", help="--api-url: trust this CA bundle")
    conn.add_argument("--api-insecure", action="store_true", help="--api-url: do not verify its TLS certificate")
    names = p.add_argument_group(
        "metric names (default: the bundled API's; otherwise a recognised preset, or detected)"
    )
    names.add_argument(
        "--exclude-endpoint",
        action="append",
        metavar="GLOB",
        help="endpoints left out of every number, repeatable (default: /metrics /health /monitoring/*;"
        " an empty GLOB leaves nothing out)",
    )
    names.add_argument(
        "--preset",
        choices=preset_ids(),
        help="read the target as this model server / framework (default: recognised by its metric names)",
    )
    for flag, field in (
        ("--requests-metric", "requests"),
        ("--latency-metric", "latency"),
        ("--endpoint-label", "endpoint_label"),
        ("--status-label", "status_label"),
        ("--code-label", "code_label"),
        ("--model-label", "model_label"),
    ):
        names.add_argument(flag, help=f"(env {env_variable(field)})")
    return p


def check_drift_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Per-column overrides name a real column and, for thresholds, a number > 0 (exit 2 otherwise)."""
    from streamflow_data.schema import FEATURES, LABEL

    columns = (*FEATURES, LABEL)
    for flag, items in (("--column-stattest", args.column_stattest), ("--column-threshold", args.column_threshold)):
        for item in items:
            column, sep, value = item.partition("=")
            if not sep or not value:
                parser.error(f"{flag}: expected COLUMN=VALUE, got {item!r}")
            if column not in columns:
                parser.error(f"{flag}: unknown column {column!r} (columns: {', '.join(columns)})")
            if flag == "--column-threshold":
                try:
                    number = float(value)
                except ValueError:
                    parser.error(f"{flag}: {value!r} is not a number (in {item!r})")
                if not number > 0 or number == float("inf"):
                    parser.error(f"{flag}: the threshold must be a number > 0, got {value} (in {item!r})")
    for flag in ("num_threshold", "cat_threshold"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be greater than 0")


CONSOLE_ONLY = {
    "interval": 1.0,
    "history": 600.0,
    "export_dir": "exports",
    "drift_every": None,
    "drift_false_alarms": None,
    "record": None,
    "replay": None,
}
ONCE_ONLY = ("json", "drift", "fail_on_drift")


def check_mode_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """A flag that does nothing in the chosen mode is a usage error, not silently ignored."""
    if args.once:
        given = [f"--{k.replace('_', '-')}" for k in CONSOLE_ONLY if getattr(args, k) is not None]
        if given:
            parser.error(f"{named(given, 'only applies', 'only apply')} to the console, not to --once")
    else:
        given = [f"--{k.replace('_', '-')}" for k in ONCE_ONLY if getattr(args, k)]
        drift_options = [
            f
            for f, v in (
                ("--num-stattest", args.num_stattest),
                ("--cat-stattest", args.cat_stattest),
                ("--num-threshold", args.num_threshold),
                ("--cat-threshold", args.cat_threshold),
                ("--column-stattest", args.column_stattest),
                ("--column-threshold", args.column_threshold),
            )
            if v
        ]
        if given or drift_options:
            parser.error(
                f"{named(given + drift_options, 'only applies', 'only apply')} with --once (the console picks drift settings in its Drift view)"
            )
    if args.fail_on_drift and not args.drift:
        parser.error("--fail-on-drift needs --drift REF CUR")
    if args.retrain and not (args.once and args.drift):
        parser.error("--retrain goes with --once --drift REF CUR (in the console, r retrains after a drift check)")
    if not 0 <= args.min_gain < 1:
        parser.error("--min-gain is a relative log-loss gain in [0, 1), e.g. 0.03 for 3 %")
    if not args.drift and args.once:
        unused = [
            f
            for f, v in (
                ("--num-stattest", args.num_stattest),
                ("--cat-stattest", args.cat_stattest),
                ("--column-stattest", args.column_stattest),
                ("--column-threshold", args.column_threshold),
            )
            if v
        ]
        if unused:
            parser.error(f"{named(unused, 'needs', 'need')} --drift REF CUR")
    for key, default in CONSOLE_ONLY.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    if args.performance_window > 0:
        if args.once and not args.prometheus_url:
            parser.error(
                "--performance-window with --once needs --prometheus-url: one scrape has no history to take an increase over"
            )
        if not args.once and not args.prometheus_url and args.history < args.performance_window:
            parser.error(
                f"--history ({args.history:g} s) is shorter than --performance-window ({args.performance_window:g} s):"
                " the console keeps only that much history of the label counts; raise --history"
            )
    if args.replay is not None:
        live = [
            f
            for f, v in (
                ("--api-url", args.api_url),
                ("--prometheus-url", args.prometheus_url),
                ("--record", args.record),
                ("--drift-every", args.drift_every),
                ("--drift-false-alarms", args.drift_false_alarms),
            )
            if v
        ]
        if live:
            parser.error(f"{named(live, 'watches', 'watch')} a live service; --replay plays a recording back")
    if not args.once and args.history < args.window:
        parser.error(
            f"--history ({args.history:g} s) is shorter than --window ({args.window:g} s): rates over the window"
            " need that much history; raise --history or lower --window"
        )
