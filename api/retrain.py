"""Retrain, compare, promote: a challenger trained on newer labelled rows against the registry's champion.

Both are evaluated on the same held-out part of the new data. The challenger is
promoted when its log loss is lower by at least ``min_gain`` (relative) and its
ROC AUC is not worse by more than ``MAX_AUC_LOSS``; otherwise the champion is
kept, and the decision says why. Both are registered with their lineage.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamflow_data import MONTHS, REFERENCE_MONTH
from streamflow_data.policy import DEFAULT_MIN_GAIN
from streamflow_data.schema import FEATURES, LABEL

from .errors import RetrainError
from .model import fit_frame, frame_hash, load_or_train, probabilities, score_counts
from .registry import (
    CHALLENGER,
    CHAMPION,
    ModelRecord,
    Registry,
    RegistryError,
    champion,
    promote,
    rollback,
    rollback_target,
)

SCHEMA = "streamflow.retrain/1"
PROMOTED, KEPT = "PROMOTED", "KEPT"
PROMOTE, ROLLBACK = "promote", "rollback"  # the champion moved by hand (--promote VERSION, --rollback)

MAX_AUC_LOSS = 0.005  # …without ranking worse than this
HOLDOUT = 0.3
MIN_ROWS = 200
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class RetrainRequest:
    data: str  # a bundled month, a .csv/.parquet file, or "live"
    api_url: str | None = None  # where live labelled rows come from
    min_gain: float = DEFAULT_MIN_GAIN
    seed: int = 0
    dry_run: bool = False  # decide, and register or promote nothing

    def __post_init__(self) -> None:
        if not 0 <= self.min_gain < 1:
            raise RetrainError(f"--min-gain is a relative log-loss gain in [0, 1), got {self.min_gain}")


def load_labelled(data: str, api_url: str | None):
    """The labelled rows a challenger trains on, with a name for its version."""
    import pandas as pd

    from streamflow_data import load_frame

    if data in MONTHS:
        return load_frame(data), data
    if data == "live":
        if not api_url:
            raise RetrainError("--data live needs --api-url: the API's prediction log holds the labelled rows")
        import httpx

        try:
            response = httpx.get(api_url.rstrip("/") + "/monitoring/labelled", timeout=60)
        except httpx.HTTPError as exc:
            raise RetrainError(f"cannot read labelled rows from {api_url}: {exc}") from None
        if response.status_code != 200:
            raise RetrainError(f"{api_url}/monitoring/labelled answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        return pd.DataFrame(body["rows"], columns=body["columns"]), "live"
    path = Path(data)
    if not path.exists():
        raise RetrainError(
            f"{data!r} is neither a bundled month ({', '.join(MONTHS)}), nor 'live', nor an existing file"
        )
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas' many parser errors, said in one line
        raise RetrainError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    return frame, "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)[:40] or "file"


def validate(frame) -> Any:
    """Rows with every feature and a 0/1 label; a clear error when there is nothing to learn from."""
    missing = [c for c in (*FEATURES, LABEL) if c not in frame.columns]
    if missing:
        which = (
            "no churn_label column: retraining needs labelled rows"
            if missing == [LABEL]
            else f"missing columns {missing}"
        )
        raise RetrainError(which)
    labelled = frame[frame[LABEL].notna()]
    if len(labelled) < MIN_ROWS:
        raise RetrainError(f"{len(labelled)} labelled rows; retraining needs at least {MIN_ROWS}")
    values = set(labelled[LABEL].unique())
    if not values <= {0, 1}:
        raise RetrainError(f"churn_label must be 0 or 1, found {sorted(values - {0, 1})[:5]}")
    if len(values) < 2:
        raise RetrainError(
            f"every labelled row has churn_label {int(next(iter(values)))}: one class, nothing to compare"
        )
    labelled = labelled.copy()
    labelled[LABEL] = labelled[LABEL].astype(int)
    return labelled


def evaluate(model, frame) -> dict[str, float]:
    """Log loss, ROC AUC, Brier score and calibration of a model on labelled rows."""
    import numpy as np
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    p, y = probabilities(model, frame), frame[LABEL].to_numpy()
    bins = np.minimum((p * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    # Expected calibration error: the gap between predicted and observed churn, weighted by each band's rows.
    ece = sum(abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).sum() for b in np.unique(bins)) / len(y)
    return {
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "roc_auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "mean_predicted": float(p.mean()),
        "observed_rate": float(y.mean()),
        "calibration_error": float(ece),
    }


def bootstrap_champion(
    registry: Registry, cache_dir: Path, training_month: str = REFERENCE_MONTH, *, register: bool = True
) -> ModelRecord:
    """The registry's champion; the bundled model (trained on ``training_month``) registered as the first
    one when the registry has none (only compared with, not registered, when ``register`` is false)."""
    record = champion(registry)
    if record is not None:
        return record
    from streamflow_data import load_frame

    model = load_or_train(training_month, cache_dir)
    frame = load_frame(training_month)
    record = ModelRecord(
        model=model,
        data=training_month,
        data_hash=frame_hash(frame),
        rows=len(frame),
        metrics=dict(model.metrics),
        reference_counts=score_counts(model, frame),
    )
    if register:
        registry.register(record)
        promote(registry, record.version)
    return record


def retrain(request: RetrainRequest, registry: Registry, cache_dir: Path) -> dict[str, Any]:
    """Train, evaluate both, register, promote or keep; the streamflow.retrain/1 decision."""
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    frame, name = load_labelled(request.data, request.api_url)
    rows = validate(frame)
    try:
        current = bootstrap_champion(registry, cache_dir, register=not request.dry_run)
    except RegistryError as exc:
        raise RetrainError(f"registry: {exc}") from None
    train, holdout = train_test_split(rows, test_size=HOLDOUT, random_state=request.seed, stratify=rows[LABEL])
    challenger_model = fit_frame(train, name)
    scores = {"champion": evaluate(current.model, holdout), "challenger": evaluate(challenger_model, holdout)}
    old, new = scores["champion"], scores["challenger"]
    gain = (old["log_loss"] - new["log_loss"]) / old["log_loss"]
    auc_change = new["roc_auc"] - old["roc_auc"]
    if challenger_model.version == current.version:
        decision, reason = KEPT, "the challenger is the champion: same rows, same parameters"
    elif gain >= request.min_gain and auc_change >= -MAX_AUC_LOSS:
        decision = PROMOTED
        reason = (
            f"log loss {gain:+.1%} better (needs ≥ {request.min_gain:.1%}) and ROC AUC {auc_change:+.4f}"
            f" (may fall by ≤ {MAX_AUC_LOSS})"
        )
    elif gain < request.min_gain:
        decision = KEPT
        reason = (
            f"log loss only {gain:+.1%} better than the champion's (needs ≥ {request.min_gain:.1%}):"
            f" the champion still fits the new rows"
        )
    else:
        decision = KEPT
        reason = f"ROC AUC {auc_change:+.4f}: the challenger ranks worse (may fall by ≤ {MAX_AUC_LOSS})"
    challenger = ModelRecord(
        model=challenger_model,
        data=name,
        data_hash=frame_hash(train),
        rows=len(train),
        parent=current.version,
        metrics=new,
        reference_counts=score_counts(challenger_model, train),
    )
    try:
        if not request.dry_run:
            registry.register(challenger)
            registry.set_alias(CHALLENGER, challenger.version)
            if decision == PROMOTED:
                promote(registry, challenger.version)
    except RegistryError as exc:
        raise RetrainError(f"registry: {exc}") from None
    return {
        "schema": SCHEMA,
        "decision": decision,
        "reason": reason,
        "data": {
            "source": request.data,
            "labelled_rows": len(rows),
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "churn_rate": float(rows[LABEL].mean()),
        },
        "champion": {"version": current.version, "data": current.data, "metrics": old},
        "challenger": {"version": challenger.version, "data": name, "parent": current.version, "metrics": new},
        "log_loss_gain": gain,
        "roc_auc_change": auc_change,
        "min_gain": request.min_gain,
        "max_auc_loss": MAX_AUC_LOSS,
        "serving": challenger.version if decision == PROMOTED and not request.dry_run else current.version,
        "dry_run": request.dry_run,
        "registry": {"kind": registry.kind, "location": registry.location},
        "seconds": time.perf_counter() - started,
    }


def change_champion(registry: Registry, version: str | None, *, dry_run: bool = False) -> dict[str, Any]:
    """``--promote VERSION`` (``version``) or ``--rollback`` (None: the champion before the current one): the
    alias moved, or with ``dry_run`` only said; the document streamflow-retrain prints."""
    try:
        if dry_run:
            before = registry.alias(CHAMPION)
            if version is None:
                after = rollback_target(registry)[0]
            else:
                after = registry.get(version).version  # an existing, readable version, or the error that says why
        else:
            change = rollback(registry) if version is None else promote(registry, version)
            before, after = change.before, change.after
    except RegistryError as exc:
        raise RetrainError(f"registry: {exc}") from None
    return {
        "schema": SCHEMA,
        "action": ROLLBACK if version is None else PROMOTE,
        "from": before,
        "to": after,
        "serving": before if dry_run else after,
        "dry_run": dry_run,
        "registry": {"kind": registry.kind, "location": registry.location},
    }


def finite(doc: Any) -> Any:
    """The decision with NaN/inf made null: JSON has no NaN."""
    if isinstance(doc, dict):
        return {k: finite(v) for k, v in doc.items()}
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    return doc
