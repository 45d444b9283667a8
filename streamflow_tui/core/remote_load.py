"""Load generated elsewhere: the ``streamflow-load --metrics-port`` processes a Prometheus scrapes, summed
over their segments (``--segment i/N``), with the segments announced but not scraped said by name."""

from __future__ import annotations

from .compute import QUANTILES
from .prometheus_client import PrometheusClient, _value
from .results import RemoteLoad

# The load generator's own metrics (loadgen/metrics.py, ``streamflow-load --metrics-port``): never the API's.
LOAD_PREFIX = "streamflow_load_"
LOAD_INFO = "streamflow_load_segment_info"
# How long a segment that stopped being scraped is still counted (as down) in its run's segments.
LOAD_LOOKBACK = "10m"
LOAD_TAG = "streamflow_figure"  # the label naming each figure of the one aggregate query


def remote_load(client: PrometheusClient, w: str, at: float) -> RemoteLoad | None:
    """The load generators Prometheus scrapes, summed over their segments; None when none was seen lately.

    Two queries: the segments (scraped now: 1; seen in the lookback but not now: 0, as a failed scrape
    marks a target's series stale), and every aggregate at once, each tagged by ``label_replace``.
    """
    rows = client.query(f"{LOAD_INFO} or last_over_time({LOAD_INFO}[{LOAD_LOOKBACK}]) * 0", at)
    if not rows:
        return None
    live = {r["metric"].get("run_id", "") for r in rows if _value(r["value"][1]) == 1}
    runs: dict[str, dict[str, tuple[bool, str]]] = {}
    for r in rows:
        m = r["metric"]
        run = m.get("run_id", "")
        if live and run not in live:
            continue  # an earlier run, over: the run(s) scraped now are the ones shown
        up = _value(r["value"][1]) == 1
        segment = m.get("segment", "?")
        previous = runs.setdefault(run, {}).get(segment)
        if previous is None or (up and not previous[0]):
            runs[run][segment] = (up, m.get("host") or m.get("instance", "?"))
    total = up_count = 0
    hosts: list[str] = []
    down: list[str] = []
    for segments in runs.values():
        announced = [n for seg in segments if (n := _segment_count(seg)) is not None]
        expected = max([len(segments), *announced])
        total += expected
        for seg, (up, host) in sorted(segments.items()):
            if up:
                up_count += 1
                hosts.append(host)
            else:
                down.append(f"{seg}@{host}")
        if announced:
            count = max(announced)
            down += [f"{i}/{count}" for i in range(count) if f"{i}/{count}" not in segments]
    values = _load_aggregates(client, w, at) if up_count else {}
    achieved, errors = values.get("achieved"), values.get("errors")
    return RemoteLoad(
        segments=total,
        segments_up=up_count,
        hosts=tuple(dict.fromkeys(hosts)),
        down=tuple(down),
        run_ids=tuple(sorted(runs)),
        target_rps=values.get("target"),
        achieved_rps=achieved,
        # No error series at all: none failed yet (the counters appear with their first error).
        error_ratio=(errors or 0.0) / achieved if achieved else None,
        in_flight=values.get("in_flight"),
        late_rps=values.get("late"),
        p50=values.get("p50"),
        p95=values.get("p95"),
        p99=values.get("p99"),
    )


def _load_aggregates(client: PrometheusClient, w: str, at: float) -> dict[str, float | None]:
    """Sums over every load segment scraped, and the client's corrected quantiles, in one query."""
    requests = f"{LOAD_PREFIX}requests_total"
    bucket = f'{LOAD_PREFIX}latency_seconds_bucket{{kind="corrected"}}'
    parts = {
        "achieved": f"sum(rate({requests}[{w}]))",
        "errors": f'sum(rate({requests}{{status="error"}}[{w}]))',
        "target": f"sum({LOAD_PREFIX}target_rate)",
        "in_flight": f"sum({LOAD_PREFIX}in_flight)",
        "late": f"sum(rate({LOAD_PREFIX}late_sends_total[{w}]))",
        **{_qkey(q): f"histogram_quantile({q}, sum by (le) (rate({bucket}[{w}])))" for q in QUANTILES},
    }
    expr = " or ".join(f'label_replace({e}, "{LOAD_TAG}", "{k}", "", "")' for k, e in parts.items())
    return {r["metric"].get(LOAD_TAG, ""): _value(r["value"][1]) for r in client.query(expr, at)}


def _segment_count(segment: str) -> int | None:
    """N of a segment label "i/N"; None for another spelling."""
    index, _, count = segment.partition("/")
    return int(count) if index.isdigit() and count.isdigit() and int(count) > 0 else None


def _qkey(quantile: float) -> str:
    return f"p{round(quantile * 100)}"
