"""The materialised feature store read from its JSON cache equals the one built from the CSV months; a
corrupted cache is rebuilt, never served."""

from __future__ import annotations

from api.store import FeatureStore


def test_the_cached_store_equals_the_built_one(tmp_path):
    built = FeatureStore("month_003")
    first = FeatureStore("month_003", tmp_path)  # builds and writes the cache
    (cache,) = tmp_path.glob("store-month_003-*.json")
    again = FeatureStore("month_003", tmp_path)  # reads it
    for store in (first, again):
        assert len(store) == len(built) and store.latest_in_month == built.latest_in_month == 7000
        assert all(dict(store.get(u)) == dict(built.get(u)) for u in built.user_ids())
    cache.write_text('{"rows": {"x": [1')  # torn
    rebuilt = FeatureStore("month_003", tmp_path)
    assert len(rebuilt) == len(built) and dict(rebuilt.get("x") or {}) == {}
