"""``streamflow-load``: drive an HTTP endpoint (by default the bundled API's /predict)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from urllib.parse import urlsplit

from .config import PAYLOADS, LoadConfig, LoadConfigError

DEFAULT_URL = "http://127.0.0.1:8000"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamflow-load", description="Load an HTTP endpoint with an open or a closed model."
    )
    p.add_argument("--url", default=DEFAULT_URL, help="base URL, or a full URL with a path (default: %(default)s)")
    p.add_argument("--endpoint", default="/predict", help="path appended to a base URL (default: %(default)s)")
    model = p.add_mutually_exclusive_group()
    model.add_argument("--rate", type=float, help="open model: requests per second, in total")
    model.add_argument("--concurrency", "-c", type=int, help="closed model: workers sending back to back (default 8)")
    p.add_argument("--duration", "-z", type=float, help="seconds to run (default 10 unless --requests is given)")
    p.add_argument("--requests", "-n", type=int, help="stop after this many requests")
    p.add_argument("--ramp-up", type=float, default=0.0, help="open model: seconds to ramp from 0 to --rate")
    p.add_argument("--month", default="month_005", help="bundled month to sample users from (default: %(default)s)")
    p.add_argument(
        "--payload",
        choices=PAYLOADS,
        help="user_id: {'user_id': ...}; features: the row's features inline; "
        "none: GET (default: user_id for /predict, none otherwise)",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds (default: %(default)s)")
    p.add_argument("--max-in-flight", type=int, default=256, help="open model: cap on outstanding requests")
    p.add_argument("--processes", type=int, default=1, help="split the load over N processes and merge the histograms")
    p.add_argument("--seed", type=int, default=0, help="payload order (default: %(default)s)")
    p.add_argument(
        "--feedback-delay",
        type=float,
        metavar="S",
        help="send each answered row's true churn_label to /feedback S seconds later (needs --payload user_id)",
    )
    p.add_argument(
        "--feedback-fraction", type=float, default=1.0, metavar="F", help="…for this share of the answers (default: 1)"
    )
    p.add_argument("--json", action="store_true", help="print the streamflow.load/1 JSON report")
    p.add_argument("--no-progress", action="store_true", help="no live progress line on stderr")
    return p


def target_url(url: str, endpoint: str) -> str:
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        return url
    return url.rstrip("/") + "/" + endpoint.lstrip("/")


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    url = target_url(args.url, args.endpoint)
    payload = args.payload or ("user_id" if urlsplit(url).path.rstrip("/") == "/predict" else "none")
    if payload != "none":
        from streamflow_data import MONTHS

        if args.month not in MONTHS:
            raise LoadConfigError(f"unknown month {args.month!r}; bundled months are {', '.join(MONTHS)}")
    concurrency = args.concurrency if args.rate is None else None
    return LoadConfig(
        url=url,
        rate=args.rate,
        concurrency=8 if concurrency is None and args.rate is None else concurrency,
        duration=args.duration if args.duration is not None or args.requests is not None else 10.0,
        requests=args.requests,
        ramp_up=args.ramp_up,
        timeout=args.timeout,
        max_in_flight=args.max_in_flight,
        month=args.month,
        payload=payload,
        seed=args.seed,
        feedback_delay=args.feedback_delay,
        feedback_fraction=args.feedback_fraction,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except LoadConfigError as exc:
        parser.error(str(exc))
    if args.processes < 1:
        parser.error("--processes must be at least 1")

    from . import report
    from .engine import LoadRunner
    from .processes import run_processes

    show = not args.no_progress and sys.stderr.isatty()

    def progress(text: str) -> None:
        if show:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()

    if args.processes > 1:

        def on_progress(sent, ok, errors, rps):  # noqa: E306
            progress(f"sent {sent:,}  ok {ok:,}  err {errors:,}  {rps:,.0f} req/s  ({args.processes} processes)")

        stats = run_processes(config, args.processes, on_progress)
    else:
        # Ctrl-C sets a flag rather than raising: a KeyboardInterrupt inside Thread.join can leave the
        # join believing the engine thread ended while its requests are still in flight.
        interrupted = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
        try:
            runner = LoadRunner(config).start()
            while not runner.finished(0.25):
                if interrupted.is_set():
                    runner.stop(timeout=30)  # in-flight requests finish or are cancelled, then counted
                    break
                if show:
                    progress(report.progress_line(runner.snapshot()))
            if not interrupted.is_set():
                runner.wait()  # re-raises what ended the run, if anything did
        finally:
            signal.signal(signal.SIGINT, previous)
        stats = runner.stats
    if show:
        sys.stderr.write("\r\033[K")
    result = report.build(config, stats)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sys.stdout.write(report.render(result))
    # 1 when nothing succeeded (unreachable target, every request failing): useful in CI.
    return 1 if result["totals"]["sent"] and not result["totals"]["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
