"""What runs inside the drift worker process: load, validate, run Evidently, write reports.

pandas and Evidently are imported here, inside functions, so that importing
this module in the console's process costs nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from streamflow_data.schema import CATEGORICAL_FEATURES, FEATURES, LABEL, NUMERIC_FEATURES

from . import distribution
from .drift_types import ColumnDrift, DriftRequest, DriftResult, decide
from .errors import DriftError

MIN_ROWS = 30
_PENDING_HTML: OrderedDict[str, tuple[Any, Any, Any, Path]] = OrderedDict()  # token -> (report, cur, ref, html path)
_KEEP_PENDING = 4


def warm_up() -> None:
    """Process initializer: pay Evidently's import once, before the first request."""
    import evidently  # noqa: F401
    import pandas  # noqa: F401
    from evidently import DataDefinition, Dataset, Report  # noqa: F401
    from evidently.metrics import ValueDrift  # noqa: F401


def ping() -> int:
    return os.getpid()


# -- datasets ---------------------------------------------------------------------------


def _load(spec: str, api_url: str | None, side: str):
    import pandas as pd

    if spec == "live":
        return _load_live(api_url, side)
    if re.fullmatch(r"month_\d{3}", spec):
        import streamflow_data as sd

        try:
            sd.month_path(spec)
        except sd.UnknownMonthError as exc:
            raise DriftError(f"{side}: {exc}") from None
        return _bundled_month(spec).copy(), spec, sd.MONTH_AS_OF[spec].isoformat()
    path = Path(spec)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise DriftError(
            f"{side}: unknown dataset {spec!r}: give a bundled month (month_000…month_005), "
            "a .csv or .parquet file, or live"
        )
    if not path.is_file():
        raise DriftError(f"{side}: no such file {spec}")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # unreadable, malformed, missing engine…
        raise DriftError(f"{side}: cannot read {spec}: {type(exc).__name__}: {exc}") from None
    as_of = path.stem
    if "as_of" in frame.columns and frame["as_of"].nunique() == 1:
        as_of = str(frame["as_of"].iloc[0])
    return frame, spec, as_of


@lru_cache(maxsize=8)
def _bundled_month(month: str):
    """Bundled months never change while the worker lives; callers get copies."""
    import streamflow_data as sd

    return sd.load_frame(month)


