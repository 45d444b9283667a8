"""``streamflow-tui``: the StreamFlow console; ``--once`` takes one snapshot for scripts.

Only argparse is imported here: the ``--once`` path must start fast and never
import Textual, pandas or Evidently.
"""

from __future__ import annotations

import argparse
import sys

from streamflow_data.pipes import quiet_on_broken_pipe

from .arguments import build_parser, check_drift_flags, check_mode_flags, named
from .options import connection_options, console_config, excluded_endpoints, metric_names


def main(argv: list[str] | None = None) -> int:
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.prometheus_url and args.once and args.window <= 0:
        parser.error("--prometheus-url needs a --window greater than 0")
    if args.slo_error_ratio is not None and args.slo_error_ratio > 1:
        parser.error("--slo-error-ratio is a ratio between 0 and 1")
    if args.slo_min_auc is not None and not 0 < args.slo_min_auc <= 1:
        parser.error("--slo-min-auc is an AUC between 0 and 1")
    if args.slo_goodput is not None and (args.slo_goodput > 1 or (args.slo_ttft is None and args.slo_itl is None)):
        parser.error("--slo-goodput is a share between 0 and 1, of requests within --slo-ttft and/or --slo-itl")
    if args.threshold <= 0 or args.threshold > 1:
        parser.error("--threshold is a share of columns between 0 and 1")
    check_drift_flags(args, parser)
    check_mode_flags(args, parser)
    if args.interval <= 0:
        parser.error("--interval must be greater than 0")
    if args.drift_every is not None and args.drift_every <= 0:
        parser.error("--drift-every must be greater than 0 seconds")
    if args.drift_false_alarms is not None:
        from .core.drift_alarms import AlarmError, FalseAlarmBudget

        try:
            FalseAlarmBudget.parse(args.drift_false_alarms)
        except AlarmError as exc:
            parser.error(f"--drift-false-alarms: {exc}")
        if not args.prometheus_url and not args.replay:
            parser.error(
                "--drift-false-alarms watches the fleet's drift in the metrics backend: it needs --prometheus-url"
            )
    if not args.prometheus_url:
        given = [
            f
            for f, v in (
                ("--job", args.job),
                ("--header", args.header),
                ("--bearer-token-file", args.bearer_token_file),
                ("--bearer-token-env", args.bearer_token_env),
                ("--basic-auth", args.basic_auth),
                ("--ca-file", args.ca_file),
                ("--insecure", args.insecure),
            )
            if v
        ]
        if given:
            parser.error(
                f"{named(given, 'applies', 'apply')} to --prometheus-url; for --api-url use the --api-* forms (--api-header, …)"
            )
    args.exclude = excluded_endpoints(args.exclude_endpoint)
    from .core.embedded import named_registry

    # The registry the flags or the API's own variables name, for r / --retrain and for the embedded API.
    chosen = named_registry(args.registry, args.registry_location)
    args.registry, args.registry_location = chosen.kind, chosen.location
    try:
        args.prometheus_options, args.api_options = connection_options(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.once:
        from . import once

        return once.run(args)
    return run_console(args, parser)


def run_console(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from contextlib import ExitStack

    from .core.embedded import EmbeddedApiError, RegistryChoice, embedded_api

    try:
        names = metric_names(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.replay:
        return run_replay(args, parser, names)
    with ExitStack() as stack:
        api_url = args.api_url
        if not api_url and not args.prometheus_url:
            print("starting the bundled API on a free loopback port…", file=sys.stderr)
            try:
                api = stack.enter_context(embedded_api(registry=RegistryChoice(args.registry, args.registry_location)))
            except EmbeddedApiError as exc:
                print(f"streamflow-tui: cannot start the embedded API: {exc}", file=sys.stderr)
                return 1
            api_url, args.registry_location = api.url, api.registry.location  # r promotes where it serves from
        from .app import create_app

        config = console_config(args, api_url=api_url, names=names)
        recorder = None
        if args.record:
            from .core.recording import Recorder, RecordingError

            try:
                recorder = Recorder(
                    args.record,
                    interval=args.interval,
                    source="prometheus" if args.prometheus_url else "scrape",
                    api_url=api_url,
                )
            except RecordingError as exc:
                parser.error(str(exc))
            stack.callback(recorder.close)
        return run_app(create_app(config, handle_signals=True, recorder=recorder))


def run_replay(args: argparse.Namespace, parser: argparse.ArgumentParser, names) -> int:
    """The recording is opened before the console starts: a wrong file is a usage error (exit 2), said plainly."""
    from .app import create_app
    from .core.recording import Recording, RecordingError
    from .core.replay import Replay

    try:
        recording = Recording.open(args.replay)
    except RecordingError as exc:
        parser.error(str(exc))
    meta = recording.meta
    interval = float(meta.get("interval") or args.interval)
    # A replay shows what was recorded: its API and interval, and no live source or action.
    config = console_config(
        args, api_url=meta.get("api_url"), names=names, interval=interval, prometheus_url=None, drift_every=None
    )
    return run_app(create_app(config, replay=Replay(recording, args.history), handle_signals=True))


def run_app(app) -> int:
    """Run the console; 0 when it was quit, 1 when it crashed: Textual prints the traceback and sets the app's
    return code, which ``run()`` does not pass on (a crash used to end in status 0, as if all was well)."""
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
