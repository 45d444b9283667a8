"""Binned (fleet) drift vs Evidently row level on the bundled months (#28): month_000 against month_001 …
month_005, 14 features and the label. Prints per (feature, month) both scores and verdicts, the agreement,
every disagreement, each month's decision on both sides, and the largest |binned − row-level| score gap.

    python bench/drift_binned.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
from binned_rows import binned_result  # noqa: E402

import streamflow_data as sd  # noqa: E402
from api.feature_bins import layout_of  # noqa: E402
from streamflow_tui.core.drift import DriftEngine, DriftRequest  # noqa: E402

MONTHS = ("month_001", "month_002", "month_003", "month_004", "month_005")


def compare() -> dict:
    layout = layout_of(sd.load_frame("month_000"), "month_000")
    engine = DriftEngine()
    pairs, decisions = [], []
    try:
        for month in MONTHS:
            started = time.perf_counter()
            binned = binned_result(layout, sd.load_frame(month))
            binned_s = time.perf_counter() - started
            rows = engine.run(DriftRequest("month_000", month, reports_dir=None), with_html=False)
            by_column = {c.column: c for c in binned.drift.columns}
            extras = {e.column: e for e in binned.extras}
            for c in rows.columns:
                b = by_column[c.column]
                e = extras[c.column]
                pairs.append(
                    {
                        "month": month,
                        "column": c.column,
                        "test": c.stattest,
                        "binned_test": b.stattest,
                        "evidently": c.score,
                        "binned": b.score,
                        "bounds": [e.lower, e.upper],
                        "evidently_drifted": c.drifted,
                        "binned_drifted": b.drifted,
                    }
                )
            decisions.append(
                {
                    "month": month,
                    "evidently": rows.decision,
                    "binned": binned.drift.decision,
                    "share_evidently": rows.drift_share,
                    "share_binned": binned.drift.drift_share,
                    "binned_seconds": binned_s,
                }
            )
    finally:
        engine.close()
    agree = sum(p["evidently_drifted"] == p["binned_drifted"] for p in pairs)
    gaps = [abs(p["binned"] - p["evidently"]) for p in pairs if p["test"] == "wasserstein"]
    return {
        "pairs": pairs,
        "agreement": agree / len(pairs),
        "agreeing": agree,
        "total": len(pairs),
        "disagreements": [p for p in pairs if p["evidently_drifted"] != p["binned_drifted"]],
        "decisions": decisions,
        "same_decisions": all(d["evidently"] == d["binned"] for d in decisions),
        "max_wasserstein_gap": max(gaps),
        "max_js_gap": max(abs(p["binned"] - p["evidently"]) for p in pairs if p["test"] == "jensenshannon"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = compare()
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{'month':10} {'column':30} {'test':14} {'evidently':>10} {'binned':>10}  verdicts")
    for p in out["pairs"]:
        mark = "" if p["evidently_drifted"] == p["binned_drifted"] else "  <-- disagree"
        print(
            f"{p['month']:10} {p['column']:30} {p['test']:14} {p['evidently']:10.4g} {p['binned']:10.4g}"
            f"  {p['evidently_drifted']!s:5} {p['binned_drifted']!s:5}{mark}"
        )
    print(f"\nagreement {out['agreeing']}/{out['total']} = {out['agreement']:.1%}")
    for d in out["decisions"]:
        print(
            f"{d['month']}: evidently {d['evidently']} ({d['share_evidently']:.3f}), binned {d['binned']} ({d['share_binned']:.3f})"
        )
    print(f"largest gap: Wasserstein {out['max_wasserstein_gap']:.4f}, Jensen-Shannon {out['max_js_gap']:.2e}")


if __name__ == "__main__":
    main()
