"""rate(), increase() and histogram_quantile() against a real Prometheus 2.42 on identical samples.

Hundreds of seeded random cases (counter resets, jittered and missing scrapes,
ranges that start before or end after the data; histograms with decreasing
counts, duplicate ``le`` spellings, no +Inf bucket, no observations, bounds at
or below zero, NaN counts) are backfilled into a TSDB with promtool. One
Prometheus evaluates every case; our functions must agree to 1e-9 relative.
"""

from __future__ import annotations

import math
import random

import pytest
from prometheus_server import backfill, query, running_prometheus

from streamflow_tui.core.promql import extrapolated_rate, histogram_quantile, parse_le, select_range

T0 = 1_700_000_000_000  # ms
N_COUNTERS = 150
N_HISTOGRAMS = 150
RANGES_S = (10, 30, 60, 300)
QUANTILES = (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0)


def _counter_cases(rng: random.Random) -> dict[str, list[tuple[int, float]]]:
    cases = {}
    for i in range(N_COUNTERS):
        t, v, samples = T0 + rng.randrange(0, 20_000), rng.choice([0.0, rng.uniform(0, 1000)]), []
        interval = rng.choice([1_000, 5_000, 15_000])
        for _ in range(rng.randrange(1, 40)):
            samples.append((t, v))
            t += interval + rng.randrange(-interval // 4, interval // 4 + 1)
            if rng.random() < 0.1:
                t += interval * rng.randrange(1, 4)  # missed scrapes
            v = (
                rng.uniform(0, 50)
                if rng.random() < 0.05
                else v + rng.choice([0, 0, rng.uniform(0, 100), rng.randrange(0, 10)])
            )
        cases[f"c{i}"] = samples
    return cases


def _histogram_cases(rng: random.Random) -> dict[str, list[tuple[str, float]]]:
    spellings = {1.0: ["1", "1.0", "1e0"], 0.5: ["0.5", "0.50"], math.inf: ["+Inf", "Inf", "+inf"]}
    cases = {}
    for i in range(N_HISTOGRAMS):
        bounds = sorted(rng.sample([-1.0, 0.0, 0.005, 0.01, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0], rng.randrange(1, 7)))
        if rng.random() > 0.1:
            bounds.append(math.inf)
        count, buckets = 0.0, []
        for b in bounds:
            count += rng.choice([0, 0, rng.randrange(0, 50), rng.uniform(0, 10)])
            c = count
            if rng.random() < 0.1:
                c = max(0.0, count - rng.uniform(0, 20))  # a decreasing (broken) bucket
            if rng.random() < 0.03:
                c = math.nan
            label = rng.choice(spellings.get(b, [repr(b)]))
            buckets.append((label, c))
            if b in spellings and rng.random() < 0.2:
                other = rng.choice([s for s in spellings[b] if s != label] or [label])
                if other != label:
                    buckets.append((other, rng.randrange(0, 5)))
        if rng.random() < 0.05:
            buckets = [(label, 0.0) for label, _ in buckets]
        cases[f"h{i}"] = buckets
    return cases


def _fmt(v: float) -> str:
    return "NaN" if math.isnan(v) else repr(v)


def _openmetrics(counters, histograms, hist_at_ms: int) -> str:
    lines = ["# TYPE c counter"]
    for case, samples in counters.items():
        lines += [f'c_total{{case="{case}"}} {_fmt(v)} {t / 1000:.3f}' for t, v in samples]
    lines.append("# TYPE hq gauge")
    for case, buckets in histograms.items():
        lines += [f'hq{{case="{case}",le="{le}"}} {_fmt(c)} {hist_at_ms / 1000:.3f}' for le, c in buckets]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _close(ours: float | None, theirs: float) -> bool:
    if ours is None:
        return False
    if math.isnan(theirs) or math.isinf(theirs):
        return (math.isnan(ours) and math.isnan(theirs)) or ours == theirs
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    rng = random.Random(42)
    counters, histograms = _counter_cases(rng), _histogram_cases(rng)
    hist_at = T0 + 60_000
    data_dir = tmp_path_factory.mktemp("tsdb") / "data"
    backfill(_openmetrics(counters, histograms, hist_at), data_dir)
    with running_prometheus(data_dir=data_dir) as url:
        yield url, counters, histograms, hist_at


def test_rate_and_increase_match_prometheus(reference):
    url, counters, _, _ = reference
    compared = 0
    end = max(s[-1][0] for s in counters.values())
    for eval_ms in range(T0 + 7_321, end + 30_000, 47_000):
        for range_s in RANGES_S:
            for fn, is_rate in (("rate", True), ("increase", False)):
                theirs = {
                    r["metric"]["case"]: float(r["value"][1])
                    for r in query(url, f"{fn}(c_total[{range_s}s])", eval_ms / 1000)
                }
                for case, samples in counters.items():
                    ours = extrapolated_rate(
                        select_range(samples, eval_ms, range_s * 1000), eval_ms, range_s * 1000, is_rate=is_rate
                    )
                    if case not in theirs:
                        assert ours is None, (fn, case, eval_ms, range_s)
                        continue
                    assert _close(ours, theirs[case]), (fn, case, eval_ms, range_s, ours, theirs[case])
                    compared += 1
    assert compared > 2_000


def test_histogram_quantile_matches_prometheus(reference):
    url, _, histograms, at_ms = reference
    compared = 0
    for q in QUANTILES + (-0.5, 1.5):
        theirs = {
            r["metric"]["case"]: float(r["value"][1]) for r in query(url, f"histogram_quantile({q}, hq)", at_ms / 1000)
        }
        for case, buckets in histograms.items():
            parsed = [(parse_le(le), c) for le, c in buckets]
            ours = histogram_quantile(q, [(b, c) for b, c in parsed if b is not None])
            assert case in theirs
            assert _close(ours, theirs[case]), (q, case, buckets, ours, theirs[case])
            compared += 1
    assert compared == 9 * N_HISTOGRAMS
