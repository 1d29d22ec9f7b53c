"""Answers built from the response schemas: every body a route sends is validated by the schema
that OpenAPI documents for it, so the document and the answers cannot drift apart."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi.responses import Response
from pydantic import BaseModel

from digitrec.reading.inference import DigitReading
from digitrec.reading.reader import Reader
from digitrec.web import schemas
from digitrec.web.metrics import Metrics

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorOut, "description": text}
    for code, text in {
        404: "unknown model",
        413: "body, image, batch or drawing over a size limit",
        415: "unsupported content type or image format",
        422: "unreadable image, nothing drawn, malformed JSON or wrong values",
    }.items()
}


# The same answers for a route whose own answer is not JSON (/predict answers text): FastAPI
# documents a response `model` in the route's media type, so these name JSON themselves.
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": answer["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for code, answer in ERRORS.items()
}


def reading_body(model: str, reading: DigitReading, top_k: int, metrics: Metrics) -> dict[str, Any]:
    probabilities = reading.probabilities
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    metrics.predictions.labels(model, "none" if reading.not_a_digit else str(reading.digit)).inc()
    top = [{"digit": int(d), "probability": round(float(probabilities[d]), 6)} for d in order]
    return {**reading.as_dict(), "top": top}


def answer(schema: type[BaseModel], body: dict[str, Any], model: str, reader: Reader, started: float) -> Response:
    """The common tail of every reading (which model answered, how long it took), sent as the
    route's response schema writes it; fields the body does not hold are left out."""
    body.update(model=model, model_version=reader.version)
    body["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return Response(
        schema.model_validate(body).model_dump_json(exclude_unset=True),
        media_type="application/json",
        headers={"X-Model-Version": reader.version},  # for the request log, and clients that read headers
    )
