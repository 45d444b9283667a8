"""Request and response bodies of the predictor API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

Flag = Literal[0, 1]


def _count(limit: int):
    return Field(ge=0, le=limit)


def _amount(limit: float):
    return Field(ge=0, le=limit, allow_inf_nan=False)


class Features(BaseModel):
    """One user's features, as in the bundled snapshots (docs/DATA.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    months_active: int = _count(1_200)
    monthly_fee: float = _amount(1_000.0)
    paperless_billing: Flag
    plan_stream_tv: Flag
    plan_stream_movies: Flag
    net_service: Literal["DSL", "Fiber optic", "No"]
    watch_hours_30d: float = _amount(720.0)
    avg_session_mins_7d: float = _amount(10_080.0)
    unique_devices_30d: int = _count(1_000)
    skips_7d: int = _count(1_000_000)
    rebuffer_events_7d: int = _count(1_000_000)
    failed_payments_90d: int = _count(1_000)
    support_tickets_90d: int = _count(100_000)
    ticket_avg_resolution_hrs_90d: float | None = Field(default=None, ge=0, le=2_160.0, allow_inf_nan=False)


class PredictRequest(BaseModel):
    """Either a user id looked up in the online store, or the features inline."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, min_length=1, max_length=64)
    features: Features | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PredictRequest:
        if (self.user_id is None) == (self.features is None):
            raise ValueError("give exactly one of 'user_id' or 'features'")
        return self


class Prediction(BaseModel):
    prediction_id: str  # give it back with the true label to POST /feedback
    user_id: str | None
    churn_probability: float
    prediction: Flag
    model_version: str
    features_used: Features


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PredictRequest] = Field(min_length=1, max_length=1_000)


class BatchResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class FeedbackItem(BaseModel):
    """The true label of a prediction (by its id), or of every unlabelled prediction of a user."""

    model_config = ConfigDict(extra="forbid")

    prediction_id: str | None = Field(default=None, min_length=1, max_length=64)
    user_id: str | None = Field(default=None, min_length=1, max_length=64)
    actual: StrictInt = Field(ge=0, le=1)  # 1 = churned; not true/false, not "1"

    @model_validator(mode="after")
    def _exactly_one(self) -> FeedbackItem:
        if (self.prediction_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of 'prediction_id' or 'user_id'")
        return self


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FeedbackItem] = Field(min_length=1, max_length=10_000)
