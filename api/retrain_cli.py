"""``streamflow-retrain``: train a challenger on newer labelled rows, compare it with the champion on the
same held-out rows, promote it or keep the champion, and print the decision as JSON.

Exit codes: 0 decided (PROMOTED or KEPT), 1 failure (data, registry), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .registry import RegistryError, open_registry
from .retrain import DEFAULT_MIN_GAIN, RetrainError, RetrainRequest, finite, retrain
from .settings import default_cache_dir


def build_parser() -> argparse.ArgumentParser:
    # The docstring's first paragraph, whole (its first line alone stops mid-sentence), without its markup.
    about = " ".join(__doc__.split("\n\n")[0].replace("``streamflow-retrain``:", "").split())
    p = argparse.ArgumentParser(prog="streamflow-retrain", description=about[:1].upper() + about[1:])
    p.add_argument(
        "--data",
        required=True,
        metavar="month_XXX|FILE|live",
        help="labelled rows: a bundled month, a .csv/.parquet file with churn_label, or live (the API's labelled predictions)",
    )
    p.add_argument("--api-url", help="with --data live: the API whose prediction log holds the labels")
    p.add_argument(
        "--min-gain",
        type=float,
        default=DEFAULT_MIN_GAIN,
        help="relative log-loss gain a challenger needs to be promoted (default: %(default)s)",
    )
    p.add_argument(
        "--registry", choices=("local", "mlflow"), default="local", help="registry backend (default: %(default)s)"
    )
    p.add_argument(
        "--registry-location",
        metavar="DIR|URI",
        help="local: the registry directory (default: <cache>/registry); mlflow: the tracking URI (default: $MLFLOW_TRACKING_URI)",
    )
    p.add_argument("--cache-dir", type=Path, default=None, help="model cache (default: $XDG_CACHE_HOME/streamflow)")
    p.add_argument("--seed", type=int, default=0, help="the held-out split (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.min_gain < 1:
        parser.error("--min-gain is a relative gain in [0, 1), e.g. 0.03 for 3 %")
    if args.api_url and args.data != "live":
        parser.error("--api-url is for --data live")
    cache_dir = args.cache_dir or default_cache_dir()
    try:
        registry = open_registry(args.registry, args.registry_location, cache_dir)
        decision = retrain(
            RetrainRequest(args.data, api_url=args.api_url, min_gain=args.min_gain, seed=args.seed), registry, cache_dir
        )
    except (RetrainError, RegistryError) as exc:
        print(f"streamflow-retrain: {exc}", file=sys.stderr)
        json.dump({"schema": "streamflow.retrain/1", "decision": None, "error": str(exc)}, sys.stdout, indent=2)
        print()
        return 1
    json.dump(finite(decision), sys.stdout, indent=2, ensure_ascii=False)
    print()
    print(f"{decision['decision']}: {decision['reason']} (serving {decision['serving']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
