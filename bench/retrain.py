"""Retrain + evaluate on 7,000 rows (training included), and the decision's margin over 8 held-out splits.

    python bench/retrain.py [--runs 7] [--splits 8]

Baseline in the same run: scikit-learn's fit alone on the same rows, the floor of any retrain.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from api.model import _design_matrix, build_pipeline  # noqa: E402
from api.registry import LocalRegistry  # noqa: E402
from api.retrain import RetrainRequest, retrain  # noqa: E402
from streamflow_data import load_frame  # noqa: E402
from streamflow_data.schema import LABEL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--splits", type=int, default=8)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp())
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    retrain(
        RetrainRequest("month_001"), LocalRegistry(Path(tempfile.mkdtemp())), cache
    )  # imports and the bundled model, once

    frame = load_frame("month_004")
    fit, whole = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        build_pipeline().fit(_design_matrix(frame), frame[LABEL])
        fit.append(time.perf_counter() - start)
        start = time.perf_counter()  # a fresh registry each run: the champion is registered, the challenger trained
        retrain(RetrainRequest("month_004"), LocalRegistry(Path(tempfile.mkdtemp())), cache)
        whole.append(time.perf_counter() - start)
    out["retrain_7000_rows_s"] = {"median": statistics.median(whole), "max": max(whole)}
    out["sklearn_fit_7000_rows_s"] = {"median": statistics.median(fit)}
    cli = []
    for _ in range(args.runs):  # what a user waits for: a new process (imports included), a fresh registry
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "api.retrain_cli", "--data", "month_004", "--registry-location", tempfile.mkdtemp()],
            check=True,
            capture_output=True,
            env={**os.environ, "XDG_CACHE_HOME": str(cache)},
        )
        cli.append(time.perf_counter() - start)
    out["streamflow_retrain_cli_s"] = {"median": statistics.median(cli), "max": max(cli)}

    for month in ("month_003", "month_004"):
        decisions = [
            retrain(RetrainRequest(month, seed=seed), LocalRegistry(Path(tempfile.mkdtemp())), cache)
            for seed in range(args.splits)
        ]
        out[month] = {
            "log_loss_gain_pct": sorted(round(100 * d["log_loss_gain"], 2) for d in decisions),
            "roc_auc_change": sorted(round(d["roc_auc_change"], 4) for d in decisions),
            "decisions": sorted(d["decision"] for d in decisions),
            "champion_mean_predicted": round(
                statistics.fmean(d["champion"]["metrics"]["mean_predicted"] for d in decisions), 4
            ),
            "observed_rate": round(statistics.fmean(d["champion"]["metrics"]["observed_rate"] for d in decisions), 4),
            "champion_calibration_error": round(
                statistics.fmean(d["champion"]["metrics"]["calibration_error"] for d in decisions), 4
            ),
            "challenger_calibration_error": round(
                statistics.fmean(d["challenger"]["metrics"]["calibration_error"] for d in decisions), 4
            ),
        }
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
