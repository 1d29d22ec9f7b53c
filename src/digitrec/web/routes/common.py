"""What the routers share: dependencies (predictor registry, settings, store, metrics), reading a
request that may be JSON or a multipart form, decoding its drawings within budget, and answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from PIL import Image
from pydantic import BaseModel

from digitrec.decode import Budget, decode_image, rendered_size
from digitrec.errors import DigitrecError, EmptyDrawingError, InputError, StoreUnavailable, TooLargeError
from digitrec.feedback import UNAVAILABLE, Store
from digitrec.inference import Predictor, Reading
from digitrec.preprocess import preprocess
from digitrec.web import schemas
from digitrec.web.forms import parse_form
from digitrec.web.inputs import picture_from_drawing, picture_size
from digitrec.web.metrics import Metrics
from digitrec.web.settings import Settings

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorOut, "description": text}
    for code, text in {
        404: "unknown model",
        413: "body, image, batch or drawing over a size limit",
        415: "unsupported content type or image format",
        422: "unreadable image, nothing drawn, malformed JSON or wrong values",
    }.items()
}


@dataclass
class Registry:
    """The models this server answers with, by the name clients use (never a file path)."""

    models: dict[str, Predictor]
    default: str

    @classmethod
    def of(cls, predictors: dict[str, Predictor], wanted_default: str) -> Registry:
        # A checkpoint folder is named by its last part: its path is nobody's business.
        models = {public_name(name): p for name, p in predictors.items()}
        default = public_name(wanted_default) if public_name(wanted_default) in models else next(iter(models))
        return cls(models, default)

    def get(self, name: str | None) -> tuple[str, Predictor]:
        chosen = name or self.default
        if chosen not in self.models:
            raise HTTPException(
                404, f"unknown model {chosen!r}: choose one of {', '.join(self.models)} (see /api/models)"
            )
        return chosen, self.models[chosen]


class Throttle:
    """At most `rule` (the `limits` notation: "30/minute") per key, in this worker's memory;
    an empty rule lets everything through."""

    def __init__(self, rule: str) -> None:
        try:
            self.item: RateLimitItem | None = parse(rule) if rule else None
        except ValueError as exc:
            raise DigitrecError(f'cannot read the rate limit {rule!r}: write it like "30/minute"') from exc
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, key: str) -> bool:
        return self.item is None or self.limiter.hit(self.item, key)

    def seconds_to_wait(self, key: str) -> int:
        if self.item is None:
            return 0
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        return max(1, int(reset - time.time()) + 1)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def public_name(reference: str) -> str:
    return Path(reference).name if ("/" in reference or "\\" in reference) else reference


# The dependencies are `async def` though they do not await: FastAPI runs a plain `def`
# dependency in its thread pool, and three such hops per request took a third of its time.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_store(request: Request) -> Store:
    store: Store | None = request.app.state.store
    if store is None:  # the database could not be opened at start; reading digits still works
        raise StoreUnavailable(UNAVAILABLE)
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
StoreDep = Annotated[Store, Depends(get_store)]


@dataclass
class Submission:
    """A request's options and its drawings: validated JSON drawings or uploaded file bytes."""

    options: Any  # an instance of the options model the route asked for
    drawings: list[schemas.Drawing | bytes]


