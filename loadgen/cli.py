"""``streamflow-load``: drive an HTTP endpoint (by default the bundled API's /predict)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from streamflow_data.pipes import quiet_on_broken_pipe

from .config import PAYLOADS, LoadConfig, LoadConfigError
from .prompts import DEFAULT_API, DEFAULT_MAX_TOKENS, DEFAULT_PROMPT_TOKENS, ENDPOINTS, STREAM_TIMEOUT_S

DEFAULT_URL = "http://127.0.0.1:8000"
CHECKPOINT_S = 2.0  # --output: the result file is rewritten (partial) this often while the run goes on


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamflow-load",
        description="Load an HTTP endpoint with an open or a closed model.",
        epilog="streamflow-load merge FILE… [--json] [--allow-missing]: merge segments' --output files into one report.",
    )
    p.add_argument("--url", default=DEFAULT_URL, help="base URL, or a full URL with a path (default: %(default)s)")
    p.add_argument(
        "--endpoint",
        help="path appended to a base URL (default: /predict; with --stream /v1/chat/completions)",
    )
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
    p.add_argument("--timeout", type=float, help="per-request timeout in seconds (default: 10; with --stream 60)")
    p.add_argument("--max-in-flight", type=int, default=256, help="open model: cap on outstanding requests")
    p.add_argument(
        "--processes", type=int, default=1, metavar="N", help="run the load as N segments in N local processes, merged"
    )
    p.add_argument("--seed", type=int, default=0, help="payload order (default: %(default)s)")
    p.add_argument(
        "--feedback-delay",
        type=float,
        metavar="S",
        help="send each answered row's true churn_label to /feedback S seconds later, joined to the prediction_id"
        " of its answer (needs a payload of rows: user_id or features)",
    )
    p.add_argument(
        "--feedback-fraction", type=float, default=1.0, metavar="F", help="…for this share of the answers (default: 1)"
    )
    seg = p.add_argument_group("segments (one run over many processes or machines; merge with `streamflow-load merge`)")
    seg.add_argument(
        "--segment",
        metavar="i/N",
        help="run segment i (from 0) of N: every N-th send of the schedule (or 0:0.25, k6-style)",
    )
    seg.add_argument(
        "--segment-count", type=int, metavar="N", help="N segments, this one's index from $JOB_COMPLETION_INDEX"
    )
    seg.add_argument(
        "--start-at",
        type=float,
        metavar="EPOCH",
        help="start the schedule at this whole epoch second, the same for every segment "
        "(default with --segment/--output: the next whole second)",
    )
    seg.add_argument(
        "--run-id", help="what the segments of one run share (default: from the command line; $STREAMFLOW_RUN_ID)"
    )
    seg.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the result with its HDR histograms to FILE (checkpointed while running)",
    )
    seg.add_argument("--metrics-port", type=int, metavar="P", help="serve this process's client metrics on :P/metrics")
    seg.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default: %(default)s)")
    seg.add_argument(
        "--metrics-linger", type=float, default=0.0, metavar="S", help="keep serving metrics S seconds after the run"
    )
    stream = p.add_argument_group("streamed completions (OpenAI-compatible SSE: TTFT, inter-token latency, tokens/s)")
    stream.add_argument(
        "--stream", action="store_true", help="POST streamed /v1/chat/completions or /v1/completions requests"
    )
    stream.add_argument(
        "--prompts", metavar="FILE", help='JSONL, one {"prompt": ...} or {"messages": [...]} a line, sent in turn'
    )
    stream.add_argument(
        "--prompt-tokens",
        metavar="MEAN[:STDDEV]",
        help="generated prompts of about this many tokens (normal distribution; default 64 without --prompts)",
    )
    stream.add_argument(
        "--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="max_tokens of every request (default: %(default)s)"
    )
    stream.add_argument("--model", help="the model field of every request (default: none sent)")
    stream.add_argument(
        "--ignore-eos", action="store_true", help="ask for all max_tokens (vLLM's, llama.cpp's ignore_eos)"
    )
    p.add_argument("--json", action="store_true", help="print the streamflow.load/1 JSON report")
    p.add_argument("--no-progress", action="store_true", help="no live progress line on stderr")
    return p


def target_url(url: str, endpoint: str) -> str:
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        return url
    return url.rstrip("/") + "/" + endpoint.lstrip("/")


def segment_from_args(args: argparse.Namespace) -> tuple[int, int]:
    from .segments import index_from_env, parse_segment

    if args.segment is not None:
        index, count = parse_segment(args.segment)
        if args.segment_count is not None and args.segment_count != count:
            raise LoadConfigError(f"--segment {args.segment} and --segment-count {args.segment_count} disagree")
        return index, count
    if args.segment_count is not None:
        if args.segment_count < 1:
            raise LoadConfigError("--segment-count must be at least 1")
        return index_from_env(args.segment_count), args.segment_count
    return 0, 1


def stream_options(args: argparse.Namespace, url: str):
    """``--stream``'s settings (``prompts.StreamOptions``), or None; stream flags without it are refused."""
    from .prompts import PromptError, StreamOptions, api_of, parse_prompt_tokens

    if not args.stream:
        given = [f for f, v in (("--prompts", args.prompts), ("--prompt-tokens", args.prompt_tokens)) if v is not None]
        given += [f for f, v in (("--model", args.model), ("--ignore-eos", args.ignore_eos)) if v]
        if given:
            raise LoadConfigError(f"{', '.join(given)} only apply with --stream")
        return None
    if args.payload is not None or args.feedback_delay is not None:
        raise LoadConfigError("--stream sends prompts: --payload and --feedback-delay do not apply")
    try:
        mean, stddev = (None, 0.0) if args.prompt_tokens is None else parse_prompt_tokens(args.prompt_tokens)
        if mean is None and args.prompts is None:
            mean = DEFAULT_PROMPT_TOKENS
        return StreamOptions(
            api=api_of(url),
            max_tokens=args.max_tokens,
            model=args.model,
            prompts_file=args.prompts,
            prompt_tokens=mean,
            prompt_tokens_stddev=stddev,
            ignore_eos=args.ignore_eos,
        )
    except PromptError as exc:
        raise LoadConfigError(str(exc)) from None


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    url = target_url(args.url, args.endpoint or (ENDPOINTS[DEFAULT_API] if args.stream else "/predict"))
    stream = stream_options(args, url)
    payload = args.payload or ("user_id" if urlsplit(url).path.rstrip("/") == "/predict" and not stream else "none")
    if payload != "none":
        from streamflow_data import MONTHS

        if args.month not in MONTHS:
            raise LoadConfigError(f"unknown month {args.month!r}; bundled months are {', '.join(MONTHS)}")
    concurrency = args.concurrency if args.rate is None else None
    index, count = segment_from_args(args)
    start_at = None
    if args.start_at is not None or (args.processes == 1 and (count > 1 or args.output)):
        # --processes picks the common start itself, once its processes are ready (processes.py).
        from .segments import resolve_start

        start_at = resolve_start(args.start_at)
    return LoadConfig(
        segment_index=index,
        segment_count=count,
        start_at=start_at,
        url=url,
        rate=args.rate,
        concurrency=8 if concurrency is None and args.rate is None else concurrency,
        duration=args.duration if args.duration is not None or args.requests is not None else 10.0,
        requests=args.requests,
        ramp_up=args.ramp_up,
        timeout=args.timeout if args.timeout is not None else (STREAM_TIMEOUT_S if stream else 10.0),
        max_in_flight=args.max_in_flight,
        month=args.month,
        payload=payload,
        seed=args.seed,
        feedback_delay=args.feedback_delay,
        feedback_fraction=args.feedback_fraction,
        stream=stream,
    )


