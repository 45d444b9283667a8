"""Drift alarms under a false-alarm budget (#28): does the budget hold, and how fast is real drift caught?

- **False alarms**: ``--runs`` no-drift runs, each window's rows bootstrapped from month_000 (whole rows, so the
  features stay as correlated as they are), detectors calibrated as the console calibrates them (multinomial
  draws from the reference's bins, Šidák over the 14 features); the empirical expected run time (mean windows to
  the first alarm) against the budget's.
- **Detection delay**: windows of month_003 rows (covariate shift) and month_004 rows (label shift: its
  features move only in months_active) at the same traffic, from a fresh detector: windows to the first alarm.

    python bench/drift_alarms.py [--rate 50] [--window 60] [--budget 1/2h] [--runs 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
from binned_rows import collector_rows, counted_bins  # noqa: E402

import streamflow_data as sd  # noqa: E402
from api.feature_bins import BinLayout, layout_of  # noqa: E402
from streamflow_data.schema import FEATURES  # noqa: E402
from streamflow_tui.core import drift_alarms as da  # noqa: E402
from streamflow_tui.core.binned_drift import Reference  # noqa: E402
from streamflow_tui.core.fleet_drift import group, reference_of  # noqa: E402


def reference_for(layout: BinLayout) -> Reference:
    _, rows = collector_rows(counted_bins(layout, sd.load_frame("month_000").iloc[:0]))
    return reference_of(group(rows)[layout.version])


def slots_of(layout: BinLayout, frame) -> np.ndarray:
    """Each row's slot per feature in the layout's counts array (rows × features)."""
    out = np.zeros((len(frame), len(layout.numeric) + len(layout.categorical)), dtype=np.int32)
    for i, b in enumerate(layout.numeric):
        values = frame[b.name].to_numpy(dtype=float, na_value=np.nan)
        slot = b.offset + np.searchsorted(np.asarray(b.edges), values, side="left")
        out[:, i] = np.where(np.isnan(values), b.offset + len(b.edges) + 1, slot)
    for j, c in enumerate(layout.categorical):
        known = {v: c.offset + k for k, v in enumerate(c.categories)}
        other = c.offset + len(c.categories)
        column = frame[c.name]
        out[:, len(layout.numeric) + j] = [other + 1 if v is None or v != v else known.get(v, other) for v in column]
    return out


def scores_of(layout: BinLayout, reference: Reference, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Each feature's score for each row of ``counts`` (windows × slots), as the detectors see them."""
    out = {}
    for b in layout.numeric:
        buckets = counts[:, b.offset : b.offset + len(b.edges) + 1]
        ref = reference.numeric[b.name]
        p = np.asarray(ref.buckets()) / ref.total
        if int((p > 0).sum()) <= 5:
            out[b.name] = da.js_many(p, buckets)
        else:
            w = da.wasserstein_many(ref, buckets, b.integral, b.std)
            # Values beyond the reference's range: their exact part of the integral (none when bootstrapped
            # from the reference itself).
            n = np.maximum(buckets.sum(axis=1), 1)
            below, above = counts[:, b.offset + len(b.edges) + 2], counts[:, b.offset + len(b.edges) + 3]
            out[b.name] = w + (below + above) / n / max(b.std, 0.001)
    for c in layout.categorical:
        ref_c = reference.categorical[c.name]
        out[c.name] = da.js_many(
            np.asarray(ref_c.counts) / ref_c.total, counts[:, c.offset : c.offset + len(c.categories) + 1]
        )
    return out


