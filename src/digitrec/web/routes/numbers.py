"""Reading a whole number: the digits of one drawing, left to right."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from digitrec.numbers import Digit, page_of, read_page
from digitrec.preprocess import ink_image
from digitrec.web import schemas
from digitrec.web.routes.common import (
    ERRORS,
    MetricsDep,
    RegistryDep,
    SettingsDep,
    answer,
    decoding_budget,
    pictures,
    read_submission,
    reading_body,
    request_body,
)

router = APIRouter(tags=["numbers"])


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
    ink = np.asarray(ink_image(picture))
    drawing = submission.drawings[0]
    if isinstance(drawing, schemas.Drawing) and drawing.strokes is not None:
        assert drawing.width is not None and drawing.height is not None
        # The picture was drawn scaled down on big canvases: strokes and pen go to its pixels,
        # boxes come back to the client's.
        page, scale = page_of(
            ink, drawing.strokes, (drawing.width, drawing.height), drawing.line_width, decoding_budget(settings)
        )
    else:
        page, scale = page_of(ink)
    number = read_page(page, predictor)

    def client_box(found: Digit) -> list[int]:
        x0, y0, x1, y1 = (round(v / scale) for v in found.box)
        return [x0, y0, x1 - x0, y1 - y0]

    digits = []
    for found in number.digits:
        item = reading_body(name, found.reading, submission.options.top_k, metrics)
        item["box"] = client_box(found)
        digits.append(item)
    # Marks read as no digit (a stray dot, a dash) stay out of `text`, but are said.
    left_out = [{"box": client_box(m), "not_a_digit": True} for m in number.left_out]
    body = {"text": number.text, "digits": digits, "left_out": left_out}
    return answer(body, name, predictor, started)
