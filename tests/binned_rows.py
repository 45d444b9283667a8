"""Binned counts without a backend: the API's feature-bin collector read as Prometheus would answer the fleet
drift queries (core/fleet_drift.py), for the validation against Evidently and the single-process checks."""

from __future__ import annotations

import time

import pandas as pd

from api.feature_bins import BinLayout, FeatureBins
from streamflow_data.schema import LABEL
from streamflow_tui.core.fleet_drift import TAG, FleetDriftResult, current_of, group, reference_of, result_of

PARTS = {
    "api_feature_values": "values",
    "api_feature_categories": "categories",
    "api_feature_missing": "missing",
    "api_feature_outside": "outside",
    "api_reference_feature_values": "values",
    "api_reference_feature_categories": "categories",
    "api_reference_feature_missing": "missing",
    "api_reference_feature_std": "std",
    "api_reference_label_rows": "label",
}


def collector_rows(bins: FeatureBins) -> tuple[list, list]:
    """(live rows, reference rows) as (labels, value) pairs, tagged as the fleet queries tag them."""
    live, reference = [], []
    for family in bins.collect():
        side = reference if family.name.startswith("api_reference_") else live
        for sample in family.samples:
            side.append(({**sample.labels, TAG: PARTS[family.name]}, float(sample.value)))
    return live, reference


def counted_bins(layout: BinLayout, frame: pd.DataFrame) -> FeatureBins:
    """A collector holding ``frame``'s rows, counted as /predict counts them (row by row)."""
    bins = FeatureBins()
    bins.folder = None  # in memory, whatever the environment says
    bins.set_reference(layout)
    for row in frame.to_dict("records"):
        bins.observe({k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()})
    return bins


def binned_result(layout: BinLayout, frame: pd.DataFrame, *, with_label: bool = True) -> FleetDriftResult:
    """The fleet drift result of ``frame``'s rows against ``layout``'s reference, as one window."""
    live, reference = collector_rows(counted_bins(layout, frame))
    refs, lives = group(reference), group(live)
    label = {}
    if with_label and LABEL in frame.columns:
        label = {"0": float((frame[LABEL] == 0).sum()), "1": float((frame[LABEL] == 1).sum())}
    ref_parts = refs[layout.version]
    return result_of(
        reference_of(ref_parts),
        current_of(lives[layout.version], ref_parts, label),
        version=layout.version,
        replicas=1,
        window_s=0,
        at=time.time(),
    )