def window_counts(layout: BinLayout, slots: np.ndarray, extra: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """Counts arrays of windows whose rows are ``idx`` (windows × rows)."""
    windows, _ = idx.shape
    flat = slots[idx] + (np.arange(windows) * layout.size)[:, None, None]
    counts = np.bincount(flat.ravel(), minlength=windows * layout.size).reshape(windows, layout.size).astype(float)
    if extra is not None:
        counts += extra[idx].sum(axis=1)
    return counts


def outside_sums(layout: BinLayout, frame) -> np.ndarray:
    """Per row, its contribution to the layout's below/above sums (rows × slots, sparse in practice)."""
    out = np.zeros((len(frame), layout.size))
    for b in layout.numeric:
        values = frame[b.name].to_numpy(dtype=float, na_value=np.nan)
        out[:, b.offset + len(b.edges) + 2] = np.nan_to_num(np.clip(b.edges[0] - values, 0, None))
        out[:, b.offset + len(b.edges) + 3] = np.nan_to_num(np.clip(values - b.edges[-1], 0, None))
    return out


def false_alarms(layout, reference, calibrations, rows, runs, max_windows, rng, chunk=100) -> dict:
    slots = slots_of(layout, sd.load_frame("month_000"))
    lengths, censored = [], 0
    for first in range(0, runs, chunk):
        size = min(chunk, runs - first)
        cusum = np.zeros((size, len(FEATURES)))
        alive = np.ones(size, dtype=bool)
        length = np.full(size, max_windows)
        for t in range(1, max_windows + 1):
            live = np.flatnonzero(alive)
            if not live.size:
                break
            idx = rng.integers(0, len(slots), size=(live.size, rows))
            scores = scores_of(layout, reference, window_counts(layout, slots, None, idx))
            for i, feature in enumerate(FEATURES):
                c = calibrations[feature]
                z = (scores[feature] - c.mean) / c.std
                cusum[live, i] = np.maximum(0.0, cusum[live, i] + z - da.K)
            limits = np.array([calibrations[f].limit for f in FEATURES])
            fired = (cusum[live] > limits).any(axis=1)
            length[live[fired]] = t
            alive[live[fired]] = False
        censored += int(alive.sum())
        lengths.extend(length.tolist())
    return {"runs": runs, "mean_windows": float(np.mean(lengths)), "censored": censored, "lengths": lengths}


def delay(layout, reference, calibrations, month, rows, replays, rng, max_windows=60) -> dict:
    frame = sd.load_frame(month)
    slots, extra = slots_of(layout, frame), outside_sums(layout, frame)
    windows, first_features = [], {}
    for _ in range(replays):
        cusum = dict.fromkeys(FEATURES, 0.0)
        for t in range(1, max_windows + 1):
            idx = rng.integers(0, len(frame), size=(1, rows))
            scores = scores_of(layout, reference, window_counts(layout, slots, extra, idx))
            fired = []
            for feature in FEATURES:
                c = calibrations[feature]
                cusum[feature] = max(0.0, cusum[feature] + (float(scores[feature][0]) - c.mean) / c.std - da.K)
                if cusum[feature] > c.limit:
                    fired.append(feature)
            if fired:
                windows.append(t)
                for f in fired:
                    first_features[f] = first_features.get(f, 0) + 1
                break
        else:
            windows.append(max_windows + 1)
    return {
        "month": month,
        "replays": replays,
        "mean_windows": float(np.mean(windows)),
        "max_windows": int(max(windows)),
        "first_alarms_by_feature": first_features,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per window")
    parser.add_argument("--budget", default="1/2h", help="false alarms per duration")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--replays", type=int, default=200)
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    layout = layout_of(sd.load_frame("month_000"), "month_000")
    reference = reference_for(layout)
    rows = int(args.rate * args.window)
    budget = da.FalseAlarmBudget.parse(args.budget)
    target = budget.run_length(args.window)
    started = time.perf_counter()
    calibrations = da.calibrate(reference, list(FEATURES), rows, target, seed=args.seed)
    calibration_s = time.perf_counter() - started
    started = time.perf_counter()
    fa = false_alarms(layout, reference, calibrations, rows, args.runs, int(20 * target), rng)
    fa_s = time.perf_counter() - started
    delays = [delay(layout, reference, calibrations, m, rows, args.replays, rng) for m in ("month_003", "month_004")]
    lengths = np.asarray(fa.pop("lengths"))
    out = {
        "rows_per_window": rows,
        "window_s": args.window,
        "budget": args.budget,
        "target_windows": target,
        "per_feature_windows": da.sidak(target, len(FEATURES)),
        "calibration_seconds": calibration_s,
        "false_alarms": fa
        | {
            "seconds": fa_s,
            "ratio_to_budget": fa["mean_windows"] / target,
            "stderr_windows": float(lengths.std() / np.sqrt(len(lengths))),
        },
        "detection": [d | {"mean_seconds": d["mean_windows"] * args.window} for d in delays],
        "limits": {f: round(c.limit, 3) for f, c in calibrations.items()},
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
