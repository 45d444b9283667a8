"""What the Drift view's side-by-side distributions add to a drift check: the per-column shares
(core/distribution.py) against the whole check's run in the same process, on the same rows.

    python bench/distributions.py [--runs 5] [--sizes 7000 100000 1000000]

The whole check (Evidently) runs only up to 100,000 rows here; the 1M-row figure of the check is in
docs/BENCHMARKS.md (bench/drift_engine.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from streamflow_data import load_frame  # noqa: E402
from streamflow_data.schema import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES  # noqa: E402
from streamflow_tui.core import drift_worker  # noqa: E402
from streamflow_tui.core.drift import DriftRequest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="*", default=[7000, 100_000, 1_000_000])
    args = parser.parse_args()
    out = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "sizes": {}}
    drift_worker.warm_up()
    base_ref, base_cur = load_frame("month_000"), load_frame("month_003")
    for n in args.sizes:
        ref = base_ref if n == len(base_ref) else base_ref.sample(n, replace=True, random_state=0)
        cur = base_cur if n == len(base_cur) else base_cur.sample(n, replace=True, random_state=1)
        columns = list(NUMERIC_FEATURES) + list(CATEGORICAL_FEATURES) + [LABEL]
        shares = []
        for _ in range(args.runs):
            start = time.perf_counter()
            for c in columns:
                drift_worker._distribution(ref[c], cur[c], c in NUMERIC_FEATURES)
            shares.append(time.perf_counter() - start)
        row = {"distributions_s": statistics.median(shares)}
        if n <= 100_000:
            folder = Path(tempfile.mkdtemp())
            ref.to_parquet(folder / "ref.parquet")
            cur.to_parquet(folder / "cur.parquet")
            whole = []
            for _ in range(args.runs):
                start = time.perf_counter()
                drift_worker.run(
                    DriftRequest(str(folder / "ref.parquet"), str(folder / "cur.parquet"), reports_dir=None)
                )
                whole.append(time.perf_counter() - start)
            row["whole_check_s"] = statistics.median(whole)
            row["share_of_check"] = row["distributions_s"] / row["whole_check_s"]
        out["sizes"][n] = row
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
