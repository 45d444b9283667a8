"""The drift engine: request -> table time (warm and cold), lean metrics vs the full preset,
100k/1M-row synthetic datasets next to a numpy/scipy floor, and the caller's event-loop stall.

    python bench/drift_engine.py [--runs 7] [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import machine  # noqa: E402

from streamflow_tui.core.drift import DriftEngine, DriftRequest  # noqa: E402

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import numpy as np, pandas as pd
import streamflow_data as sd
from streamflow_data.schema import FEATURES, LABEL, NUMERIC_FEATURES, CATEGORICAL_FEATURES
n, mode = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
ref = sd.load_frame("month_000").sample(n, replace=True, random_state=1).reset_index(drop=True)
cur = sd.load_frame("month_003").sample(n, replace=True, random_state=2).reset_index(drop=True)
# Jitter the numeric columns so the synthetic rows are not just copies.
for c in ("watch_hours_30d", "avg_session_mins_7d", "monthly_fee"):
    ref[c] = ref[c] * rng.normal(1, 0.01, n)
    cur[c] = cur[c] * rng.normal(1, 0.01, n)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "floor":
    from drift_reference import column_drift
    results = [column_drift(ref[c], cur[c], numeric=c in NUMERIC_FEATURES) for c in FEATURES]
    import math
    from scipy.stats import norm
    p1, p2 = ref[LABEL].mean(), cur[LABEL].mean(); P = (ref[LABEL].sum() + cur[LABEL].sum()) / (2 * n)
    z = (p1 - p2) / math.sqrt(P * (1 - P) * (2 / n)); pv = 2 * (1 - norm.cdf(abs(z)))
    drifted = sum(r.drifted for r in results) + (pv < 0.05)
else:
    import os, tempfile
    from streamflow_tui.core import drift_worker
    from streamflow_tui.core.drift import DriftRequest
    drift_worker.warm_up()
    dirname = tempfile.mkdtemp()
    ref.to_parquet(os.path.join(dirname, "ref.parquet")); cur.to_parquet(os.path.join(dirname, "cur.parquet"))
    start = time.perf_counter()  # the engine's run reads the files: the floor's data is already in memory
    r = drift_worker.run(DriftRequest(os.path.join(dirname, "ref.parquet"), os.path.join(dirname, "cur.parquet"), reports_dir=None))
    drifted = r.drifted_columns
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_mb": rss0 / 1024, "drifted": int(drifted)}))
"""


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def worst_timer_lateness(during, period: float = 0.010) -> float:
    """Run ``during`` in a thread while an asyncio loop ticks every 10 ms; the worst lateness in seconds."""

    async def main() -> float:
        worst = 0.0
        done = threading.Event()
        worker = threading.Thread(target=lambda: (during(), done.set()))
        worker.start()
        loop = asyncio.get_running_loop()
        while not done.is_set():
            expected = loop.time() + period
            await asyncio.sleep(period)
            worst = max(worst, loop.time() - expected)
        worker.join()
        return worst

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}

    start = time.perf_counter()
    engine = DriftEngine()
    cold = engine.run(DriftRequest("month_000", "month_003", reports_dir=None), with_html=False)
    out["cold_first_request_s"] = time.perf_counter() - start
    out["cold_decision"] = cold.decision

    table_only = timed(
        lambda: engine.run(DriftRequest("month_000", "month_003", reports_dir=None), with_html=False), args.runs
    )
    with tempfile.TemporaryDirectory() as reports:
        with_json = timed(
            lambda: engine.run(DriftRequest("month_000", "month_003", reports_dir=reports), with_html=False), args.runs
        )
        result = engine.run(DriftRequest("month_000", "month_003", reports_dir=reports), with_html=False)
        html = timed(
            lambda: engine.submit_html(
                engine.submit(DriftRequest("month_000", "month_003", reports_dir=reports)).result()
            ).result(),
            3,
        )
    out["warm_request_to_table_s"] = {"median": statistics.median(table_only), "all": [round(t, 3) for t in table_only]}
    out["warm_request_to_table_with_json_report_s"] = {
        "median": statistics.median(with_json),
        "all": [round(t, 3) for t in with_json],
    }
    out["warm_table_then_html_s"] = {"median": statistics.median(html), "all": [round(t, 3) for t in html]}
    out["worker_seconds_of_a_run"] = result.seconds

    # The console's loop while a drift run is in progress: worker process vs a thread in the same process.
    out["loop_stall_worker_process_ms"] = 1000 * max(
        worst_timer_lateness(
            lambda: engine.run(DriftRequest("month_000", "month_003", reports_dir=None), with_html=False)
        )
        for _ in range(3)
    )
    engine.close()

    from streamflow_tui.core import drift_worker

    drift_worker.warm_up()
    drift_worker.run(DriftRequest("month_000", "month_001", reports_dir=None))
    out["loop_stall_thread_same_process_ms"] = 1000 * max(
        worst_timer_lateness(lambda: drift_worker.run(DriftRequest("month_000", "month_003", reports_dir=None)))
        for _ in range(3)
    )

    # Lean metric list vs Evidently's full DataDriftPreset, same data, same warm process.
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    import streamflow_data as sd
    from streamflow_data.schema import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES

    ref, cur = sd.load_frame("month_000"), sd.load_frame("month_003")
    dd = DataDefinition(numerical_columns=list(NUMERIC_FEATURES), categorical_columns=[*CATEGORICAL_FEATURES, LABEL])
    cols = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, LABEL]
    rd, cd = Dataset.from_pandas(ref[cols], data_definition=dd), Dataset.from_pandas(cur[cols], data_definition=dd)
    preset = timed(lambda: Report([DataDriftPreset()]).run(current_data=cd, reference_data=rd), 5)
    lean = timed(lambda: drift_worker.run(DriftRequest("month_000", "month_003", reports_dir=None)), 5)
    out["full_preset_s"] = statistics.median(preset)
    out["lean_engine_run_in_process_s"] = statistics.median(lean)

    sizes = {}
    for n in args.sizes:
        row = {}
        for mode in ("floor", "evidently"):
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), mode, str(HERE.parent / "tests")],
                capture_output=True,
                text=True,
                check=True,
            )
            row[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        row["time_ratio"] = row["evidently"]["seconds"] / row["floor"]["seconds"]
        sizes[str(n)] = row
    out["synthetic"] = sizes
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
