"""Each scored row's features counted on the reference's bins, for drift from any metrics backend (#28).

The bins come from the served model's training rows (the reference) and are fixed per model version, so every
replica counts on the same bins and a backend sums them. Per version, per replica:

- numeric feature: ``api_feature_values_total{feature, le}``, cumulative like a histogram's buckets, on up to
  15 edges (the reference's min, 1/5/10…90/95/99 % quantiles and max; a feature with at most 15 distinct values
  gets one edge per value), plus ``+Inf``; ``api_feature_outside_total{feature, side}``: the summed distance of
  values beyond the reference's min (``below``) or max (``above``), which makes the Wasserstein integral outside
  the reference's range exact;
- categorical feature: ``api_feature_categories_total{feature, category}``: the reference's categories and
  ``other``;
- every feature: ``api_feature_missing_total{feature}``.

The reference's own counts are gauges of the same shape (``api_reference_feature_values``,
``api_reference_feature_categories``, ``api_reference_feature_missing``), with the reference's standard
deviation per numeric feature (``api_reference_feature_std``, Evidently's Wasserstein norm) and its label counts
(``api_reference_label_rows{actual}``), so a backend holds both sides. Series per version and replica: see
``series_count`` (373 for the bundled model; docs/DRIFT.md).

Counting is a bisect and an array increment per feature (no prometheus-client child per label: its per-label
cost is a dict lookup and a lock per sample). With ``PROMETHEUS_MULTIPROC_DIR`` set each process counts into its
own memory-mapped file there, ``feature_bins_<version>_<pid>.counts`` (not ``*.db``: those are prometheus-client's),
and /metrics sums every process's file of the versions it knows, as prometheus-client sums its own files.
"""

from __future__ import annotations

import glob
import math
import mmap
import os
import re
import threading
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from streamflow_data.schema import CATEGORICAL_FEATURES, FEATURE_KINDS, FEATURES, LABEL, NUMERIC_FEATURES

# Finer at the tails, where a shift shows first and where wide bins cost the Wasserstein estimate most.
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
DISCRETE_UP_TO = len(QUANTILES)  # at most this many distinct values: one edge per value, exact
OTHER, MISSING = "other", "missing"
KEEP_VERSIONS = 2  # the served version and the one it replaced (a rollout): older counts are dropped
SUFFIX = ".counts"
# STREAMFLOW_API_FEATURE_BINS=0: no feature counters at all (an operator's off switch; bench/feature_bins.py's
# baseline measures /predict with and without them side by side).
SWITCH_ENV = "STREAMFLOW_API_FEATURE_BINS"


@dataclass(frozen=True)
class NumericBins:
    name: str
    edges: tuple[float, ...]  # le values; bucket j counts (edges[j-1], edges[j]], the last one (max, +Inf)
    integral: bool  # integer-valued: the console integrates CDF steps at integers within a bin
    std: float  # the reference's population standard deviation (Evidently's norm)
    offset: int  # buckets at offset..offset+len(edges), then missing, below-sum, above-sum

    @property
    def width(self) -> int:
        return len(self.edges) + 4


@dataclass(frozen=True)
class CategoricalBins:
    name: str
    categories: tuple[Any, ...]  # the reference's values, in their sorted order
    offset: int  # one slot per category, then other, then missing

    @property
    def width(self) -> int:
        return len(self.categories) + 2


@dataclass(frozen=True)
class BinLayout:
    """The bins of one model version, and the reference's counts on them."""

    version: str
    numeric: tuple[NumericBins, ...]
    categorical: tuple[CategoricalBins, ...]
    size: int
    reference: np.ndarray  # the reference's counts, in the same slots as the live ones
    label_rows: tuple[int, int]  # reference rows with churn_label 0 and 1

    def counts_of(self, frame) -> np.ndarray:
        """Count a DataFrame's rows into a fresh array (the reference, tests and validation)."""
        out = np.zeros(self.size)
        for b in self.numeric:
            values = frame[b.name].to_numpy(dtype=float, na_value=np.nan)
            present = values[~np.isnan(values)]
            index = np.searchsorted(np.asarray(b.edges), present, side="left")
            out[b.offset : b.offset + len(b.edges) + 1] += np.bincount(index, minlength=len(b.edges) + 1)
            out[b.offset + len(b.edges) + 1] += values.size - present.size
            out[b.offset + len(b.edges) + 2] += float(np.clip(b.edges[0] - present, 0, None).sum())
            out[b.offset + len(b.edges) + 3] += float(np.clip(present - b.edges[-1], 0, None).sum())
        for c in self.categorical:
            column = frame[c.name]
            missing = column.isna()
            known = {v: i for i, v in enumerate(c.categories)}
            other = len(c.categories)
            slots = np.array([known.get(v, other) for v in column[~missing]], dtype=int)
            out[c.offset : c.offset + len(c.categories) + 1] += np.bincount(slots, minlength=len(c.categories) + 1)
            out[c.offset + len(c.categories) + 1] += int(missing.sum())
        return out


