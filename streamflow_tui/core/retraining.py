"""Retraining through a command, not an import: the console's ``r`` and ``--once --retrain`` run
``streamflow-retrain … `` — or a user's own pipeline (``--retrain-cmd``) — as a process, and read the
``streamflow.retrain/1`` decision it prints on stdout (docs/schemas/retrain.schema.json).

So the console carries no training code: it works the same whether the model behind the API is ours,
trained by a Prefect flow, or by a CI job, as long as the command prints the decision.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streamflow_data.policy import DEFAULT_MIN_GAIN, DEFAULT_REGISTRY

from .errors import RetrainError

SCHEMA = "streamflow.retrain/1"
TIMEOUT_S = 900.0  # a retrain that has not decided by then is stuck
# What a --retrain-cmd can name; each {name} is replaced in every word of the command.
PLACEHOLDERS = ("data", "api_url", "min_gain", "registry", "registry_location")


class RetrainOutcome(StrEnum):
    PROMOTED = "PROMOTED"
    KEPT = "KEPT"


@dataclass(frozen=True)
class RetrainJob:
    """What to retrain on, and with which command."""

    data: str  # a bundled month, a file, or "live"
    api_url: str | None = None
    min_gain: float = DEFAULT_MIN_GAIN
    registry: str = DEFAULT_REGISTRY
    registry_location: str | None = None
    cache_dir: str | None = None  # None: the API's default
    command: str | None = None  # --retrain-cmd; None: streamflow-retrain


@dataclass(frozen=True)
class ModelMetrics:
    """Scores of one model on the held-out rows (None where the command did not give one)."""

    log_loss: float | None = None
    roc_auc: float | None = None
    brier: float | None = None
    mean_predicted: float | None = None
    observed_rate: float | None = None
    calibration_error: float | None = None


@dataclass(frozen=True)
class RetrainedModel:
    version: str
    data: str
    metrics: ModelMetrics
    parent: str | None = None


@dataclass(frozen=True)
class RetrainData:
    source: str
    labelled_rows: int
    train_rows: int
    holdout_rows: int
    churn_rate: float | None = None


@dataclass(frozen=True)
class RetrainRegistry:
    kind: str
    location: str | None = None


@dataclass(frozen=True)
class RetrainDecision:
    """A ``streamflow.retrain/1`` decision, as the command printed it."""

    decision: RetrainOutcome
    reason: str
    data: RetrainData
    champion: RetrainedModel
    challenger: RetrainedModel
    serving: str
    schema: str = SCHEMA
    log_loss_gain: float | None = None
    roc_auc_change: float | None = None
    min_gain: float | None = None
    max_auc_loss: float | None = None
    registry: RetrainRegistry | None = None
    seconds: float | None = None

    @property
    def promoted(self) -> bool:
        return self.decision is RetrainOutcome.PROMOTED

    def to_json(self) -> dict[str, Any]:
        return _adapter().dump_python(self, mode="json")


@dataclass(frozen=True)
class RetrainNotRun:
    """``--once --retrain`` that did not retrain: no drift decision asked for it, or the command failed."""

    skipped: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"decision": None, **({"error": self.error} if self.error else {"skipped": self.skipped})}


def _adapter():
    from pydantic import TypeAdapter

    return TypeAdapter(RetrainDecision)


def parse_decision(document: Any) -> RetrainDecision:
    """The decision in ``document`` (a parsed JSON object), validated; RetrainError saying what is wrong."""
    from pydantic import ValidationError

    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise RetrainError(f"the retrain command's output is not a {SCHEMA} decision")
    try:
        return _adapter().validate_python(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RetrainError(f"the retrain command's decision is malformed at {where}: {first['msg']}") from None


def retrain_argv(job: RetrainJob) -> list[str]:
    """The command line to run: ``job.command`` with its placeholders filled, or streamflow-retrain."""
    if job.command:
        values = {
            "data": job.data,
            "api_url": job.api_url or "",
            "min_gain": f"{job.min_gain:g}",
            "registry": job.registry,
            "registry_location": job.registry_location or "",
        }
        try:
            words = shlex.split(job.command)
        except ValueError as exc:
            raise RetrainError(f"--retrain-cmd cannot be read as a command line: {exc}") from None
        if not words:
            raise RetrainError("--retrain-cmd is empty")
        for name, value in values.items():
            words = [w.replace("{" + name + "}", value) for w in words]
        return words
    # streamflow-retrain, run by this Python: the console script may not be on PATH (a venv not activated).
    argv = [sys.executable, "-m", "api.retrain_cli", "--data", job.data, "--min-gain", f"{job.min_gain:g}"]
    argv += ["--registry", job.registry]
    if job.registry_location:
        argv += ["--registry-location", job.registry_location]
    if job.api_url and job.data == "live":
        argv += ["--api-url", job.api_url]
    if job.cache_dir:
        argv += ["--cache-dir", job.cache_dir]
    return argv


def run_retrain(job: RetrainJob, timeout: float = TIMEOUT_S) -> RetrainDecision:
    """Run the retrain command and return its decision; RetrainError says why there is none."""
    argv = retrain_argv(job)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise RetrainError(f"the retrain command {argv[0]!r} was not found") from None
    except subprocess.TimeoutExpired:
        raise RetrainError(f"the retrain command did not decide within {timeout:g} s") from None
    said = (done.stderr.strip().splitlines() or [""])[-1]
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RetrainError(
            f"the retrain command exited {done.returncode} without printing a {SCHEMA} decision"
            + (f": {said}" if said else "")
        ) from None
    if isinstance(document, dict) and document.get("schema") == SCHEMA and document.get("decision") is None:
        raise RetrainError(str(document.get("error") or said or f"exit {done.returncode}"))
    if done.returncode != 0:
        raise RetrainError(f"the retrain command exited {done.returncode}" + (f": {said}" if said else ""))
    return parse_decision(document)
