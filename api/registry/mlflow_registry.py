"""The registry on MLflow's model registry (``pip install '.[mlflow]'``, ``--registry mlflow``).

Each version is an MLflow model (a pyfunc with a signature: the features in, the churn probability out)
logged in a run that carries its lineage as parameters and its held-out metrics as metrics, and registered
under one registered model. Our version string is the model version's ``streamflow_version`` tag; the
aliases are MLflow's own aliases (``champion``, ``challenger``), not the deprecated stages. The record
itself is an artifact of the run, so any MLflow store gives back exactly what was registered.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import wraps
from pathlib import Path

from .base import ModelRecord, RegistryError

MODEL_NAME = os.environ.get("STREAMFLOW_MLFLOW_MODEL", "streamflow-churn")
VERSION_TAG = "streamflow_version"
CHAMPIONS_TAG = "streamflow_champions"  # the champions' history, a JSON list on the registered model
RECORD_ARTIFACT = "streamflow-record.json"
EXPERIMENT = "streamflow-retrain"


def _said(method):
    """MLflow's failures (a store down, a missing version) as RegistryError naming the store."""

    @wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except RegistryError:
            raise
        except Exception as exc:  # MlflowException, and the HTTP/SQL errors under it
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RegistryError(f"MLflow at {self.location}: {message}") from None

    return call


class ChurnPyfunc:
    """The pyfunc wrapper MLflow stores: the record's arithmetic, so ``mlflow.pyfunc.load_model`` scores rows."""

    @staticmethod
    def python_model():
        from mlflow.pyfunc.model import PythonModel  # where it is defined (mypy does not see the re-export)

        class Model(PythonModel):
            def load_context(self, context):
                from api.model import ChurnModel

                self.model = ChurnModel(**json.loads(Path(context.artifacts["record"]).read_text())["model"])

            def predict(self, context, model_input, params=None):
                from api.model import probabilities

                return probabilities(self.model, model_input)

        return Model()


class MlflowRegistry:
    kind = "mlflow"

    def __init__(self, tracking_uri: str | None):
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise RegistryError(
                "--registry mlflow needs MLflow: pip install '.[mlflow]' (the optional extra)"
            ) from None
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise RegistryError("--registry mlflow needs a tracking URI: --registry-location or MLFLOW_TRACKING_URI")
        # A store that is down must fail in seconds, not after MLflow's default seven retries with backoff.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
        os.environ.setdefault(
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"
        )  # a poll every few seconds: no bars in the log
        self.location = uri
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def _experiment(self) -> str:
        """Our runs' experiment. With a SQLite store its artifacts go beside the database file, not into
        ./mlruns of whatever directory the command ran in; a tracking server decides for itself."""
        found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return found.experiment_id
        location = None
        if self.location.startswith("sqlite:///"):
            location = (Path(self.location.removeprefix("sqlite:///")).resolve().parent / "mlflow-artifacts").as_uri()
        return self.client.create_experiment(EXPERIMENT, artifact_location=location)

    def _find(self, version: str):
        found = self.client.search_model_versions(f"name = '{MODEL_NAME}' and tags.{VERSION_TAG} = '{version}'")
        return found[0] if found else None

    @_said
    def register(self, record: ModelRecord) -> None:
        import mlflow
        import pandas as pd
        from mlflow.models import infer_signature

        from streamflow_data import load_frame
        from streamflow_data.schema import FEATURES

        if self._find(record.version) is not None:
            return  # the same version twice is one
        mlflow.set_tracking_uri(self.location)
        mlflow.set_registry_uri(self.location)
        example = load_frame("month_000")[list(FEATURES)].head(5)
        from ..model import probabilities

        signature = infer_signature(example, pd.Series(probabilities(record.model, example), name="churn_probability"))
        with (
            tempfile.TemporaryDirectory() as folder,
            mlflow.start_run(experiment_id=self._experiment(), run_name=record.version),
        ):
            path = Path(folder) / RECORD_ARTIFACT
            path.write_text(json.dumps(record.to_json()))
            mlflow.log_params(
                {
                    "version": record.version,
                    "data": record.data,
                    "data_hash": record.data_hash[:64],
                    "rows": record.rows,
                    "parent": record.parent or "",
                    "algorithm": "logistic-regression",
                }
            )
            mlflow.log_metrics({k: float(v) for k, v in record.metrics.items() if isinstance(v, (int, float))})
            mlflow.log_artifact(str(path))
            logged = mlflow.pyfunc.log_model(
                name="model",
                python_model=ChurnPyfunc.python_model(),
                artifacts={"record": str(path)},
                signature=signature,
                pip_requirements=["streamflow-console"],
            )
            mlflow.register_model(
                logged.model_uri, MODEL_NAME, tags={VERSION_TAG: record.version, "parent": record.parent or ""}
            )

    @_said
    def get(self, version: str) -> ModelRecord:
        found = self._find(version)
        if found is None:
            raise RegistryError(
                f"model version {version} is not in MLflow's registered model {MODEL_NAME} at {self.location}"
            )
        with tempfile.TemporaryDirectory() as folder:
            local = self.client.download_artifacts(found.run_id, RECORD_ARTIFACT, folder)
            try:
                return ModelRecord.from_json(json.loads(Path(local).read_text()))
            except (ValueError, TypeError, KeyError) as exc:
                raise RegistryError(f"MLflow run {found.run_id}: {RECORD_ARTIFACT} is corrupted ({exc})") from None

    @_said
    def alias(self, name: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_model_version_by_alias(MODEL_NAME, name)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                return None  # no registered model yet, or no version has this alias yet
            raise
        return found.tags.get(VERSION_TAG)

    @_said
    def set_alias(self, name: str, version: str) -> None:
        self.get(version)  # complete and readable, or no alias names it
        self.client.set_registered_model_alias(MODEL_NAME, name, self._find(version).version)

    @_said
    def champions(self) -> list[str]:
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(MODEL_NAME).tags
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                return []  # nothing registered yet
            raise
        try:
            doc = json.loads(tags.get(CHAMPIONS_TAG) or "[]")
        except ValueError:
            doc = None
        if not isinstance(doc, list) or not all(isinstance(v, str) for v in doc):
            raise RegistryError(f"the tag {CHAMPIONS_TAG} of {MODEL_NAME} at {self.location} is not a list of versions")
        return doc

    @_said
    def set_champions(self, versions: list[str]) -> None:
        self.client.set_registered_model_tag(MODEL_NAME, CHAMPIONS_TAG, json.dumps(versions))