def layout_of(frame, version: str) -> BinLayout:
    """The bins of ``version`` from its training rows (a DataFrame with the schema's columns)."""
    numeric, categorical, offset = [], [], 0
    for name in NUMERIC_FEATURES:
        values = frame[name].to_numpy(dtype=float, na_value=np.nan)
        values = values[~np.isnan(values)]
        distinct = np.unique(values)
        if distinct.size == 0:
            edges: tuple[float, ...] = (0.0,)
        elif distinct.size <= DISCRETE_UP_TO:
            edges = tuple(float(v) for v in distinct)
        else:
            edges = tuple(float(v) for v in np.unique(np.quantile(values, QUANTILES, method="inverted_cdf")))
        std = float(np.std(values)) if values.size else 0.0
        numeric.append(NumericBins(name, edges, FEATURE_KINDS[name] == "int", std, offset))
        offset += numeric[-1].width
    for name in CATEGORICAL_FEATURES:
        categories = tuple(sorted(frame[name].dropna().unique().tolist(), key=str))
        categorical.append(CategoricalBins(name, categories, offset))
        offset += categorical[-1].width
    empty = BinLayout(version, tuple(numeric), tuple(categorical), offset, np.zeros(0), (0, 0))
    labels = frame[LABEL].dropna().astype(int) if LABEL in frame.columns else frame.iloc[:0, 0]
    label_rows = (int((labels == 0).sum()), int((labels == 1).sum()))
    return BinLayout(version, empty.numeric, empty.categorical, offset, empty.counts_of(frame), label_rows)


def series_count(layout: BinLayout) -> int:
    """Series one replica exports for one version (live and reference); documented as ≤ 400."""
    live = sum(len(b.edges) + 1 + 2 + 1 for b in layout.numeric) + sum(c.width for c in layout.categorical)
    reference = sum(len(b.edges) + 1 + 1 + 1 for b in layout.numeric) + sum(c.width for c in layout.categorical)
    return live + reference + 2


class FeatureCounter:
    """The live counts of one version in one process: doubles in a buffer (a memory-mapped file when several
    workers share a metrics directory), written through a memoryview. Item assignment on a memoryview costs a
    few tens of ns; a numpy fancy-index update cost ~3 µs a row (its index list becomes an array first)."""

    def __init__(self, layout: BinLayout, folder: str | None):
        self.layout = layout
        self.path: str | None = None
        size = layout.size * 8
        self._buffer: mmap.mmap | bytearray
        if folder:
            self.path = os.path.join(folder, f"feature_bins_{_safe(layout.version)}_{os.getpid()}{SUFFIX}")
            with open(self.path, "a+b") as file:  # created empty, or this process's earlier counts kept
                if os.fstat(file.fileno()).st_size < size:
                    file.truncate(size)
                self._buffer = mmap.mmap(file.fileno(), size)
        else:
            self._buffer = bytearray(size)
        self._view = memoryview(self._buffer).cast("d")
        self._lock = threading.Lock()
        # Per feature what the hot path needs, resolved once.
        self._numeric = tuple(
            (b.name, b.offset, list(b.edges), b.offset + len(b.edges) + 1, b.edges[0], b.edges[-1])
            for b in layout.numeric
        )
        self._categorical = tuple(
            (c.name, {v: c.offset + i for i, v in enumerate(c.categories)}, c.offset + len(c.categories))
            for c in layout.categorical
        )

    @property
    def counts(self) -> np.ndarray:
        """A numpy view of the counts (shares the buffer: a copy is the caller's to take)."""
        return np.frombuffer(self._buffer, dtype=np.float64)

    def observe(self, features: Mapping[str, Any]) -> None:
        view = self._view
        get = features.get
        with self._lock:
            for name, offset, edges, missing, low, high in self._numeric:
                value = get(name)
                if value is None or value != value:  # None or NaN
                    view[missing] += 1.0
                    continue
                view[offset + bisect_left(edges, value)] += 1.0
                if value < low:
                    view[missing + 1] += low - value
                elif value > high:
                    view[missing + 2] += value - high
            for name, known, other in self._categorical:
                value = get(name)
                view[other + 1 if value is None else known.get(value, other)] += 1.0


