"""The API's feature-bin counters (#28): bounded series, the reference's own counts, every worker counted."""

from __future__ import annotations

import httpx
from binned_rows import counted_bins
from conftest import running_api
from metrics_text import samples, total
from prometheus_client import CollectorRegistry, generate_latest
from waiting import wait_until

import streamflow_data as sd
from api.feature_bins import layout_of, series_count


def test_series_are_bounded_and_the_reference_counts_are_month_000s():
    frame = sd.load_frame("month_000")
    layout = layout_of(frame, "v1")
    registry = CollectorRegistry()
    registry.register(counted_bins(layout, frame.iloc[:100]))
    parsed = samples(generate_latest(registry).decode())
    exposed = [key for key in parsed if key[0].startswith(("api_feature", "api_reference"))]
    assert len(exposed) == series_count(layout) <= 400
    for category, rows in frame["net_service"].value_counts().items():
        assert total(parsed, "api_reference_feature_categories", feature="net_service", category=category) == rows
    fee = frame["monthly_fee"]
    assert total(parsed, "api_reference_feature_values", feature="monthly_fee", le="+Inf") == fee.notna().sum()
    resolution = "ticket_avg_resolution_hrs_90d"
    assert total(parsed, "api_reference_feature_missing", feature=resolution) == frame[resolution].isna().sum() > 0
    assert total(parsed, "api_feature_values_total", feature="monthly_fee", le="+Inf") == 100
    assert {dict(labels).get("version") for _, labels in exposed} == {"v1"}  # labelled with the model version


def test_every_worker_is_counted_whichever_answers_the_scrape():
    with running_api("--workers", "2") as url:
        for _ in range(40):
            with httpx.Client(base_url=url, timeout=10) as fresh:  # a new connection: either worker
                assert fresh.post("/predict", json={"user_id": "4369-PFYCS"}).status_code == 200
        seen: dict[int, float] = {}

        def both_workers_say_40() -> bool:
            with httpx.Client(base_url=url, timeout=10) as fresh:
                pid = fresh.get("/health").json()["pid"]
                text = fresh.get("/metrics").text
            seen[pid] = total(samples(text), "api_feature_values_total", feature="months_active", le="+Inf")
            return len(seen) == 2 and set(seen.values()) == {40.0}

        wait_until(both_workers_say_40, 30, "both workers expose the 40 rows", interval=0, seen=lambda: seen)
