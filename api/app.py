"""The app factory: settings in, FastAPI app out."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import uuid
from collections.abc import Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from streamflow_data.schema import FEATURES, LABEL

from .metrics import BATCH_OUTCOMES, ApiMetrics
from .middleware import BodyLimitMiddleware, InstrumentationMiddleware
from .model import ChurnModel, load_or_train, score_counts
from .prediction_log import LabelStatus, NoLog, PredictionLog, PredictionLogError, open_prediction_log
from .refusals import JsonBodyRoute, validation_error
from .registry import ModelRecord, RegistryError, UnavailableRegistry, open_registry
from .schemas import (
    BatchRequest,
    BatchResponse,
    ErrorMessage,
    FeedbackAnswer,
    FeedbackBatch,
    FeedbackBatchAnswer,
    FeedbackByPrediction,
    FeedbackRequest,
    PredictByFeatures,
    PredictByUser,
    Prediction,
    PredictRequest,
    ReloadAnswer,
    UnsupportedMediaType,
    ValidationErrorBody,
)
from .serving import ModelReloader
from .settings import ApiSettings
from .store import FeatureStore

DECISION_THRESHOLD = 0.5

# Every answer a route can give is declared in the OpenAPI schema (tests/test_api_fuzz.py holds the server to it).
ResponsesDoc = dict[int | str, dict[str, Any]]


def _said(model: type, description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


TOO_LARGE: ResponsesDoc = {
    413: _said(ErrorMessage, "The request body is larger than the cap (STREAMFLOW_API_MAX_BODY_BYTES, 1 MiB).")
}
JSON_BODY: ResponsesDoc = {
    415: _said(UnsupportedMediaType, "The body was not sent as JSON (Content-Type application/json or */*+json)."),
    422: _said(ValidationErrorBody, "The body (or a parameter) does not fit the schema, or is not JSON."),
}
BAD_PARAMETER: ResponsesDoc = {422: _said(ValidationErrorBody, "A query parameter does not fit the schema.")}
LOOPBACK: ResponsesDoc = {
    403: _said(ErrorMessage, "Loopback clients only (STREAMFLOW_API_MONITORING_PUBLIC=1 opens it).")
}
LOG_DOWN: ResponsesDoc = {503: _said(ErrorMessage, "The prediction log cannot be read or written.")}


class Predictor:
    """Scores requests against the model and the online store, and counts the outputs."""

    def __init__(self, model: ChurnModel, store: FeatureStore, metrics: ApiMetrics, log: PredictionLog):
        self.model = model
        self.store = store
        self.metrics = metrics
        # Every scored row with its id, shared by every worker: live drift reads it, feedback labels it.
        self.log = log

    def lookup(self, request: PredictByUser | PredictByFeatures) -> Mapping[str, Any] | None:
        """The features to score: given inline, or the user's row in the online store (None: unknown user)."""
        if isinstance(request, PredictByFeatures):
            return request.features.model_dump()
        return self.store.get(request.user_id)

    def not_found(self, user_id: str) -> str:
        return f"unknown user_id {user_id!r} in {self.store.month}"

    def features_for(self, request: PredictByUser | PredictByFeatures) -> Mapping[str, Any]:
        features = self.lookup(request)
        if features is None:
            assert isinstance(request, PredictByUser)  # inline features are always there
            raise HTTPException(404, self.not_found(request.user_id))
        return features

    def score(
        self,
        request: PredictByUser | PredictByFeatures,
        features: Mapping[str, Any],
        model: ChurnModel | None = None,
    ) -> dict[str, Any]:
        model = model or self.model  # read once: a hot reload mid-request does not mix two models
        user_id = request.user_id if isinstance(request, PredictByUser) else None
        probability = model.probability(features)
        predicted = int(probability >= DECISION_THRESHOLD)
        self.metrics.observe_prediction(probability, predicted)
        self.metrics.features.observe(features)  # drift from any metrics backend (api/feature_bins.py)
        prediction_id = uuid.uuid4().hex
        self.log.append(
            prediction_id, model.version, user_id, probability, predicted, tuple(features[f] for f in FEATURES)
        )
        return {
            "prediction_id": prediction_id,
            "user_id": user_id,
            "churn_probability": probability,
            "prediction": predicted,
            "model_version": model.version,
            "features_used": dict(features),  # the store's rows are read-only views
        }


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    registry, record, registry_error = _champion(settings)
    model = record.model
    store = FeatureStore(settings.month, settings.cache_dir)
    metrics = ApiMetrics(model_version=model.version, training_month=model.training_month, served_month=store.month)
    log: PredictionLog = (
        open_prediction_log(
            settings.prediction_log or _private_log(),
            settings.prediction_log_rows,
            max_age_s=settings.prediction_log_max_age_s,
            password_file=settings.prediction_log_password_file,
            max_pending=settings.prediction_log_queue_rows,
        )
        if settings.log_predictions
        else NoLog()
    )
    metrics.watch_log(log)
    predictor = Predictor(model, store, metrics, log)
    reloader = ModelReloader(registry, predictor, metrics, store.month, record)
    reloader.serve(record)
    reloader.error = registry_error

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Poll the registry for a new champion; POST /admin/reload checks at once.
        task = asyncio.create_task(_watch(reloader, settings.registry_poll_s)) if settings.registry_poll_s > 0 else None
        try:
            yield
        finally:
            if task:
                task.cancel()
            await run_in_threadpool(log.close)  # the rows still queued are written

    app = FastAPI(
        title="StreamFlow churn predictor",
        version=model.version,
        description="Predicts which subscribers of a video-streaming service will churn.",
        lifespan=lifespan,
        responses=TOO_LARGE,  # the body cap answers every route
    )
    app.router.route_class = JsonBodyRoute  # a route with a body takes JSON, or answers 415
    app.state.settings = settings
    # FastAPI's default handler echoes the whole input (a 1 MiB body earned a 1 MiB 422); this one cuts it.
    app.add_exception_handler(RequestValidationError, validation_error)
    app.state.predictor = predictor
    app.state.reloader = reloader

    @app.post(
        "/predict",
        response_model=Prediction,
        responses={404: _said(ErrorMessage, "The user_id is not in the online store."), **JSON_BODY},
    )
    async def predict(request: PredictRequest) -> dict[str, Any]:
        """Score one user: ``{"user_id": …}`` (looked up in the online store) or ``{"features": {…}}``."""
        return predictor.score(request, predictor.features_for(request))

    @app.post("/predict/batch", response_model=BatchResponse, responses=JSON_BODY)
    async def predict_batch(batch: BatchRequest) -> dict[str, Any]:
        """Score up to 1,000 items, each as /predict takes it. The answer has one result per item, in order:
        ``status: "ok"`` and the prediction, or ``status: "not_found"`` and why (an unknown user_id; that item is
        not scored). 200 whenever the batch was processed, whatever its items' outcomes; 422 when the body, or
        any item, does not fit the schema (then nothing is scored)."""
        model = predictor.model  # one model for the whole batch, even across a hot reload
        results: list[dict[str, Any]] = []
        outcomes = dict.fromkeys(BATCH_OUTCOMES, 0)
        for item in batch.items:
            features = predictor.lookup(item)
            if features is None:
                assert isinstance(item, PredictByUser)  # inline features are always there
                results.append(
                    {"status": "not_found", "user_id": item.user_id, "error": predictor.not_found(item.user_id)}
                )
                outcomes["not_found"] += 1
            else:
                results.append({"status": "ok", **predictor.score(item, features, model)})
                outcomes["ok"] += 1
        metrics.observe_batch(outcomes)
        return {
            "model_version": model.version,
            "scored": outcomes["ok"],
            "not_found": outcomes["not_found"],
            "predictions": results,
        }

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """200 while the API serves predictions; ``status`` is ``degraded`` while the prediction log cannot
        be reached (predictions are served, their rows queued; labels and live rows answer 503)."""
        log_status = log.status()
        return {
            "status": "ok" if log_status.available else "degraded",
            "prediction_log": log_status.as_json(),
            "model_version": predictor.model.version,
            "registry": reloader.status(),
            "served_month": store.month,
            "as_of": store.as_of,
            "users": len(store),
            "pid": os.getpid(),
        }

    @app.get("/model")
    async def model_card() -> dict[str, Any]:
        record = reloader.record
        return {
            **record.model.describe(),
            "served_month": store.month,
            "decision_threshold": DECISION_THRESHOLD,
            "lineage": record.lineage(),
        }

    @app.post(
        "/admin/reload",
        response_model=ReloadAnswer,
        responses={**LOOPBACK, 503: _said(ErrorMessage, "The registry could not be read; the model keeps serving.")},
    )
    async def reload_model(request: Request) -> dict[str, Any]:
        """Serve the registry's champion now, not at the next poll. Loopback clients only; with several
        workers only the one that answers reloads here, the others at their next poll."""
        _loopback_only(request, settings)
        changed = await run_in_threadpool(reloader.check)
        if reloader.error:
            raise HTTPException(503, f"{reloader.error}; still serving {predictor.model.version}")
        return {"model_version": predictor.model.version, "changed": changed, "previous": reloader.previous}

    @app.get("/monitoring/recent", responses={**LOOPBACK, **BAD_PARAMETER, **LOG_DOWN})
    async def recent_inputs(request: Request, limit: int | None = Query(default=None, ge=1)) -> Response:
        """The newest scored feature rows of every worker (at most the log's capacity), for live drift checks.

        Loopback clients only, unless the monitoring_public setting is on: the rows are user data.
        """
        _loopback_only(request, settings)

        def read() -> bytes:
            count, rows = log.recent_json(min(limit or settings.live_buffer_rows, settings.live_buffer_rows))
            return _with_rows(
                {
                    "capacity": settings.live_buffer_rows,
                    "count": count,
                    "served_month": store.month,
                    "columns": list(FEATURES),
                    "dropped": log.dropped,
                    "error": log.error,
                },
                rows,
            )

        try:
            # In a thread: the read, and the body of 10,000 rows built as bytes, stay off the loop that
            # answers /predict (measured: building it on the loop cost /predict's p99 more than the read).
            return Response(await run_in_threadpool(read), media_type="application/json")
        except PredictionLogError as exc:
            raise HTTPException(503, str(exc)) from None

    @app.get("/monitoring/labelled", responses={**LOOPBACK, **BAD_PARAMETER, **LOG_DOWN})
    async def labelled_rows(request: Request, limit: int = Query(default=100_000, ge=1, le=1_000_000)) -> Response:
        """The newest predictions that received their label: features then churn_label per row, for retraining
        on live data (``streamflow-retrain --data live``). Loopback clients only, like /monitoring/recent."""
        _loopback_only(request, settings)

        def read() -> bytes:
            count, rows = log.labelled_json(limit)
            head = {"count": count, "columns": [*FEATURES, LABEL], "served_month": store.month, "error": log.error}
            return _with_rows(head, rows)

        try:
            return Response(await run_in_threadpool(read), media_type="application/json")
        except PredictionLogError as exc:
            raise HTTPException(503, str(exc)) from None

    @app.post(
        "/feedback",
        response_model=FeedbackAnswer | FeedbackBatchAnswer,
        responses={
            **LOOPBACK,
            404: _said(ErrorMessage, "One item: no logged prediction has that id (or user)."),
            409: _said(ErrorMessage, "One item: that prediction already has the other label."),
            **JSON_BODY,
            **LOG_DOWN,
        },
    )
    async def feedback(request: Request, body: FeedbackRequest) -> dict[str, Any]:
        """Ground truth for logged predictions: one item (404 when unknown) or a batch (a status per item)."""
        _loopback_only(request, settings)
        items = body.items if isinstance(body, FeedbackBatch) else [body]
        try:
            statuses, newly = await run_in_threadpool(
                log.label,
                [
                    (i.prediction_id, None, i.actual)
                    if isinstance(i, FeedbackByPrediction)
                    else (None, i.user_id, i.actual)
                    for i in items
                ],
            )
        except PredictionLogError as exc:
            raise HTTPException(
                503, f"{exc}; the labels were not recorded: send them again", headers={"Retry-After": "1"}
            ) from None
        for labelled in newly:
            metrics.observe_label(labelled.probability, labelled.predicted, labelled.actual)
        if not isinstance(body, FeedbackBatch):
            status = statuses[0]
            if status is LabelStatus.UNKNOWN:
                which = (
                    f"prediction_id {body.prediction_id!r}"
                    if isinstance(body, FeedbackByPrediction)
                    else f"user_id {body.user_id!r}"
                )
                raise HTTPException(404, f"no logged prediction for {which} (unknown, or older than the log keeps)")
            if status is LabelStatus.CONFLICT:
                raise HTTPException(409, "that prediction already has the other label; labels are not changed")
            return {"status": status, "labelled": len(newly)}
        return {
            "labelled": len(newly),
            "items": [{"status": s} for s in statuses],
            "unknown": statuses.count(LabelStatus.UNKNOWN),
            "conflicts": statuses.count(LabelStatus.CONFLICT),
        }

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=None, headers={"content-type": content_type})

    if settings.bench_routes:

        @app.post("/bench/echo", include_in_schema=False)
        async def bench_echo(request: PredictRequest) -> dict[str, Any]:
            return {"user_id": request.user_id if isinstance(request, PredictByUser) else None, "ok": True}

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.instrument:
        app.add_middleware(InstrumentationMiddleware, metrics=metrics)
    return app