class FeatureBins:
    """prometheus-client collector of the live and reference counts; ``observe`` is /predict's hook."""

    def __init__(self):
        self.folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.enabled = os.environ.get(SWITCH_ENV, "1") != "0"
        self.current: FeatureCounter | None = None
        self._layouts: dict[str, BinLayout] = {}  # newest last
        self._counters: dict[str, FeatureCounter] = {}

    def set_reference(self, layout: BinLayout | None) -> None:
        """The served version changed (None: its training rows are not at hand, nothing is counted)."""
        if layout is None or not self.enabled:
            self.current = None
            return
        self._layouts.pop(layout.version, None)
        self._layouts[layout.version] = layout
        while len(self._layouts) > KEEP_VERSIONS:
            old = next(iter(self._layouts))
            del self._layouts[old]
            self._counters.pop(old, None)
        counter = self._counters.get(layout.version) or FeatureCounter(layout, self.folder)
        self._counters[layout.version] = counter
        self.current = counter

    def observe(self, features: Mapping[str, Any]) -> None:
        counter = self.current
        if counter is not None:
            counter.observe(features)

    def live_counts(self, version: str) -> np.ndarray | None:
        """This replica's counts of ``version``: every worker's file summed, or this process's array."""
        layout = self._layouts.get(version)
        if layout is None:
            return None
        if not self.folder:
            counter = self._counters.get(version)
            return None if counter is None else np.array(counter.counts)
        total = np.zeros(layout.size)
        for path in glob.glob(os.path.join(self.folder, f"feature_bins_{_safe(version)}_*{SUFFIX}")):
            if os.path.getsize(path) == layout.size * 8:
                total += np.fromfile(path, dtype=np.float64)
        return total

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Any] = _families()
        for version, layout in self._layouts.items():
            live = self.live_counts(version)
            if live is not None:
                _add(families, layout, live, reference=False)
            _add(families, layout, layout.reference, reference=True)
        yield from families.values()


def _families() -> dict[str, Any]:  # Counter/GaugeMetricFamily: add_metric is theirs
    v, f = "version", "feature"
    return {
        "values": CounterMetricFamily(
            "api_feature_values",
            "Scored rows' numeric feature values at or below each reference bin edge (le), by model version.",
            labels=[v, f, "le"],
        ),
        "outside": CounterMetricFamily(
            "api_feature_outside",
            "Summed distance of scored values beyond the reference's range (below its min, above its max).",
            labels=[v, f, "side"],
        ),
        "categories": CounterMetricFamily(
            "api_feature_categories",
            "Scored rows by categorical feature value (the reference's categories, then other).",
            labels=[v, f, "category"],
        ),
        "missing": CounterMetricFamily(
            "api_feature_missing", "Scored rows with no value for the feature.", labels=[v, f]
        ),
        "ref_values": GaugeMetricFamily(
            "api_reference_feature_values",
            "Training rows of the served model with the numeric feature at or below each bin edge (le).",
            labels=[v, f, "le"],
        ),
        "ref_categories": GaugeMetricFamily(
            "api_reference_feature_categories",
            "Training rows of the served model by categorical feature value.",
            labels=[v, f, "category"],
        ),
        "ref_missing": GaugeMetricFamily(
            "api_reference_feature_missing", "Training rows with no value for the feature.", labels=[v, f]
        ),
        "ref_std": GaugeMetricFamily(
            "api_reference_feature_std",
            "Standard deviation of the training rows' numeric feature (the Wasserstein distance's norm).",
            labels=[v, f, "values"],
        ),
        "ref_label": GaugeMetricFamily(
            "api_reference_label_rows", "Training rows by churn label.", labels=[v, "actual"]
        ),
    }


def _add(families: dict[str, Any], layout: BinLayout, counts: np.ndarray, *, reference: bool) -> None:
    version, prefix = layout.version, "ref_" if reference else ""
    values, categories, missing = (
        families[prefix + "values"],
        families[prefix + "categories"],
        families[prefix + "missing"],
    )
    for b in layout.numeric:
        buckets = counts[b.offset : b.offset + len(b.edges) + 1]
        cumulative = np.cumsum(buckets)
        for edge, total in zip((*b.edges, math.inf), cumulative):
            values.add_metric([version, b.name, floatToGoString(edge)], float(total))
        after = b.offset + len(b.edges) + 1
        missing.add_metric([version, b.name], float(counts[after]))
        if reference:
            families["ref_std"].add_metric([version, b.name, "integer" if b.integral else "real"], b.std)
        else:
            families["outside"].add_metric([version, b.name, "below"], float(counts[after + 1]))
            families["outside"].add_metric([version, b.name, "above"], float(counts[after + 2]))
    for c in layout.categorical:
        for i, category in enumerate((*c.categories, OTHER)):
            categories.add_metric([version, c.name, str(category)], float(counts[c.offset + i]))
        missing.add_metric([version, c.name], float(counts[c.offset + len(c.categories) + 1]))
    if reference:
        for actual, rows in enumerate(layout.label_rows):
            families["ref_label"].add_metric([version, str(actual)], float(rows))


def _safe(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", version)


@lru_cache(maxsize=4)
def reference_layout(training_data: str, version: str) -> BinLayout | None:
    """The bins of a model trained on a bundled month; None for other training data (a file, live rows).
    Cached: a hot reload back to an earlier champion, or several apps in one process (tests), pay it once."""
    import streamflow_data as sd

    try:
        frame = sd.load_frame(training_data)
    except (sd.UnknownMonthError, ValueError, OSError):
        return None
    return layout_of(frame, version)


__all__ = ["FEATURES", "BinLayout", "FeatureBins", "layout_of", "reference_layout", "series_count"]
