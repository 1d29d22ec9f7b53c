"""Reading one digit, a batch of them, and the seed project's /predict."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from digitrec.decode import rgba_bytes_to_image
from digitrec.errors import InputError
from digitrec.explain import explain
from digitrec.preprocess import preprocess
from digitrec.web import schemas
from digitrec.web.inputs import compact_byte_values
from digitrec.web.routes.common import (
    ERRORS,
    MetricsDep,
    RegistryDep,
    SettingsDep,
    answer,
    model_inputs,
    parse_json,
    read_batch,
    read_submission,
    reading_body,
    request_body,
)

router = APIRouter(tags=["prediction"])

SEED_SHAPE = "expected the canvas's RGBA bytes as an array or an index-keyed object"


@router.post(
    "/api/predict",
    response_model=schemas.PredictionOut,
    responses=ERRORS,  # type: ignore[arg-type]
    openapi_extra=request_body(schemas.PredictRequest, schemas.PredictOptions),
    summary="Read the digit in one drawing",
)
async def predict(request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep) -> Response:
    started = time.perf_counter()
    submission = await read_submission(request, settings, schemas.PredictOptions, schemas.PredictRequest, many=False)
    options = submission.options
    name, predictor = registry.get(options.model)
    inputs = model_inputs(submission, settings)
    reading = predictor.read(inputs)[0]
    body = reading_body(name, reading, options.top_k, metrics)
    if options.include_input:
        body["input"] = np.round(inputs[0], 4).tolist()
    if options.explain:
        # Occlusion runs the model ~50 times: off the event loop, so other requests go on.
        heatmap = await run_in_threadpool(explain, predictor, inputs[0], reading.digit)
        runner_up = int(np.argsort(-reading.probabilities)[1])
        body["explanation"] = {
            "heatmap": np.round(heatmap, 4).tolist(),
            "runner_up": {"digit": runner_up, "probability": round(float(reading.probabilities[runner_up]), 6)},
            "method": "occlusion sensitivity: 6x6 patches blanked, drop in the answer's probability",
        }
    return answer(body, name, predictor, started)


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
    submission = await read_submission(request, settings, schemas.PredictOptions, schemas.BatchRequest, many=True)
    name, predictor = registry.get(submission.options.model)
    readings = await read_batch(submission, settings, predictor)
    top_k = submission.options.top_k
    return answer({"predictions": [reading_body(name, r, top_k, metrics) for r in readings]}, name, predictor, started)


@router.post(
    "/predict",
    response_class=PlainTextResponse,
    responses=ERRORS,  # type: ignore[arg-type]
    summary="The seed project's request: JSON of a square canvas's RGBA bytes; answers the digit as text",
)
async def seed_predict(request: Request, registry: RegistryDep, metrics: MetricsDep) -> Response:
    # Hand-parsed: the seed's page sends ~1 MB of canvas bytes, read here without a JSON parser.
    body = await request.body()
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
    name, predictor = registry.get(None)
    reading = predictor.read(preprocess(picture)[None])[0]
    metrics.predictions.labels(name, str(reading.digit)).inc()
    return PlainTextResponse(str(reading.digit))


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