def _load_live(api_url: str | None, side: str):
    import httpx
    import pandas as pd

    if not api_url:
        raise DriftError(f"{side}: live data needs the API's URL")
    url = api_url.rstrip("/") + "/monitoring/recent"
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        raise DriftError(f"{side}: cannot fetch live rows from {url}: {exc or type(exc).__name__}") from None
    if response.status_code != 200:
        raise DriftError(f"{side}: {url} answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
        frame = pd.DataFrame(body["rows"], columns=body["columns"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DriftError(f"{side}: {url} did not answer with live rows: {exc}") from None
    if frame.empty:
        raise DriftError(f"{side}: the API's live buffer is empty: no predictions were served yet")
    stamp = datetime.now(UTC).strftime("live-%Y%m%dT%H%M%SZ")
    return frame, "live", stamp


def _validate(ref, cur) -> tuple[list[str], list[str], bool]:
    """Checks both sides; returns the numeric and categorical columns to test and whether labels can be compared."""
    import pandas as pd

    for side, frame in (("reference", ref), ("current", cur)):
        missing = [c for c in FEATURES if c not in frame.columns]
        if missing:
            other = cur if side == "reference" else ref
            raise DriftError(
                f"{side} lacks column(s) {', '.join(missing)}"
                + (" that the other dataset has" if all(c in other.columns for c in missing) else "")
            )
        if len(frame) == 0:
            raise DriftError(f"{side} is empty (no rows)")
        if len(frame) < MIN_ROWS:
            raise DriftError(f"{side} has {len(frame)} row(s); a drift check needs at least {MIN_ROWS}")
        for column in NUMERIC_FEATURES:
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = converted.isna() & frame[column].notna()
            if bad.any():
                raise DriftError(f"{side}: column {column} has non-numeric values, e.g. {frame[column][bad].iloc[0]!r}")
            frame[column] = converted
        for column in FEATURES:
            if frame[column].isna().all():
                raise DriftError(f"{side}: column {column} has no values (all missing)")
    with_label = LABEL in ref.columns and LABEL in cur.columns and ref[LABEL].notna().any() and cur[LABEL].notna().any()
    return list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES), bool(with_label)


# -- Evidently ------------------------------------------------------------------------------


def _metrics(request: DriftRequest, numeric: list[str], categorical: list[str], with_label: bool):
    from evidently.metrics import ValueDrift

    methods, thresholds = dict(request.column_methods), dict(request.column_thresholds)
    out = []
    for column in numeric + categorical:
        is_num = column in numeric
        method = methods.get(column, request.num_method if is_num else request.cat_method)
        threshold = thresholds.get(column, request.num_threshold if is_num else request.cat_threshold)
        out.append(ValueDrift(column=column, method=method, threshold=threshold))
    if with_label:
        out.append(
            ValueDrift(
                column=LABEL,
                method=methods.get(LABEL, request.label_method),
                threshold=thresholds.get(LABEL, request.label_threshold),
            )
        )
    return out


def _stattest_names() -> dict[str, str]:
    """Evidently reports auto-chosen tests by display name ("Wasserstein distance (normed)"); map to registry names."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    names = {}
    for by_type in _registered_stat_tests.values():
        for test in by_type.values():
            names[test.display_name] = test.name
    return names


def _column_results(snapshot, numeric: list[str]) -> dict[str, ColumnDrift]:
    """Per-column score, test, threshold and verdict, as Evidently's own tests report them."""
    data = snapshot.dict()
    failed = {
        t["metric_config"]["metric_id"]: t["status"] == "FAIL" for t in data.get("tests", []) if t.get("metric_config")
    }
    names = _stattest_names()
    out = {}
    for metric in data["metrics"]:
        config = metric.get("config") or {}
        column = config.get("column")
        if column is None or metric["id"] not in failed:
            continue
        score = metric.get("value")
        method = str(config.get("method"))
        threshold = config.get("threshold")
        if threshold is None:  # float(None) would fail anyway; say which column's result lacks it
            raise DriftError(f"Evidently's result for {column} has no threshold")
        out[column] = ColumnDrift(
            column=column,
            type="num" if column in numeric else "cat",
            stattest=names.get(method, method),
            score=None if score is None or math.isnan(float(score)) else float(score),
            threshold=float(threshold),
            drifted=failed[metric["id"]],
        )
    return out


@contextmanager
def _without_widgets():
    """Skip the plotly widgets of ValueDrift while computing the table.

    They are ~85 % of a run's time (profiled) and only the HTML report shows
    them; scores, tests and verdicts are computed exactly as before. The HTML
    job runs the same report again with its widgets. The worker runs one job
    at a time, so patching the class here affects nothing else.
    """
    from evidently.metrics.column_statistics import ValueDriftCalculation

    original = ValueDriftCalculation._render
    ValueDriftCalculation._render = lambda self, *args, **kwargs: []
    try:
        yield
    finally:
        ValueDriftCalculation._render = original


def _distribution(reference, current, is_numeric: bool):
    if is_numeric:
        return distribution.numeric(
            reference.to_numpy(dtype=float, na_value=float("nan")), current.to_numpy(dtype=float, na_value=float("nan"))
        )
    return distribution.categorical(reference, current)


def run(request: DriftRequest) -> DriftResult:
    started = time.perf_counter()
    ref, ref_name, ref_as_of = _load(request.reference, request.api_url, "reference")
    cur, cur_name, cur_as_of = _load(request.current, request.api_url, "current")
    numeric, categorical, with_label = _validate(ref, cur)

    from evidently import DataDefinition, Dataset, Report

    columns = numeric + categorical + ([LABEL] if with_label else [])
    definition = DataDefinition(
        numerical_columns=numeric, categorical_columns=categorical + ([LABEL] if with_label else [])
    )
    try:
        ref_ds = Dataset.from_pandas(ref[columns], data_definition=definition)
        cur_ds = Dataset.from_pandas(cur[columns], data_definition=definition)
        report = Report(_metrics(request, numeric, categorical, with_label), include_tests=True)
        with _without_widgets():
            snapshot = report.run(current_data=cur_ds, reference_data=ref_ds)
        by_column = _column_results(snapshot, numeric)
        if len(by_column) != len(columns):
            raise DriftError(f"Evidently returned results for {len(by_column)} of {len(columns)} columns")
    except DriftError:
        raise
    except Exception as exc:  # Evidently's own failures reach the user as a message, not a traceback
        raise DriftError(
            f"Evidently could not compare {ref_name} and {cur_name}: {type(exc).__name__}: {exc}"
        ) from None

    by_column = {
        name: replace(c, distribution=_distribution(ref[name], cur[name], name in numeric))
        for name, c in by_column.items()
    }
    table = sorted(by_column.values(), key=lambda c: (not c.drifted, columns.index(c.column)))
    drifted = sum(c.drifted for c in table)
    share = drifted / len(table)
    label = by_column.get(LABEL)
    churn_ref: float | None = None
    churn_cur: float | None = None
    target_drift: float | None = None
    if with_label:
        churn_ref, churn_cur = float(ref[LABEL].mean()), float(cur[LABEL].mean())
        target_drift = abs(churn_cur - churn_ref)
    result = DriftResult(
        reference=ref_name,
        current=cur_name,
        reference_as_of=ref_as_of,
        current_as_of=cur_as_of,
        rows_reference=len(ref),
        rows_current=len(cur),
        drift_share=share,
        drifted_columns=drifted,
        total_columns=len(table),
        threshold=request.threshold,
        decision=decide(share, request.threshold),
        target_drift=target_drift,
        churn_rate_reference=churn_ref,
        churn_rate_current=churn_cur,
        label_drift=label.drifted if label else None,
        label_test=label,
        columns=tuple(table),
        seconds=time.perf_counter() - started,
    )
    if request.reports_dir is None:
        return result
    token = uuid.uuid4().hex
    # One pair of files per run: a run never overwrites an earlier one (live checks every minute would).
    run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + token[:6]
    base = Path(request.reports_dir) / f"{report_name(ref_as_of, cur_as_of)}_{run}"
    json_path = base.with_suffix(".json")
    document = {
        "streamflow": result.to_json() | {"report_json": str(json_path), "report_html": str(base.with_suffix(".html"))},
        "evidently": snapshot.dict(),
    }
    _write_atomically(json_path, lambda tmp: tmp.write_text(json.dumps(document, indent=1, default=str)))
    prune_reports(Path(request.reports_dir), request.keep_reports)
    _PENDING_HTML[token] = (report, cur_ds, ref_ds, base.with_suffix(".html"))
    while len(_PENDING_HTML) > _KEEP_PENDING:
        _PENDING_HTML.popitem(last=False)
    return replace(result, report_json=str(json_path), token=token, seconds=time.perf_counter() - started)


def write_html(token: str) -> str:
    try:
        report, cur_ds, ref_ds, path = _PENDING_HTML.pop(token)
    except KeyError:
        raise DriftError("that drift run's report is no longer held by the worker") from None
    try:
        snapshot = report.run(current_data=cur_ds, reference_data=ref_ds)
    except Exception as exc:
        raise DriftError(f"Evidently could not render the HTML report: {type(exc).__name__}: {exc}") from None
    # Evidently's save_html needs a str: a Path silently writes nothing.
    _write_atomically(path, lambda tmp: snapshot.save_html(str(tmp)))
    if not path.exists() or path.stat().st_size == 0:
        raise DriftError(f"Evidently wrote no HTML report to {path}")
    return str(path)


def prune_reports(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` runs' reports: scheduled live checks must not fill the disk."""
    runs = sorted(folder.glob("drift_*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".html").unlink(missing_ok=True)


def report_name(ref_as_of: str, cur_as_of: str) -> str:
    return f"drift_{_sanitize(ref_as_of)}_vs_{_sanitize(cur_as_of)}"


def _sanitize(part: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", part).strip("._") or "dataset"
    return cleaned[:80]


def _write_atomically(path: Path, write) -> None:
    """Readers never see half a report; an empty one is an error, not a report."""
    from streamflow_data.files import replace_atomically

    def write_checked(tmp: Path) -> None:
        write(tmp)
        if tmp.stat().st_size == 0:
            raise DriftError(f"nothing was written for {path.name}")

    replace_atomically(path, write_checked)
