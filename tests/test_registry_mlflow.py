"""The registry on a real local MLflow store (SQLite backend, local artifacts; no server needed): versions
are MLflow models with a signature that score like the served arithmetic, lineage lives in the runs, the
aliases are MLflow aliases, and a store that cannot be reached is a clear error that keeps the API serving."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import numpy as np
from conftest import free_port, running_api

import streamflow_data as sd
from api.model import probabilities
from api.registry import CHAMPION, open_registry
from api.retrain import change_champion
from streamflow_data.schema import FEATURES


def retrain(uri: str, month: str) -> tuple[int, dict, str]:
    done = subprocess.run(
        [sys.executable, "-m", "api.retrain_cli", "--data", month, "--registry", "mlflow", "--registry-location", uri],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, json.loads(done.stdout), done.stderr


def test_the_loop_on_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    code, kept, err = retrain(uri, "month_003")
    assert code == 0 and kept["decision"] == "KEPT", err
    first = kept["champion"]["version"]
    code, promoted, err = retrain(uri, "month_004")
    assert code == 0 and promoted["decision"] == "PROMOTED", err
    assert (tmp_path / "mlflow-artifacts").is_dir() and not (tmp_path / "mlruns").exists()

    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("streamflow-churn", "champion")
    assert champion.tags["streamflow_version"] == promoted["challenger"]["version"]
    assert client.get_model_version_by_alias("streamflow-churn", "challenger").version == champion.version
    run = client.get_run(champion.run_id)
    assert run.data.params["parent"] == kept["champion"]["version"] and run.data.params["data"] == "month_004"
    assert abs(run.data.metrics["log_loss"] - promoted["challenger"]["metrics"]["log_loss"]) < 1e-9
    # Three versions: the bundled champion, the month_003 challenger (kept), the month_004 one (promoted).
    assert len(client.search_model_versions("name = 'streamflow-churn'")) == 3

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    loaded = mlflow.pyfunc.load_model("models:/streamflow-churn@champion")
    assert [i.name for i in loaded.metadata.get_input_schema().inputs] == list(
        FEATURES
    )  # the signature: the features in
    rows = sd.load_frame("month_004")
    record = open_registry("mlflow", uri, tmp_path).get(promoted["challenger"]["version"])
    served = probabilities(record.model, rows)
    assert np.allclose(np.asarray(loaded.predict(rows[list(FEATURES)])), served, atol=1e-12)

    # What --rollback and --promote VERSION do (tests/test_promotion.py runs them), here in this process, which
    # has imported MLflow already: MLflow's alias moves back (the champions' history is a tag of the
    # registered model), then to the version named.
    registry = open_registry("mlflow", uri, tmp_path)
    back = change_champion(registry, None)
    assert (back["from"], back["to"]) == (promoted["challenger"]["version"], first)
    assert client.get_model_version_by_alias("streamflow-churn", "champion").tags["streamflow_version"] == first
    assert change_champion(registry, back["from"])["to"] == registry.alias(CHAMPION) == back["from"]


def test_an_unreachable_mlflow_is_a_clear_error_and_the_api_keeps_serving(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, doc, err = retrain(uri, "month_004")
    assert code == 1 and f"MLflow at {uri}" in err and doc["decision"] is None
    assert time.monotonic() - started < 90  # bounded retries, not MLflow's default backoff
    with running_api("--registry", "mlflow", "--registry-location", uri, "--registry-poll", "0") as api:
        health = httpx.get(api + "/health").json()
        assert health["model_version"].startswith("month_000-") and f"MLflow at {uri}" in health["registry"]["error"]
        user = next(sd.iter_rows("month_005"))["user_id"]
        assert httpx.post(api + "/predict", json={"user_id": user}).status_code == 200
        reload = httpx.post(api + "/admin/reload", timeout=60)
        assert reload.status_code == 503 and "still serving month_000-" in reload.json()["detail"]
    assert open_registry("local", tmp_path / "r", tmp_path).alias(CHAMPION) is None  # nothing anywhere else
