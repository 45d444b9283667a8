"""Request and response bodies of the predictor API.

What the OpenAPI schema says is what the server enforces:

- Types are strict, as JSON has them: a number field takes a JSON number (``12`` or ``12.5``), never
  ``"12.5"`` nor ``true``; an integer field takes an integral number (``3``, and ``3.0``, which JSON
  Schema's ``integer`` also admits), never ``3.5``, ``"3"`` nor ``true``; a string field takes a string.
- A body that takes "exactly one of" several keys is a ``oneOf`` of closed objects (``additionalProperties:
  false``, each requiring its key), so no document matches two of them and the schema says what a 422 means.
  Validation picks the object by the key present (a tagged union: an error names the field, not every
  alternative), and a body with none or several of the keys is one ``exactly_one`` error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, StrictInt, Tag
from pydantic_core import PydanticCustomError


def _integral(value: Any) -> Any:
    """JSON has one number type: ``3.0`` is the integer 3 (for JSON Schema too). ``true`` is not 1."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _flag(value: Any) -> Any:
    if isinstance(value, bool):  # Literal[0, 1] alone takes True, which equals 1 in Python
        raise PydanticCustomError("int_type", "Input should be 0 or 1, not a boolean")
    return _integral(value)


JsonInt = Annotated[StrictInt, BeforeValidator(_integral)]
Flag = Annotated[Literal[0, 1], BeforeValidator(_flag)]
UserId = Annotated[str, Field(min_length=1, max_length=64)]

# Every request body: unknown keys are errors, and nothing is coerced from another JSON type.
REQUEST = ConfigDict(extra="forbid", strict=True)


def _count(limit: int) -> Any:
    return Field(ge=0, le=limit)


def _amount(limit: float) -> Any:
    return Field(ge=0, le=limit, allow_inf_nan=False)


