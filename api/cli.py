"""``streamflow-api``: serve the churn predictor."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from streamflow_data import LATEST_MONTH, MONTHS

from .metrics import MULTIPROC_ENV
from .settings import ApiSettings, SettingsError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="streamflow-api", description="Serve the StreamFlow churn predictor.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes; metrics are aggregated across them")
    parser.add_argument(
        "--month",
        choices=MONTHS,
        help=f"month served by the online store (default: $STREAMFLOW_API_MONTH or {LATEST_MONTH})",
    )
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request (off: /metrics counts them)")
    parser.add_argument(
        "--live-buffer",
        type=int,
        help="scored rows kept for live drift (default: $STREAMFLOW_API_LIVE_BUFFER_ROWS or 10000)",
    )
    parser.add_argument(
        "--prediction-log",
        metavar="PATH|URL",
        help="where every scored row and its label is logged: a SQLite file, kept across restarts (default: a"
        " temporary one), or a postgresql://user@host:port/db URL shared by a fleet of replicas"
        " ($STREAMFLOW_API_PREDICTION_LOG)",
    )
    parser.add_argument(
        "--prediction-log-password-file",
        metavar="FILE",
        help="the database password, read from FILE (else libpq's PGPASSWORD, PGPASSFILE or ~/.pgpass)",
    )
    parser.add_argument(
        "--registry",
        choices=("local", "mlflow"),
        help="serve the champion of this model registry (default: $STREAMFLOW_API_REGISTRY or local)",
    )
    parser.add_argument(
        "--registry-location",
        metavar="DIR|URI",
        help="local: the registry directory (default: <cache>/registry); mlflow: the tracking URI (default: $MLFLOW_TRACKING_URI)",
    )
    parser.add_argument(
        "--registry-poll",
        type=float,
        metavar="S",
        help="seconds between checks for a new champion (default: $STREAMFLOW_API_REGISTRY_POLL_S or 5; 0: only POST /admin/reload)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.live_buffer is not None and args.live_buffer < 1:
        parser.error("--live-buffer must be at least 1")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = parse_args(argv)
    try:
        # The environment's STREAMFLOW_API_* settings, with the flags given on top.
        settings = ApiSettings.from_env(
            month=args.month,
            live_buffer_rows=args.live_buffer,
            prediction_log=args.prediction_log,
            prediction_log_password_file=args.prediction_log_password_file,
            registry=args.registry,
            registry_location=args.registry_location,
            registry_poll_s=args.registry_poll,
        )
    except SettingsError as exc:
        print(f"streamflow-api: invalid setting: {exc}", file=sys.stderr)
        return 2
    live_dir = None
    if settings.prediction_log is None:
        # One prediction log for every worker of this run, removed when it ends (--prediction-log keeps one).
        live_dir = tempfile.mkdtemp(prefix="streamflow-predictions-")
        settings = settings.model_copy(update={"prediction_log": str(Path(live_dir) / "predictions.sqlite")})
    os.environ.update(settings.to_env())
    multiproc_dir = None
    if args.workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Set before any worker imports prometheus-client, which reads it once.
        multiproc_dir = tempfile.mkdtemp(prefix="streamflow-metrics-")
        os.environ[MULTIPROC_ENV] = multiproc_dir
    try:
        # The champion once here (the bundled model trained and registered on first use), so workers start
        # from the registry; a registry that cannot give one is said here, and the workers serve the bundled model.
        from .registry import RegistryError, open_registry
        from .retrain import RetrainError, bootstrap_champion

        try:
            record = bootstrap_champion(
                open_registry(settings.registry, settings.registry_location, settings.cache_dir),
                settings.cache_dir,
                settings.training_month,
            )
            print(f"serving {record.version} (champion of the {settings.registry} registry)", file=sys.stderr)
        except (RegistryError, RetrainError) as exc:
            print(f"streamflow-api: model registry: {exc}; serving the bundled model instead", file=sys.stderr)
        # The prediction log opens (or is created) here too: a setting that cannot work is one clear line
        # naming it, not a worker traceback; a database that is down is said, and the API starts degraded.
        from .prediction_log import PredictionLogConfigError, open_prediction_log

        assert settings.prediction_log is not None  # set above when not given
        try:
            check = open_prediction_log(
                settings.prediction_log,
                settings.prediction_log_rows,
                password_file=settings.prediction_log_password_file,
            )
        except PredictionLogConfigError as exc:
            print(f"streamflow-api: --prediction-log ($STREAMFLOW_API_PREDICTION_LOG): {exc}", file=sys.stderr)
            return 2
        if not check.available:
            print(f"streamflow-api: {check.error}; serving predictions, logging them once it answers", file=sys.stderr)
        check.close()
        options = dict(
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=args.access_log,
        )
        if args.workers > 1:
            serve_workers(uvicorn.Config("api.app:app_from_env", **options))
        else:
            uvicorn.run("api.app:app_from_env", **options)
    finally:
        for folder in (multiproc_dir, live_dir):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
    return 0


def serve_workers(config) -> None:
    """What ``uvicorn.run`` does for several workers, with one change: SIGHUP (the terminal closed)
    stops the server as it stops a single worker, instead of uvicorn's restart of every worker,
    which would leave the API running with no terminal and no one to stop it."""
    from uvicorn.supervisors.multiprocess import Multiprocess

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            self.handle_term()

    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
