"""``streamflow-load merge FILE…``: segments' result files into one ``streamflow.load/1`` report.

Lossless: counters add up, the HDR histograms are decoded and added (the merged percentiles are those of
one histogram of every sample), the per-second timelines align by absolute (epoch) second. Files that
cannot make one run are refused, one line per problem (exit 2): unreadable, not a segment file, from
different runs, targets or loads (rate, workers, duration), a different segment count, a segment given
twice or missing (``--allow-missing`` merges what is there, and says so). What makes the merged numbers
less than exact is warned about: partial segments, starts that differ (schedules that do not interleave),
a segment whose first send came late (a late start, or its host's clock is off).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import report
from .config import LoadConfig
from .errors import MergeRefused
from .processes import merge_exports
from .prompts import StreamOptions
from .schedule import Schedule

LATE_START_S = 1.0  # a segment whose first send came this long after its scheduled first send: warned


def load(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MergeRefused([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MergeRefused([f"{path}: not a readable JSON file ({exc})"]) from None
    if not isinstance(doc, dict) or doc.get("schema") != report.SCHEMA:
        raise MergeRefused([f"{path}: not a {report.SCHEMA} result"])
    if not isinstance(doc.get("raw"), dict) or not isinstance(doc.get("segment"), dict):
        raise MergeRefused([f"{path}: a report without its histograms (write it with streamflow-load --output FILE)"])
    return doc


def _label(doc: dict[str, Any]) -> str:
    s = doc["segment"]
    return f"segment {s['index']}/{s['count']}"


def check(files: list[tuple[str, dict[str, Any]]], allow_missing: bool = False) -> list[str]:
    """Refuses (``MergeRefused``) files that are not one run's segments; returns the warnings."""
    problems: list[str] = []
    first_path, first = files[0]

    def differs(what: str, key) -> None:
        values: dict[str, list[str]] = {}
        for path, doc in files:
            values.setdefault(json.dumps(key(doc), sort_keys=True), []).append(path)
        if len(values) > 1:
            shown = "; ".join(f"{', '.join(paths)}: {value}" for value, paths in values.items())
            problems.append(f"{what}: {shown}")

    differs("files from different runs (run ids differ)", lambda d: d["segment"]["run_id"])
    differs(
        "files from different targets",
        lambda d: [d["target"]["method"], d["target"]["url"], d["target"]["payload"], d["target"]["month"]],
    )
    differs("segments with different loads (model, rate, workers)", lambda d: [d["model"], d["rate"], d["concurrency"]])
    differs(
        "segments with different run lengths (duration, requests)", lambda d: [d["duration_s"], d["requests_limit"]]
    )
    differs("segments of different splits (segment counts)", lambda d: d["segment"]["count"])
    differs("segments with different stream settings (--stream, prompts, model, max_tokens)", _stream_settings)
    if problems:
        raise MergeRefused(problems)
    count = first["segment"]["count"]
    by_index: dict[int, list[str]] = {}
    for path, doc in files:
        by_index.setdefault(doc["segment"]["index"], []).append(path)
    for index, paths in sorted(by_index.items()):
        if len(paths) > 1:
            problems.append(f"segment {index}/{count} given more than once: {', '.join(paths)}")
    missing = [i for i in range(count) if i not in by_index]
    if missing and not allow_missing:
        problems.append(
            f"segment{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{count}' for i in missing)} missing"
            " (--allow-missing merges the others)"
        )
    if problems:
        raise MergeRefused(problems)

    warnings: list[str] = []
    if missing:
        warnings.append(
            f"{len(missing)} of {count} segments missing ({', '.join(f'{i}/{count}' for i in missing)}):"
            " the totals cover only the segments given"
        )
    for path, doc in files:
        if doc.get("partial"):
            warnings.append(f"{_label(doc)} ({path}) is partial: {doc.get('partial_reason') or 'no reason given'}")
    seeds = {doc["segment"]["seed"] for _, doc in files}
    if len(seeds) > 1:
        warnings.append(f"segments used different --seed values ({sorted(seeds)}): their payload rows may overlap")
    starts = {doc["segment"]["start_at"] for _, doc in files}
    if len(starts) > 1:
        lo, hi = min(s for s in starts if s is not None), max(s for s in starts if s is not None)
        warnings.append(
            f"segments started on different seconds ({hi - lo:g} s apart): their schedules do not interleave"
            " as one (give them a common --start-at)"
        )
    rate = first["rate"]
    for path, doc in files:
        raw, seg = doc["raw"], doc["segment"]
        if raw["first_send_at"] is None or raw["started_at"] is None:
            continue
        due = raw["started_at"]
        if rate:  # the segment's first intended send time
            due = Schedule(rate, due, seg.get("ramp_up_s") or 0.0, seg["index"], seg["count"]).time()
        late = raw["first_send_at"] - due
        if late > LATE_START_S:
            warnings.append(
                f"{_label(doc)} ({path}) sent its first request {late:.1f} s after its scheduled start:"
                " a late start, or its host's clock disagrees"
            )
    ends = [doc["raw"]["last_send_at"] for _, doc in files if doc["raw"]["last_send_at"] is not None]
    if first["duration_s"] and len(ends) > 1 and max(ends) - min(ends) > 2 * LATE_START_S:
        warnings.append(
            f"the segments' last sends are {max(ends) - min(ends):.1f} s apart: a segment stopped early,"
            " fell behind, or the hosts' clocks disagree"
        )
    return warnings


