"""``streamflow-retrain``: train a challenger on newer labelled rows, compare it with the champion on the
same held-out rows, promote it or keep the champion, and print the decision as JSON.

Exit codes: 0 decided (PROMOTED or KEPT; with --dry-run, decided and nothing changed) or the champion moved
(--promote, --rollback), 1 failure (data, registry, nothing to roll back to), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streamflow_data.pipes import quiet_on_broken_pipe

from .registry import RegistryError, open_registry
from .retrain import DEFAULT_MIN_GAIN, SCHEMA, RetrainError, RetrainRequest, change_champion, finite, retrain
from .settings import ApiSettings, SettingsError

DRY_RUN = "dry run: nothing promoted, nothing registered"
DRY_MOVE = "dry run: the champion did not move"


def build_parser() -> argparse.ArgumentParser:
    # The docstring's first paragraph, whole (its first line alone stops mid-sentence), without its markup.
    about = " ".join(__doc__.split("\n\n")[0].replace("``streamflow-retrain``:", "").split())
    p = argparse.ArgumentParser(prog="streamflow-retrain", description=about[:1].upper() + about[1:])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--data",
        metavar="month_XXX|FILE|live",
        help="labelled rows: a bundled month, a .csv/.parquet file with churn_label, or live (the API's labelled predictions)",
    )
    what.add_argument(
        "--rollback",
        action="store_true",
        help="no training: the champion before the current one serves again (each rollback goes one further back)",
    )
    what.add_argument("--promote", metavar="VERSION", help="no training: make this registered version the champion")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and print as usual, but register and promote nothing (with --promote/--rollback: say what would move)",
    )
    p.add_argument("--api-url", help="with --data live: the API whose prediction log holds the labels")
    p.add_argument(
        "--min-gain",
        type=float,
        default=DEFAULT_MIN_GAIN,
        help="relative log-loss gain a challenger needs to be promoted (default: %(default)s)",
    )
    # The registry and the cache default to the API's own settings, so both find the same registry.
    p.add_argument(
        "--registry", choices=("local", "mlflow"), help="registry backend (default: $STREAMFLOW_API_REGISTRY or local)"
    )
    p.add_argument(
        "--registry-location",
        metavar="DIR|URI",
        help="local: the registry directory (default: $STREAMFLOW_API_REGISTRY_LOCATION or <cache>/registry);"
        " mlflow: the tracking URI (default: $STREAMFLOW_API_REGISTRY_LOCATION or $MLFLOW_TRACKING_URI)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="model cache (default: $STREAMFLOW_API_CACHE_DIR or $XDG_CACHE_HOME/streamflow)",
    )
    p.add_argument("--seed", type=int, default=0, help="the held-out split (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.min_gain < 1:
        parser.error("--min-gain is a relative gain in [0, 1), e.g. 0.03 for 3 %")
    if args.api_url and args.data != "live":
        parser.error("--api-url is for --data live")
    try:
        settings = ApiSettings.from_env(
            registry=args.registry, registry_location=args.registry_location, cache_dir=args.cache_dir
        )
    except SettingsError as exc:
        parser.error(f"invalid setting: {exc}")
    try:
        registry = open_registry(settings.registry, settings.registry_location, settings.cache_dir)
        if args.data is None:
            document = change_champion(registry, args.promote, dry_run=args.dry_run)
        else:
            request = RetrainRequest(
                args.data, api_url=args.api_url, min_gain=args.min_gain, seed=args.seed, dry_run=args.dry_run
            )
            document = retrain(request, registry, settings.cache_dir)
    except (RetrainError, RegistryError) as exc:
        print(f"streamflow-retrain: {exc}", file=sys.stderr)
        json.dump({"schema": SCHEMA, "decision": None, "error": str(exc)}, sys.stdout, indent=2)
        print()
        return 1
    json.dump(finite(document), sys.stdout, indent=2, ensure_ascii=False)
    print()
    print(said(document), file=sys.stderr)
    return 0


def said(document: dict) -> str:
    """The one line for people, on stderr."""
    if "action" in document:
        dry = f"; {DRY_MOVE}" if document["dry_run"] else ""
        verb = "rolled back" if document["action"] == "rollback" else "promoted"
        if document["dry_run"]:
            verb = "would be " + verb
        return f"champion {verb}: {document['from']} → {document['to']} (serving {document['serving']}{dry})"
    dry = f"; {DRY_RUN}" if document["dry_run"] else ""
    return f"{document['decision']}: {document['reason']} (serving {document['serving']}{dry})"


if __name__ == "__main__":
    sys.exit(main())