def _with_rows(head: dict[str, Any], rows: bytes) -> bytes:
    """The JSON object ``head`` with ``rows`` (a JSON array, already encoded) as its last member."""
    return json.dumps(head).encode()[:-1] + b', "rows": ' + rows + b"}"


def _champion(settings: ApiSettings):
    """(registry, the record to serve, the registry's problem or None). A registry that cannot give a
    champion does not stop the API: it serves the bundled model and /health says why."""
    from .retrain import RetrainError, bootstrap_champion

    try:
        registry = open_registry(settings.registry, settings.registry_location, settings.cache_dir)
    except RegistryError as exc:
        registry = UnavailableRegistry(settings.registry, settings.registry_location, str(exc))
    try:
        return registry, bootstrap_champion(registry, settings.cache_dir, settings.training_month), None
    except (RegistryError, RetrainError) as exc:
        from streamflow_data import load_frame

        model = load_or_train(settings.training_month, settings.cache_dir)
        logging.getLogger("streamflow.api").error(
            "model registry: %s; serving the bundled model %s", exc, model.version
        )
        frame = load_frame(settings.training_month)
        record = ModelRecord(
            model=model,
            data=settings.training_month,
            data_hash="",
            rows=len(frame),
            reference_counts=score_counts(model, frame),
        )
        return registry, record, str(exc)


async def _watch(reloader: ModelReloader, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        await run_in_threadpool(reloader.check)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _loopback_only(request: Request, settings: ApiSettings) -> None:
    """/monitoring and /feedback carry user data: loopback clients only, unless opened by setting."""
    if not settings.monitoring_public and not _is_loopback(request.client.host if request.client else ""):
        raise HTTPException(
            403, f"{request.url.path} is served to loopback clients only (STREAMFLOW_API_MONITORING_PUBLIC=1 to change)"
        )


def _private_log() -> Path:
    """A log of this process alone, removed at exit (the CLI gives workers a shared one)."""
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="streamflow-predictions-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder) / "predictions.sqlite"


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: worker processes read their settings from the environment."""
    return create_app(ApiSettings.from_env())  # the CLI validated the same environment before starting workers
