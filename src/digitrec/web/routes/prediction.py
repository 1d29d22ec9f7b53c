"""Reading one digit, a batch of them, and the seed project's /predict."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from digitrec.errors import InputError
from digitrec.reading.decode import rgba_bytes_to_image
from digitrec.reading.explain import explain
from digitrec.reading.fastpng import png_size
from digitrec.reading.reader import Reader, Strokes
from digitrec.web import schemas
from digitrec.web.answers import ERRORS, JSON_ERRORS, answer, reading_body
from digitrec.web.deps import MetricsDep, Registry, RegistryDep, SettingsDep, off_loop, reading_state
from digitrec.web.inputs import compact_byte_values
from digitrec.web.metrics import Metrics
from digitrec.web.settings import Settings
from digitrec.web.submission import Posted, Submission, parse_json, posted, read_submission, request_body

router = APIRouter(tags=["prediction"])

SEED_SHAPE = "expected the canvas's RGBA bytes as an array or an index-keyed object"


@router.post(
    "/api/predict",
    response_model=schemas.PredictionOut,
    responses=ERRORS,  # type: ignore[arg-type]
    openapi_extra=request_body(schemas.PredictRequest, schemas.PredictOptions),
    summary="Read the digit in one drawing",
)
async def predict(request: Request) -> Response:
    started = time.perf_counter()
    settings, registry, metrics = reading_state(request)
    body = await posted(request)
    if small_body(body):
        submission = read_submission(body, settings, schemas.PredictOptions, schemas.PredictRequest, many=False)
        name, reader = registry.get(submission.options.model)  # one reader decodes and reads it
        drawing = inline_drawing(submission, reader)
        if drawing is not None:
            inline = dataclasses.replace(submission, drawings=[drawing])
            return answer_reading(inline, (name, reader), metrics, started)
        return await off_loop(request, answer_reading, submission, (name, reader), metrics, started)
    return await off_loop(request, predict_now, body, settings, registry, metrics, started)


# The page's own drawings, and canvas PNGs of the same size, are read on the event loop: the hop
# to a reading thread and back cost one worker a third of its requests/s, and two workers a
# sixth for the canvas PNG (BENCHMARKS.md). Only a body of at most INLINE_BYTES of JSON or
# INLINE_FORM_BYTES of form (parsed and validated here: 0.03-0.3 ms), without `explain`, holding
# strokes on a canvas or a PNG at most INLINE_SIDE each way (both sides: a 1x409,600 PNG took
# 25-65 ms to unfilter, row by row), the PNG one that fastpng decodes (a plain PNG: libdeflate
# inflates at most the pixels its header declares, and stops). Such a reading took at most
# 5-9 ms of server CPU, whatever its points, pen or pixels within those bounds (`python -m
# benchmarks worst-case`). Anything else is read in a thread.
INLINE_BYTES = 8 * 1024
INLINE_FORM_BYTES = 64 * 1024
INLINE_SIDE = 640


def small_body(body: Posted) -> bool:
    if body.media_type == "application/json":
        return len(body.body) <= INLINE_BYTES
    return body.media_type == "multipart/form-data" and len(body.body) <= INLINE_FORM_BYTES


def inline_drawing(submission: Submission, reader: Reader) -> Strokes | np.ndarray | None:
    """The drawing, ready to read on the loop: strokes on a small canvas, or a small plain PNG
    decoded here by the reader (within its budget, as its thread would); None: read it in a thread."""
    drawing = submission.drawings[0]
    if submission.options.explain:
        return None
    if isinstance(drawing, Strokes):
        return drawing if max(drawing.width, drawing.height) <= INLINE_SIDE else None
    if isinstance(drawing, bytes):
        width, height = png_size(drawing)
        if min(width, height) > 0 and max(width, height) <= INLINE_SIDE:
            return reader.decode_here(drawing)  # None: not a plain PNG, for the box
    return None


def predict_now(body: Posted, settings: Settings, registry: Registry, metrics: Metrics, started: float) -> Response:
    """Everything after the body arrived, in a reading thread: parsing, decoding, the model."""
    submission = read_submission(body, settings, schemas.PredictOptions, schemas.PredictRequest, many=False)
    return answer_reading(submission, registry.get(submission.options.model), metrics, started)


def answer_reading(submission: Submission, named: tuple[str, Reader], metrics: Metrics, started: float) -> Response:
    options = submission.options
    name, reader = named
    reading = reader.digit(submission.drawings[0])
    seen = reading.input if reading.input is not None else np.zeros((28, 28), np.float32)
    answer_body = reading_body(name, reading, options.top_k, metrics)
    if options.include_input:
        answer_body["input"] = np.round(seen, 4).tolist()
    if options.explain:
        # Occlusion runs the model ~50 times: in this reading thread too, so other requests go on.
        heatmap = explain(reader.predictor, seen, reading.digit)
        runner_up = reading.runner_up
        answer_body["explanation"] = {
            "heatmap": np.round(heatmap, 4).tolist(),
            "runner_up": {"digit": runner_up, "probability": round(float(reading.probabilities[runner_up]), 6)},
            "method": "occlusion sensitivity: 6x6 patches blanked, drop in the answer's probability",
        }
    return answer(schemas.PredictionOut, answer_body, name, reader, started)


@router.post(
    "/api/predict/batch",
    response_model=schemas.BatchOut,
    responses=ERRORS,  # type: ignore[arg-type]
    openapi_extra=request_body(schemas.BatchRequest, schemas.PredictOptions, many=True),
    summary="Read many drawings in one request (at most DIGITREC_MAX_BATCH, 32 by default)",
)
async def predict_batch(
    request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep
) -> Response:
    started = time.perf_counter()
    return await off_loop(request, predict_batch_now, await posted(request), settings, registry, metrics, started)


def predict_batch_now(
    body: Posted, settings: Settings, registry: Registry, metrics: Metrics, started: float
) -> Response:
    submission = read_submission(body, settings, schemas.PredictOptions, schemas.BatchRequest, many=True)
    name, reader = registry.get(submission.options.model)
    readings = reader.digits(submission.drawings, settings.max_batch_pixels)
    top_k = submission.options.top_k
    answer_body = {"predictions": [reading_body(name, r, top_k, metrics) for r in readings]}
    return answer(schemas.BatchOut, answer_body, name, reader, started)


@router.post(
    "/predict",
    response_class=PlainTextResponse,
    responses=JSON_ERRORS,  # type: ignore[arg-type]
    summary="The seed project's request: JSON of a square canvas's RGBA bytes; answers the digit as text",
)
async def seed_predict(request: Request, registry: RegistryDep, metrics: MetricsDep) -> Response:
    return await off_loop(request, seed_predict_now, await request.body(), registry, metrics)


def seed_predict_now(body: bytes, registry: Registry, metrics: Metrics) -> Response:
    # Hand-parsed: the seed's page sends ~1 MB of canvas bytes, read here without a JSON parser.
    values: Any = compact_byte_values(body)
    if values is None:  # not the browser's compact form: parse it as any JSON
        payload = parse_json(body)
        if isinstance(payload, dict):
            values = seed_values(payload)
        elif isinstance(payload, list):
            values = payload
        else:
            raise InputError(SEED_SHAPE)
    try:
        picture = rgba_bytes_to_image(values)
    except (ValueError, TypeError) as exc:
        raise InputError("RGBA values must be numbers from 0 to 255") from exc
    name, reader = registry.get(None)
    reading = reader.digit(picture)
    metrics.predictions.labels(name, str(reading.digit)).inc()
    return PlainTextResponse(str(reading.digit), headers={"X-Model-Version": reader.version})


def seed_values(payload: dict[str, Any]) -> list[Any]:
    """The seed page's JSON.stringify(imageData.data) as parsed JSON: an object keyed "0", "1",
    ... -> its values in index order."""
    try:
        # ASCII digits only: int() also reads "²" or "٣", which no canvas writes.
        if not all(key.isascii() and key.isdigit() for key in payload):
            raise ValueError
        return [payload[key] for key in sorted(payload, key=int)]
    except (ValueError, TypeError) as exc:
        raise InputError(SEED_SHAPE) from exc
