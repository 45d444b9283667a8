"""The churn model: it learns something real, and the served arithmetic equals scikit-learn's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sklearn.metrics import roc_auc_score

import streamflow_data as sd
from api import model as model_mod
from api.model import load_or_train, model_version
from streamflow_data.schema import LABEL


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return load_or_train("month_000", tmp_path_factory.mktemp("models"))


def test_auc_on_next_month(trained):
    rows = list(sd.iter_rows("month_001"))
    auc = roc_auc_score([r[LABEL] for r in rows], [trained.probability(r) for r in rows])
    assert auc >= 0.75
    assert trained.metrics["auc_next_month"] == pytest.approx(auc, abs=1e-4)


def test_served_arithmetic_equals_scikit_learn(trained):
    pipeline = model_mod.fit_pipeline("month_000")
    for month in ("month_001", "month_003"):
        frame = sd.load_frame(month)
        expected = model_mod.predict_frame(pipeline, frame)
        rows = list(sd.iter_rows(month))
        got = [trained.probability(row) for row in rows]
        assert max(abs(a - b) for a, b in zip(got, expected)) < 1e-9


def test_version_identifies_data_and_parameters(monkeypatch):
    v0 = model_version("month_000")
    assert v0.startswith("month_000-") and v0 == model_version("month_000")
    assert model_version("month_001") != v0
    monkeypatch.setitem(model_mod.PARAMS, "C", 0.5)
    assert model_version("month_000") != v0


def test_cache_is_used_and_start_needs_no_scikit_learn(trained, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "models0"
    files = list(cache.glob("model-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["version"] == trained.version
    code = (
        "import sys; from pathlib import Path; from api.model import load_or_train;"
        f"m = load_or_train('month_000', Path({str(cache)!r}));"
        "print(m.version, 'sklearn' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [trained.version, "False", "False"]


def test_corrupt_cache_is_retrained(tmp_path):
    version = model_version("month_000")
    (tmp_path / f"model-{version}.json").write_text("{not json")
    assert load_or_train("month_000", tmp_path).version == version
    assert json.loads((tmp_path / f"model-{version}.json").read_text())["version"] == version


def test_extreme_inputs_give_a_probability(trained):
    row = dict(next(sd.iter_rows("month_000")))
    for value in (0, 1e6, 1e300):
        row["skips_7d"] = value
        p = trained.probability(row)
        assert 0.0 <= p <= 1.0


def test_vectorised_scores_equal_the_served_arithmetic(tmp_path):
    """api.model.probabilities (retraining, the registry's reference counts) and ChurnModel.probability (the
    request path) are two codings of one model: they must agree row by row, missing values included."""
    model = load_or_train("month_000", tmp_path)
    frame = sd.load_frame("month_003")  # has missing ticket_avg_resolution_hrs_90d
    assert frame["ticket_avg_resolution_hrs_90d"].isna().any()
    vectorised = model_mod.probabilities(model, frame)
    per_row = [model.probability(row) for row in sd.iter_rows("month_003")]
    assert max(abs(a - b) for a, b in zip(vectorised, per_row)) < 1e-12
    assert sum(model_mod.score_counts(model, frame)) == len(frame)
