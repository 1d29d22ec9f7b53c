"""Reading a whole number: the digits of one drawing, left to right."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from digitrec.errors import EmptyDrawingError, InputError
from digitrec.preprocess import ink_map, preprocess_ink
from digitrec.segment import segment
from digitrec.web import schemas
from digitrec.web.routes.common import (
    ERRORS,
    MetricsDep,
    RegistryDep,
    SettingsDep,
    answer,
    pictures,
    read_submission,
    reading_body,
    request_body,
)

router = APIRouter(tags=["numbers"])
MAX_DIGITS = 40


@router.post(
    "/api/read",
    response_model=schemas.ReadOut,
    responses=ERRORS,  # type: ignore[arg-type]
    openapi_extra=request_body(schemas.PredictRequest, schemas.PredictOptions),
    summary="Read a whole number: the digits in a drawing, left to right",
)
async def read_number(request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep) -> Response:
    started = time.perf_counter()
    submission = await read_submission(request, settings, schemas.PredictOptions, schemas.PredictRequest, many=False)
    name, predictor = registry.get(submission.options.model)
    picture = next(pictures(submission, settings))
    segments = segment(ink_map(picture))
    if not segments:
        raise EmptyDrawingError("nothing drawn: write a number first")
    if len(segments) > MAX_DIGITS:
        raise InputError(f"{len(segments)} separate marks; at most {MAX_DIGITS} digits are read at once")
    readings = predictor.read(np.stack([preprocess_ink(s.ink) for s in segments]))
    digits = []
    for found, reading in zip(segments, readings, strict=True):
        item = reading_body(name, reading, submission.options.top_k, metrics)
        item["box"] = list(found.box)
        digits.append(item)
    return answer({"text": "".join(str(d["digit"]) for d in digits), "digits": digits}, name, predictor, started)
