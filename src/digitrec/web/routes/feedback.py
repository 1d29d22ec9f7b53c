"""Corrections: storing them (POST /api/feedback) and the admin's page of them (/feedback)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from digitrec.errors import InputError
from digitrec.reading.reader import Reader, model_input
from digitrec.store.feedback import Correction, Store, drawing_png, undo_token
from digitrec.web import schemas
from digitrec.web.admin import COOKIE, STYLE, HTMLLogin, render_corrections, same, session_value
from digitrec.web.answers import ERRORS
from digitrec.web.deps import MetricsDep, RegistryDep, SettingsDep, StoreDep, client_key
from digitrec.web.settings import Settings
from digitrec.web.submission import Submission, read_submission, request_body

router = APIRouter(tags=["feedback"])
FAILED_LOGIN_DELAY = 1.0  # seconds added to every wrong token, on top of the per-client limit


@router.post(
    "/api/feedback",
    status_code=201,
    response_model=schemas.FeedbackOut,
    responses={
        **ERRORS,
        429: {"model": schemas.ErrorOut, "description": "too many corrections from this client (when limited)"},
        503: {"model": schemas.ErrorOut, "description": "feedback store unavailable"},
    },  # type: ignore[dict-item]
    openapi_extra=request_body(schemas.FeedbackRequest, schemas.FeedbackOptions),
    summary="Store a correction (the digit a drawing really is) or a confirmation that the model was right",
)
async def feedback(
    request: Request, settings: SettingsDep, registry: RegistryDep, metrics: MetricsDep, store: StoreDep
) -> Response:
    throttle = request.app.state.feedback_throttle
    if not throttle.allow(client_key(request)):
        wait = throttle.seconds_to_wait(client_key(request))
        raise HTTPException(
            429,
            f"too many corrections from this address (at most {settings.feedback_rate_limit}); try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    submission = await read_submission(request, settings, schemas.FeedbackOptions, schemas.FeedbackRequest, False)
    name, reader = registry.get(submission.options.model)
    # Decoding, preprocessing, the PNG and the database write are all blocking work.
    row = await run_in_threadpool(store_correction, submission, store, name, reader)
    metrics.feedback.labels(str(row.label)).inc()
    body = {
        "id": row.id,
        "label": row.label,
        "predicted": row.predicted,
        "kind": row.kind,
        "model": name,
        "model_version": row.model_version,
        "created_at": row.created_at.isoformat(),
        "undo": undo_token(row),
    }
    return JSONResponse(body, status_code=201)


@router.delete(
    "/api/feedback/{row_id}",
    status_code=204,
    responses={404: {"model": schemas.ErrorOut, "description": "no such answer, or the wrong undo token"}},
    summary="Take a stored answer back (Undo), with the `undo` token its POST answered",
)
async def take_back(row_id: int, store: StoreDep, x_undo_token: Annotated[str, Header(max_length=64)] = "") -> Response:
    if not await run_in_threadpool(store.delete, row_id, x_undo_token):
        raise HTTPException(404, f"no answer #{row_id} with that undo token (X-Undo-Token header)")
    return Response(status_code=204)


def store_correction(submission: Submission, store: Store, name: str, reader: Reader) -> Correction:
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


@router.get("/feedback", response_class=HTMLResponse, include_in_schema=False)
async def feedback_page(
    request: Request, settings: SettingsDep, store: StoreDep, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1
) -> Response:
    await authorized(request, settings)
    size = settings.feedback_page_size
    rows = await run_in_threadpool(store.recent, size, (page - 1) * size)
    total = await run_in_threadpool(store.count)
    return HTMLResponse(await run_in_threadpool(render_corrections, rows, total, page, size))


@router.post("/feedback/login", include_in_schema=False)
async def login(request: Request, settings: SettingsDep) -> Response:
    page_is_on(settings)
    form = await request.form(max_files=0, max_fields=5)
    given = form.get("token")
    if not isinstance(given, str) or not same(given, settings.admin_token):
        await refuse(request, "wrong token")
    response = RedirectResponse("/feedback", status_code=303)
    response.set_cookie(
        COOKIE,
        session_value(settings.admin_token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/feedback",
    )
    return response


@router.get("/feedback/style.css", include_in_schema=False)
async def feedback_style() -> Response:
    return Response(STYLE, media_type="text/css")


def page_is_on(settings: Settings) -> None:
    if not settings.admin_token:
        raise HTTPException(404, "the corrections page is off: set DIGITREC_ADMIN_TOKEN to turn it on")


async def authorized(request: Request, settings: Settings) -> None:
    """The token in an `Authorization: Bearer` header, or the cookie the login form sets; never
    in the URL, where logs and browser history would keep it."""
    page_is_on(settings)
    header = request.headers.get("authorization", "")
    cookie = request.cookies.get(COOKIE, "")
    if header.startswith("Bearer ") and same(header.removeprefix("Bearer ").strip(), settings.admin_token):
        return
    if cookie and same(cookie, session_value(settings.admin_token)):
        return
    if header or cookie:
        await refuse(request, "wrong token")
    raise unauthorized(request, "the corrections page needs the admin token (a Bearer header or the login form)")


async def refuse(request: Request, why: str) -> None:
    """A wrong token: slowed down, and at most a few tries a minute from one address."""
    throttle = request.app.state.login_throttle
    if not throttle.allow(client_key(request)):
        raise HTTPException(429, "too many wrong tokens from this address: wait a minute")
    await asyncio.sleep(FAILED_LOGIN_DELAY)
    raise unauthorized(request, why)


def unauthorized(request: Request, message: str) -> Exception:
    if "text/html" in request.headers.get("accept", ""):
        return HTMLLogin(message)
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