class Features(BaseModel):
    """One user's features, as in the bundled snapshots (docs/DATA.md)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    months_active: JsonInt = _count(1_200)
    monthly_fee: float = _amount(1_000.0)
    paperless_billing: Flag
    plan_stream_tv: Flag
    plan_stream_movies: Flag
    net_service: Literal["DSL", "Fiber optic", "No"]
    watch_hours_30d: float = _amount(720.0)
    avg_session_mins_7d: float = _amount(10_080.0)
    unique_devices_30d: JsonInt = _count(1_000)
    skips_7d: JsonInt = _count(1_000_000)
    rebuffer_events_7d: JsonInt = _count(1_000_000)
    failed_payments_90d: JsonInt = _count(1_000)
    support_tickets_90d: JsonInt = _count(100_000)
    ticket_avg_resolution_hrs_90d: float | None = Field(default=None, ge=0, le=2_160.0, allow_inf_nan=False)


class PredictByUser(BaseModel):
    """Score a user of the online feature store (the served month's latest row of that user)."""

    model_config = REQUEST

    user_id: UserId


class PredictByFeatures(BaseModel):
    """Score the features given inline."""

    model_config = REQUEST

    features: Features


def _one_of(tags: dict[str, str]):
    """The tag of a body that takes exactly one of the keys of ``tags``: the tag of that key, or None (no key,
    or several, or not an object: the union's error then says what is expected)."""

    def tag(value: Any) -> str | None:
        if isinstance(value, dict):
            present = [key for key in tags if key in value]
        else:  # a model already validated (a caller building requests in Python)
            present = [key for key in tags if getattr(value, key, None) is not None]
        return tags[present[0]] if len(present) == 1 else None

    return tag


def _exactly_one(**tags: str) -> Discriminator:
    names = " or ".join(f"'{key}'" for key in tags)
    return Discriminator(
        _one_of(tags),
        custom_error_type="exactly_one",
        custom_error_message=f"an object with exactly one of {names}",
    )


# oneOf [PredictByUser, PredictByFeatures] in the schema.
PredictRequest = Annotated[
    Annotated[PredictByUser, Tag("PredictByUser")] | Annotated[PredictByFeatures, Tag("PredictByFeatures")],
    _exactly_one(user_id="PredictByUser", features="PredictByFeatures"),
]


class Prediction(BaseModel):
    prediction_id: str  # give it back with the true label to POST /feedback
    user_id: str | None
    churn_probability: float
    prediction: Flag
    model_version: str
    features_used: Features


class ScoredItem(Prediction):
    """A batch item that was scored: the prediction, as /predict answers it."""

    status: Literal["ok"]


class UnscoredItem(BaseModel):
    """A batch item that was not scored, and why: ``not_found`` — the user is not in the online store."""

    status: Literal["not_found"]
    user_id: str
    error: str


BatchItem = Annotated[ScoredItem | UnscoredItem, Field(discriminator="status")]


class BatchRequest(BaseModel):
    model_config = REQUEST

    items: list[PredictRequest] = Field(min_length=1, max_length=1_000)


class BatchResponse(BaseModel):
    """One result per item, in the order of the request. 200 even when some items were not scored."""

    model_version: str
    scored: int  # items with status "ok"
    not_found: int  # items with status "not_found"
    predictions: list[BatchItem]


class FeedbackByPrediction(BaseModel):
    """The true label of one prediction, by its id."""

    model_config = REQUEST

    prediction_id: str = Field(min_length=1, max_length=64)
    actual: Flag  # 1 = churned; not true/false, not "1"


class FeedbackByUser(BaseModel):
    """The true label of every unlabelled prediction of a user."""

    model_config = REQUEST

    user_id: UserId
    actual: Flag


FeedbackItem = Annotated[
    Annotated[FeedbackByPrediction, Tag("FeedbackByPrediction")] | Annotated[FeedbackByUser, Tag("FeedbackByUser")],
    _exactly_one(prediction_id="FeedbackByPrediction", user_id="FeedbackByUser"),
]


class FeedbackBatch(BaseModel):
    model_config = REQUEST

    items: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


# oneOf [FeedbackByPrediction, FeedbackByUser, FeedbackBatch].
FeedbackRequest = Annotated[
    Annotated[FeedbackByPrediction, Tag("FeedbackByPrediction")]
    | Annotated[FeedbackByUser, Tag("FeedbackByUser")]
    | Annotated[FeedbackBatch, Tag("FeedbackBatch")],
    _exactly_one(prediction_id="FeedbackByPrediction", user_id="FeedbackByUser", items="FeedbackBatch"),
]

# The tags above: a tagged union adds its tag to an error's loc, which the 422 handler leaves out.
UNION_TAGS = frozenset(
    {"PredictByUser", "PredictByFeatures", "FeedbackByPrediction", "FeedbackByUser", "FeedbackBatch"}
)

FeedbackStatus = Literal["labelled", "already", "unknown", "conflict"]


class FeedbackAnswer(BaseModel):
    """One label taken: ``labelled`` (newly) or ``already`` (it had that label)."""

    status: Literal["labelled", "already"]
    labelled: int


class FeedbackItemStatus(BaseModel):
    status: FeedbackStatus


class FeedbackBatchAnswer(BaseModel):
    """A status per item, in the order of the request."""

    labelled: int
    items: list[FeedbackItemStatus]
    unknown: int
    conflicts: int


class ReloadAnswer(BaseModel):
    model_version: str
    changed: bool
    previous: str | None


class ErrorMessage(BaseModel):
    """An error said in one sentence (403, 404, 409, 413, 503)."""

    detail: str


class UnsupportedMediaType(BaseModel):
    """415: the body was not sent as JSON."""

    detail: str
    accepted: list[str]


class FieldError(BaseModel):
    """One reason a request was rejected: where (``loc``), what (``type``, ``msg``), and a short excerpt of
    the offending value (``input``: its JSON text, at most 80 characters, ending in ``…`` when cut; null when
    the body could not be parsed, so there is no value to show)."""

    type: str
    loc: list[str | int]
    msg: str
    input: str | None = None


class ValidationErrorBody(BaseModel):
    """422: the first errors (as many as fit in a small answer) and how many there were in all."""

    detail: list[FieldError]
    error_count: int
