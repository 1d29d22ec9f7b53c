"""Corrections: storing them (POST /api/feedback) and taking one back (DELETE /api/feedback/{id}).
The admin's page of them (/feedback) is routes/admin.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response

from digitrec.errors import InputError
from digitrec.reading.numbers import Digit, NumberReading
from digitrec.reading.reader import Picture, model_input
from digitrec.store.feedback import MAX_ID, NOT_A_DIGIT, Correction, Store, drawing_png, ink_png, new_correction
from digitrec.web import schemas
from digitrec.web.answers import ERRORS
from digitrec.web.deps import MetricsDep, Registry, RegistryDep, SettingsDep, StoreDep, client_key, off_loop
from digitrec.web.settings import Settings
from digitrec.web.submission import Posted, posted, read_submission, request_body

router = APIRouter(tags=["feedback"])
# What a write of answers may answer besides the reading errors.
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    429: {"model": schemas.ErrorOut, "description": "too many corrections from this client (when limited)"},
    403: {"model": schemas.ErrorOut, "description": "a browser's post from another site"},
    503: {"model": schemas.ErrorOut, "description": "feedback store unavailable"},
    507: {"model": schemas.ErrorOut, "description": "the store holds its cap of answers"},
}


@router.post(
    "/api/feedback",
    status_code=201,
    response_model=schemas.FeedbackOut,
    responses=WRITE_ERRORS,  # type: ignore[arg-type]
    openapi_extra=request_body(schemas.FeedbackRequest, schemas.FeedbackOptions),
    summary="Store a correction (the digit a drawing really is) or a confirmation that the model was right",
)
async def feedback(
    request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep, store: StoreDep
) -> Response:
    same_site(request, settings)
    within_rate(request, settings)
    # Parsing, decoding, preprocessing, the PNG and the database write are all blocking work.
    row = await off_loop(request, store_correction, await posted(request), settings, store, registry)
    metrics.feedback.labels(str(row.label)).inc()
    body = {
        "id": row.id,
        "label": row.label,
        "predicted": row.predicted,
        "kind": row.kind,
        "model": row.model,
        "model_version": row.model_version,
        "created_at": row.created_at.isoformat(),
        "undo": store.token(row),
    }
    return JSONResponse(body, status_code=201)


@router.delete(
    "/api/feedback/{row_id}",
    status_code=204,
    responses={
        404: {"model": schemas.ErrorOut, "description": "no such answer, or the wrong undo token"},
        403: {"model": schemas.ErrorOut, "description": "a browser's request from another site"},
        422: {"model": schemas.ErrorOut, "description": "an id out of range or a malformed token"},
    },  # type: ignore[dict-item]
    summary="Take a stored answer back (Undo), with the `undo` token its POST answered",
)
async def take_back(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    row_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    x_undo_token: Annotated[str, Header(max_length=64)] = "",
) -> Response:
    same_site(request, settings)
    if not await off_loop(request, store.delete, row_id, x_undo_token):
        raise HTTPException(404, f"no answer #{row_id} with that undo token (X-Undo-Token header)")
    return Response(status_code=204)


@router.post(
    "/api/feedback/number",
    status_code=201,
    response_model=schemas.NumberFeedbackOut,
    responses={
        **WRITE_ERRORS,
        409: {"model": schemas.ErrorOut, "description": "the server reads the drawing otherwise, or has no such box"},
    },  # type: ignore[dict-item]
    openapi_extra=request_body(schemas.NumberFeedbackRequest, schemas.NumberFeedbackOptions),
    summary="Store the right answers for the boxes of a whole number's reading, linked to that reading",
)
async def number_feedback(
    request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep, store: StoreDep
) -> Response:
    same_site(request, settings)
    within_rate(request, settings)
    stored = await off_loop(request, store_number_answers, await posted(request), settings, store, registry)
    for answer in stored.answers:
        metrics.feedback.labels(str(NOT_A_DIGIT if answer.label == "not a digit" else answer.label)).inc()
    return Response(stored.model_dump_json(), status_code=201, media_type="application/json")


@router.post(
    "/api/feedback/undo",
    status_code=204,
    responses={
        404: {
            "model": schemas.ErrorOut,
            "description": "an answer not stored, or the wrong undo token: none taken back",
        },
        403: {"model": schemas.ErrorOut, "description": "a browser's request from another site"},
        422: {"model": schemas.ErrorOut, "description": "malformed JSON, ids or tokens"},
        503: {"model": schemas.ErrorOut, "description": "feedback store unavailable"},
    },  # type: ignore[dict-item]
    summary="Take several stored answers back at once (a whole number's), all or none",
)
async def take_back_many(
    request: Request, settings: SettingsDep, store: StoreDep, body: schemas.UndoRequest
) -> Response:
    same_site(request, settings)
    missing = await off_loop(request, store.delete_rows, [(a.id, a.undo) for a in body.answers])
    if missing:
        ids = ", ".join(f"#{i}" for i in missing)
        raise HTTPException(
            404, f"no answer {ids} with that undo token: none of the {len(body.answers)} was taken back"
        )
    return Response(status_code=204)


def store_number_answers(
    posted: Posted, settings: Settings, store: Store, registry: Registry
) -> schemas.NumberFeedbackOut:
    """Read the drawing again, as /api/read did, and store each answered box's own 28x28 input and
    ink crop as the reader read it (`numbers.Digit.ink`; never pixels the client sent for them),
    the rows linked by one reading id."""
    submission = read_submission(posted, settings, schemas.NumberFeedbackOptions, schemas.NumberFeedbackRequest, False)
    options: schemas.NumberFeedbackOptions = submission.options
    name, reader = registry.get(options.model)
    boxes = answered_boxes(reader.number(submission.drawings[0]), options)
    reading = uuid.uuid4().hex
    answers = [box_answer(found, given.label) for found, given in zip(boxes, options.answers, strict=True)]
    rows = []
    for found, answer in zip(boxes, answers, strict=True):
        assert found.ink is not None  # Reader.number keeps every box's ink
        rows.append(answer_row(found.ink, found.input, answer, name, reader.version, reading=reading, is_ink=True))
    replaced = [(a.replaces, a.undo) for a in options.answers if a.replaces is not None and a.undo is not None]
    store.add_rows(rows, replaced)
    return schemas.NumberFeedbackOut(
        reading=reading,
        text=options.text,
        answers=[
            schemas.NumberAnswerOut(
                id=row.id,
                box=given.box,
                left_out=given.left_out,
                label=given.label,
                predicted=row.predicted,
                kind=row.kind,  # type: ignore[arg-type]
                undo=store.token(row),
            )
            for row, given in zip(rows, options.answers, strict=True)
        ],
        model=name,
        model_version=reader.version,
        created_at=rows[0].created_at.isoformat(),
    )


def answered_boxes(number: NumberReading, options: schemas.NumberFeedbackOptions) -> list[Digit]:
    """The boxes the answers name, in this reading of the drawing; 409 where it is not the
    reading the client answered (another model version, another drawing)."""
    if number.text != options.text:
        raise HTTPException(
            409,
            f"the server reads this drawing as {number.text or 'no digits'!r}, not {options.text!r}: "
            "read it again (/api/read) and answer that reading",
        )
    found = []
    for index, answer in enumerate(options.answers):
        boxes = number.left_out if answer.left_out else number.digits
        if answer.box >= len(boxes):
            what = "marks left out" if answer.left_out else "digit boxes"
            raise HTTPException(
                409, f"answer {index}: there is no box {answer.box}; this reading has {len(boxes)} {what}"
            )
        found.append(boxes[answer.box])
    return found


def box_answer(found: Digit, label: int | str) -> Answer:
    """A box's answer as stored: "not a digit" is NOT_A_DIGIT, and the box's own reading
    confirms it (a mark left out as no digit is confirmed by "not a digit")."""
    stored = NOT_A_DIGIT if label == "not a digit" else int(label)
    predicted = None if found.reading.not_a_digit else found.reading.digit
    right = stored == (NOT_A_DIGIT if predicted is None else predicted)
    return Answer(stored, predicted, "confirmation" if right else "correction")


def within_rate(request: Request, settings: Settings) -> None:
    """At most `feedback_rate_limit` writes of answers per client (a whole number's counts once)."""
    throttle = request.app.state.feedback_throttle
    if not throttle.allow(client_key(request)):
        wait = throttle.seconds_to_wait(client_key(request))
        raise HTTPException(
            429,
            f"too many corrections from this address (at most {settings.feedback_rate_limit}); try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def same_site(request: Request, settings: Settings) -> None:
    """Refuse a browser's write sent from a page of another site (a form posted cross-site is a
    "simple" request: no preflight asks first). Browsers say where a request comes from in
    `Origin` and `Sec-Fetch-Site`; clients that are not browsers send neither and pass."""
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site", "")
    if origin is not None and origin in settings.allowed_origins:
        return
    if fetch_site == "cross-site" or (origin is not None and not same_origin(origin, request)):
        raise HTTPException(
            403,
            "answers are taken only from this site's own page (set DIGITREC_ALLOWED_ORIGINS to allow another origin)",
        )


def same_origin(origin: str, request: Request) -> bool:
    """Whether `origin` (scheme://host[:port]) names the host this request was sent to."""
    host = request.headers.get("host", "")
    return bool(host) and origin.partition("://")[2] == host


def store_correction(posted: Posted, settings: Settings, store: Store, registry: Registry) -> Correction:
    submission = read_submission(posted, settings, schemas.FeedbackOptions, schemas.FeedbackRequest, False)
    name, reader = registry.get(submission.options.model)
    picture = reader.picture(submission.drawings[0])
    options = submission.options
    row = answer_row(
        picture, model_input(picture), Answer(options.label, options.predicted, options.kind), name, reader.version
    )
    replaces = [(options.replaces, options.undo)] if options.replaces is not None and options.undo else []
    if options.key is not None:
        row.client_key = options.key
        return store.add_keyed(row, replaces)
    return store.add_rows([row], replaces)[0]


@dataclass
class Answer:
    label: int  # 0-9, or NOT_A_DIGIT
    predicted: int | None  # what the model read; None: no digit
    kind: str  # "correction" or "confirmation"


def answer_row(
    picture: Picture,
    seen: np.ndarray,
    answer: Answer,
    model: str,
    version: str,
    *,
    reading: str | None = None,
    is_ink: bool = False,
) -> Correction:
    """The row that stores one answer: the model input `seen` and the picture as a small PNG (a
    whole drawing, or with `is_ink` one digit's crop of a number, which is ink already)."""
    try:
        image_png = ink_png(picture) if is_ink else drawing_png(picture)
    except (ValueError, OSError) as exc:  # a pixel format Pillow cannot convert
        raise InputError("this image's pixel format cannot be stored: send an 8-bit PNG or JPEG") from exc
    return new_correction(
        label=answer.label,
        predicted=answer.predicted,
        kind=answer.kind,
        model=model,
        model_version=version,
        model_input=seen,
        image_png=image_png,
        reading=reading,
    )