def _stream_settings(doc: dict[str, Any]) -> dict[str, Any] | None:
    """A --stream segment's settings (None: a plain run, or a file from before --stream)."""
    stream = doc.get("stream")
    return stream.get("settings") if isinstance(stream, dict) else None


def config_of(doc: dict[str, Any]) -> LoadConfig:
    target = doc["target"]
    settings = _stream_settings(doc)
    stream = None
    if settings is not None:
        prompts = settings["prompts"]
        stream = StreamOptions(
            api=settings["api"],
            max_tokens=settings["max_tokens"],
            model=settings["model"],
            prompts_file=prompts.get("file"),
            prompt_tokens=prompts.get("generated_tokens_mean"),
            prompt_tokens_stddev=prompts.get("generated_tokens_stddev") or 0.0,
            ignore_eos=settings.get("ignore_eos", False),
        )
    return LoadConfig(
        stream=stream,
        url=target["url"],
        rate=doc["rate"],
        concurrency=doc["concurrency"],
        duration=doc["duration_s"],
        requests=doc["requests_limit"],
        payload=target["payload"],
        month=target["month"] or "month_005",
    )


def merge(files: list[tuple[str, dict[str, Any]]], allow_missing: bool = False) -> dict[str, Any]:
    """The merged ``streamflow.load/1`` report of segment files (``MergeRefused`` when they are not one run)."""
    warnings = check(files, allow_missing)
    first = files[0][1]
    config = config_of(first)
    stats = merge_exports([doc["raw"] for _, doc in files], config, wall_offset=0.0)
    out = report.build(config, stats)
    origin = stats.started
    for row in out["timeline"]:
        row["at"] = int(origin + 1e-6) + row["second"]
    docs = [doc for _, doc in files]
    hosts = sorted({d["segment"]["host"] for d in docs})
    out["segments"] = {
        "run_id": first["segment"]["run_id"],
        "count": first["segment"]["count"],
        "merged": len(files),
        "indexes": sorted(d["segment"]["index"] for d in docs),
        "hosts": hosts,
        "files": [path for path, _ in files],
        "partial": [f"{d['segment']['index']}/{d['segment']['count']}" for d in docs if d.get("partial")],
        "start_at": sorted({d["segment"]["start_at"] for d in docs}, key=lambda v: (v is None, v)),
    }
    out["partial"] = bool(out["segments"]["partial"]) or len(files) < first["segment"]["count"]
    out["warnings"] = warnings + out["warnings"]
    out["histograms"] = {
        k: v.encode().decode() for k, v in (("corrected", stats.corrected), ("uncorrected", stats.uncorrected))
    }
    if stats.stream is not None and "stream" in out:  # the merged stream histograms, encoded as in raw.stream
        out["stream"]["histograms"] = stats.stream.export()["histograms"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="streamflow-load merge",
        description="Merge segments' result files (streamflow-load --segment i/N --output FILE) into one report.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the merged streamflow.load/1 JSON report")
    p.add_argument("--allow-missing", action="store_true", help="merge even when segments are missing (warned)")
    args = p.parse_args(argv)
    problems: list[str] = []
    files = []
    for path in args.files:
        try:
            files.append((path, load(path)))
        except MergeRefused as exc:
            problems += exc.problems
    try:
        if problems:
            raise MergeRefused(problems)
        merged = merge(files, args.allow_missing)
    except MergeRefused as exc:
        for problem in exc.problems:
            print(f"streamflow-load merge: refused: {problem}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(merged, indent=2))
    else:
        sys.stdout.write(report.render(merged))
    totals = merged["totals"]
    return 1 if totals["sent"] and not totals["ok"] else 0