def main(argv: list[str] | None = None) -> int:
    return quiet_on_broken_pipe(lambda: _main(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    if argv[:1] == ["merge"]:
        from .merge import main as merge_main

        return merge_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    from .segments import SegmentError

    try:
        config = config_from_args(args)
    except (LoadConfigError, SegmentError) as exc:
        parser.error(str(exc))
    if config.payload == "user_id":
        from .preflight import check_payload_month, served_month

        try:
            check_payload_month(config, served_month(config.url))
        except LoadConfigError as exc:  # not a usage error: one line, no usage block
            print(f"streamflow-load: error: {exc}", file=sys.stderr)
            return 2
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.processes > 1 and config.segment_count > 1:
        parser.error("--processes runs the segments of one run itself: give it or --segment, not both")
    if args.metrics_port is not None and not 1 <= args.metrics_port <= 65536 - args.processes:
        parser.error(
            f"--metrics-port must leave room for {args.processes} port(s) up to 65535, got {args.metrics_port}"
            if args.processes > 1
            else f"--metrics-port must be a port number 1-65535, got {args.metrics_port}"
        )

    from . import segments

    explicit_start = args.start_at is not None
    run_id = args.run_id or os.environ.get(segments.RUN_ID_ENV) or segments.default_run_id(config, explicit_start)
    show = not args.no_progress and sys.stderr.isatty()

    def progress(text: str) -> None:
        if show:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()

    # Ctrl-C and SIGTERM (a job runner stopping the pod) set a flag rather than raising: a KeyboardInterrupt
    # inside Thread.join can leave the join believing the engine thread ended while requests are in flight.
    # The handlers stay until main returns, so a signal during the final write or the linger cannot kill it.
    stopped_by: list[str] = []
    signalled = threading.Event()

    def on_signal(signum: int, _frame) -> None:
        stopped_by.append(
            "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        )
        signalled.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run(args, config, run_id, stopped_by, signalled, progress if show else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(
    args: argparse.Namespace,
    config: LoadConfig,
    run_id: str,
    stopped_by: list[str],
    signalled: threading.Event,
    progress: Callable[[str], None] | None,
) -> int:
    from . import report, segments
    from .processes import LocalSegments, MetricsPlan, ProcessesError
    from .runner import LoadRunner

    output = args.output
    failure: Exception | None = None
    server: object | None = None  # this process's metrics server (--metrics-port)
    local: LocalSegments | None = None  # --processes
    if args.processes > 1:

        def on_progress(sent, ok, errors, rps):  # noqa: E306
            if progress:
                progress(f"sent {sent:,}  ok {ok:,}  err {errors:,}  {rps:,.0f} req/s  ({args.processes} processes)")

        plan = None
        if args.metrics_port is not None:
            plan = MetricsPlan(args.metrics_port, args.metrics_host, run_id, socket.gethostname())
        local = LocalSegments(config, args.processes, plan)
        try:
            stats = local.collect(on_progress, should_stop=lambda: bool(stopped_by))
        except ProcessesError as exc:
            local.close()
            return _usage_error(str(exc))
        config = replace(config, start_at=float(round(stats.started + stats.wall_offset)))  # the start they shared
    else:
        runner = LoadRunner(config)
        stats = runner.stats
        if args.metrics_port is not None:
            from . import metrics

            try:
                server = metrics.serve(
                    stats,
                    port=args.metrics_port,
                    host=args.metrics_host,
                    segment=f"{config.segment_index}/{config.segment_count}",
                    run_id=run_id,
                    hostname=socket.gethostname(),
                    rate=config.segment_rate,
                )
            except OSError as exc:
                return _usage_error(f"--metrics-port {args.metrics_port}: {exc}")
        runner.start()
        checkpoint = time.monotonic() + CHECKPOINT_S
        while not runner.finished(0.25):
            if stopped_by:
                runner.stop(timeout=30)  # in-flight requests finish or are cancelled, then counted
                break
            if progress:
                progress(report.progress_line(runner.snapshot()))
            if output and time.monotonic() >= checkpoint:
                checkpoint = time.monotonic() + CHECKPOINT_S
                note = (
                    f"a checkpoint {runner.snapshot().elapsed_s:.0f} s into the run: "
                    "the process ended before its final write (killed?)"
                )
                segments.write_atomic(
                    output, segments.document(config, stats, run_id=run_id, partial=True, reason=note)
                )
        try:
            runner.wait()  # re-raises what ended the run, if anything did
        except Exception as exc:
            failure = exc
    if progress:
        sys.stderr.write("\r\033[K")
    result: dict
    if output or config.segment_count > 1:
        reason: str | None = None
        if failure is not None:
            reason = f"the run failed: {type(failure).__name__}: {failure}"
        elif stopped_by:
            elapsed = stats.snapshot().elapsed_s
            planned = f" of {config.duration:g} s" if config.duration else ""
            reason = f"{stopped_by[0]} {elapsed:.1f} s into the run{planned}"
        doc = segments.document(config, stats, run_id=run_id, partial=reason is not None, reason=reason)
        if output:
            segments.write_atomic(output, doc)
        result = {k: v for k, v in doc.items() if k != "raw"}
    else:
        result = report.build(config, stats)
    if failure is not None:
        raise failure
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sys.stdout.write(report.render(result))
    sys.stdout.flush()
    if args.metrics_port is not None and not stopped_by:
        # A last scrape sees the final counts (Prometheus scrapes every 15 s or so); a signal ends the wait,
        # and a run that a signal stopped does not linger.
        signalled.wait(args.metrics_linger)
    if server is not None:
        server.shutdown()  # type: ignore[attr-defined]
    if local is not None:
        local.close()  # the children's metrics servers end with them
    # 1 when nothing succeeded (unreachable target, every request failing): useful in CI.
    return 1 if result["totals"]["sent"] and not result["totals"]["ok"] else 0


def _usage_error(message: str) -> int:
    """What argparse's ``error`` prints, from after the parser is done: the run did not start."""
    sys.stderr.write(f"streamflow-load: error: {message}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