async def read_submission(
    request: Request, settings: Settings, options_model: type[BaseModel], json_model: type[BaseModel], many: bool
) -> Submission:
    """JSON validated by `json_model`, or a multipart form whose text fields `options_model`
    validates; pydantic's ValidationError and InputError become 422 in the app's handlers."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        parts = parse_form(await request.body(), request.headers["content-type"], max_parts=settings.max_batch + 20)
        images: list[schemas.Drawing | bytes] = [
            bytes(p.data) for p in parts if p.name == "image" and p.filename is not None
        ]
        if not images:
            raise InputError("the form has no file field named `image`")
        if not many and len(images) > 1:
            raise InputError("send one `image` here, or several to /api/predict/batch")
        if len(images) > settings.max_batch:
            raise TooLargeError(f"{len(images)} images; at most {settings.max_batch} per batch")
        fields = {p.name: p.text for p in parts if p.filename is None}
        return Submission(options_model.model_validate(fields, context=settings), images)
    if content_type not in ("application/json", ""):
        raise HTTPException(
            415,
            f"unsupported content type {content_type!r}: send application/json or "
            "multipart/form-data with a file field `image`",
        )
    body = await request.body()
    check_point_count(body, settings, many)
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InputError("the JSON body must be an object")
    validated = json_model.model_validate(payload, context=settings)
    drawings: list[schemas.Drawing | bytes] = list(getattr(validated, "items", None) or [validated])
    return Submission(validated, drawings)


BATCH_POINTS = 2  # a batch's strokes may hold this many single drawings' worth of points


def check_point_count(body: bytes, settings: Settings, many: bool) -> None:
    """Refuse a body with too many points before parsing it: parsing and validating 100,000
    points took 100 ms, counting brackets takes well under one. Every point of `strokes` opens
    one "[", every stroke one more, so a drawing within budget opens at most twice its points."""
    limit = settings.max_stroke_points * (BATCH_POINTS if many else 1)
    brackets = body.count(b"[")
    if brackets > 2 * limit + settings.max_batch + 2:
        raise TooLargeError(
            f"the body opens {brackets:,} lists (one per point and per stroke); at most {limit:,} points "
            + ("in one batch" if many else "in one drawing")
            + " are accepted"
        )


def parse_json(body: bytes) -> Any:
    if not body:
        raise InputError("the request body is empty: send JSON or a multipart form with `image`")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc})") from exc


def pictures(submission: Submission, settings: Settings) -> Iterator[Image.Image | np.ndarray]:
    """Each drawing decoded in turn (one decoded image in memory at a time), within the batch's
    total pixel budget; errors name the item in a batch."""
    many = len(submission.drawings) > 1
    budget = decoding_budget(settings)
    if many:
        check_batch_canvases(submission.drawings, budget, settings.max_batch_pixels)
    spent = 0
    for index, drawing in enumerate(submission.drawings):
        try:
            if isinstance(drawing, bytes):
                picture = decode_image(drawing, budget=budget)
            else:
                picture = picture_from_drawing(drawing, budget)
        except InputError as exc:
            raise type(exc)(f"item {index}: {exc}" if many else str(exc)) from None
        spent += picture_size(picture)
        if many and spent > settings.max_batch_pixels:
            raise TooLargeError(
                f"item {index}: the batch's images add up to more than {settings.max_batch_pixels:,} pixels"
            )
        yield picture


def check_batch_canvases(drawings: list[schemas.Drawing | bytes], budget: Budget, limit: int) -> None:
    """The pixels the batch's strokes will be drawn on, added up before any is drawn: a batch of
    big canvases is refused at once, not after drawing its first few hundred megapixels."""
    total = 0
    for drawing in drawings:
        if isinstance(drawing, schemas.Drawing) and drawing.strokes is not None and drawing.width and drawing.height:
            columns, rows = rendered_size(drawing.width, drawing.height, budget)
            total += columns * rows
    if total > limit:
        raise TooLargeError(f"the batch's canvases add up to {total:,} pixels, more than {limit:,}")


def decoding_budget(settings: Settings) -> Budget:
    """The decoder's budget with the limits these settings change; the rest keep decode's defaults."""
    return Budget(
        max_pixels=settings.max_pixels, max_side=settings.max_canvas_side, max_points=settings.max_stroke_points
    )


def model_inputs(submission: Submission, settings: Settings) -> np.ndarray:
    """(N, 28, 28): each drawing preprocessed right after it is decoded."""
    return np.stack(list(each_model_input(submission, settings)))


def each_model_input(submission: Submission, settings: Settings) -> Iterator[np.ndarray]:
    many = len(submission.drawings) > 1
    for index, picture in enumerate(pictures(submission, settings)):
        try:
            yield preprocess(picture)
        except EmptyDrawingError:
            raise EmptyDrawingError(f"{f'item {index}: ' if many else ''}nothing drawn: draw a digit first") from None


# A batch gives the event loop back every this many drawings (about 10 ms of work), so that a
# worker reading a big batch (DIGITREC_MAX_BATCH can be raised) still answers /healthz and its
# other requests meanwhile.
BATCH_STEP = 8


async def read_batch(submission: Submission, settings: Settings, predictor: Predictor) -> list[Reading]:
    """Every drawing of a batch read, step by step: decoding, preprocessing and the model."""
    inputs = []
    for count, model_input in enumerate(each_model_input(submission, settings), 1):
        inputs.append(model_input)
        if count % BATCH_STEP == 0:
            await asyncio.sleep(0)
    readings: list[Reading] = []
    for start in range(0, len(inputs), BATCH_STEP):
        readings += predictor.read(np.stack(inputs[start : start + BATCH_STEP]))
        await asyncio.sleep(0)
    return readings


def reading_body(model: str, reading: Reading, top_k: int, metrics: Metrics) -> dict[str, Any]:
    probabilities = reading.probabilities
    order = np.argsort(-probabilities)[:top_k]
    metrics.predictions.labels(model, str(reading.digit)).inc()
    return {
        "digit": reading.digit,
        "confidence": round(reading.confidence, 6),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "top": [{"digit": int(d), "probability": round(float(probabilities[d]), 6)} for d in order],
        "uncertain": bool(reading.uncertain),
        "not_a_digit": bool(reading.not_a_digit),
    }


def answer(body: dict[str, Any], model: str, predictor: Predictor, started: float) -> Response:
    """The common tail of every reading: which model answered, and how long it took."""
    body.update(model=model, model_version=predictor.version)
    body["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return Response(orjson.dumps(body), media_type="application/json")


def request_body(json_model: type[BaseModel], form_model: type[BaseModel], many: bool = False) -> dict[str, Any]:
    """OpenAPI for an endpoint that takes JSON (`json_model`, a component schema) or a multipart
    form with `image` (one or several) and the text fields of `form_model`."""
    image: dict[str, Any] = {"type": "string", "format": "binary"}
    form = form_model.model_json_schema()
    properties = {"image": {"type": "array", "items": image, "minItems": 1} if many else image}
    properties |= form.get("properties", {})
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{json_model.__name__}"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image", *form.get("required", [])],
                        "properties": properties,
                    }
                },
            },
        }
    }
