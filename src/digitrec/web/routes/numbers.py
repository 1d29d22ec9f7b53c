"""Reading a whole number: the digits of one drawing, left to right."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from digitrec.reading.numbers import Digit
from digitrec.web import schemas
from digitrec.web.answers import ERRORS, answer, reading_body
from digitrec.web.deps import MetricsDep, Registry, RegistryDep, SettingsDep, off_loop
from digitrec.web.metrics import Metrics
from digitrec.web.settings import Settings
from digitrec.web.submission import Posted, posted, read_submission, request_body

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
    return await off_loop(request, read_number_now, await posted(request), settings, registry, metrics, started)


def read_number_now(sent: Posted, settings: Settings, registry: Registry, metrics: Metrics, started: float) -> Response:
    submission = read_submission(sent, settings, schemas.PredictOptions, schemas.PredictRequest, many=False)
    name, reader = registry.get(submission.options.model)
    number = reader.number(submission.drawings[0])
    digits = [
        {**reading_body(name, found.reading, submission.options.top_k, metrics), "box": client_box(found)}
        for found in number.digits
    ]
    # Marks read as no digit (a stray dot, a dash) stay out of `text`, but are said.
    left_out = [{"box": client_box(m), "not_a_digit": True} for m in number.left_out]
    body = {"text": number.text, "digits": digits, "left_out": left_out}
    return answer(schemas.ReadOut, body, name, reader, started)


def client_box(found: Digit) -> list[int]:
    """[x, y, width, height] in the drawing's pixels."""
    x0, y0, x1, y1 = found.box
    return [x0, y0, x1 - x0, y1 - y0]
