"""Corrections: storing them (POST /api/feedback) and taking one back (DELETE /api/feedback/{id}).
The admin's page of them (/feedback) is routes/admin.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response

from digitrec.errors import InputError
from digitrec.reading.reader import model_input
from digitrec.store.feedback import MAX_ID, Correction, Store, drawing_png
from digitrec.web import schemas
from digitrec.web.answers import ERRORS
from digitrec.web.deps import MetricsDep, Registry, RegistryDep, SettingsDep, StoreDep, client_key, off_loop
from digitrec.web.settings import Settings
from digitrec.web.submission import Posted, posted, read_submission, request_body

router = APIRouter(tags=["feedback"])


@router.post(
    "/api/feedback",
    status_code=201,
    response_model=schemas.FeedbackOut,
    responses={
        **ERRORS,
        429: {"model": schemas.ErrorOut, "description": "too many corrections from this client (when limited)"},
        403: {"model": schemas.ErrorOut, "description": "a browser's post from another site"},
        503: {"model": schemas.ErrorOut, "description": "feedback store unavailable"},
        507: {"model": schemas.ErrorOut, "description": "the store holds its cap of answers"},
    },  # type: ignore[dict-item]
    openapi_extra=request_body(schemas.FeedbackRequest, schemas.FeedbackOptions),
    summary="Store a correction (the digit a drawing really is) or a confirmation that the model was right",
)
async def feedback(
    request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep, store: StoreDep
) -> Response:
    same_site(request, settings)
    throttle = request.app.state.feedback_throttle
    if not throttle.allow(client_key(request)):
        wait = throttle.seconds_to_wait(client_key(request))
        raise HTTPException(
            429,
            f"too many corrections from this address (at most {settings.feedback_rate_limit}); try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
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
    seen = model_input(picture)
    try:
        image_png = drawing_png(picture)
    except (ValueError, OSError) as exc:  # a pixel format Pillow cannot convert
        raise InputError("this image's pixel format cannot be stored: send an 8-bit PNG or JPEG") from exc
    options = submission.options
    return store.add(
        label=options.label,
        predicted=options.predicted,
        kind=options.kind,
        model=name,
        model_version=reader.version,
        model_input=seen,
        image_png=image_png,
        replaces=(options.replaces, options.undo) if options.replaces is not None and options.undo else None,
    )
