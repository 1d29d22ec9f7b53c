"""Errors translated once, at the edge: each answer is JSON with a `detail` that says what to change."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from digitrec.errors import DigitrecError, StoreFull, StoreUnavailable, TooLargeError, UnsupportedFormatError
from digitrec.web import schemas
from digitrec.web.admin import HTMLLogin, render_login

log = logging.getLogger("digitrec.web")


def status_of(exc: DigitrecError) -> int:
    kinds = ((TooLargeError, 413), (UnsupportedFormatError, 415), (StoreUnavailable, 503), (StoreFull, 507))
    for kind, status in kinds:
        if isinstance(exc, kind):
            return status
    return 422


def add_error_handlers(app: FastAPI) -> None:
    async def digitrec_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))  # type: ignore[arg-type]

    async def invalid(request: Request, exc: Exception) -> Response:
        detail = schemas.describe(exc) if isinstance(exc, ValidationError) else describe_request(exc)
        return JSONResponse({"detail": detail or "invalid request"}, status_code=422)

    async def disconnected(request: Request, exc: Exception) -> Response:
        # The client left mid-body: nobody reads this answer, and it is no server error.
        log.debug("client disconnected before sending its whole request")
        return Response(status_code=400)

    async def login_form(request: Request, exc: Exception) -> Response:
        return HTMLResponse(render_login(getattr(exc, "message", "")), status_code=401)

    async def internal(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error: it has been logged"}, status_code=500)

    app.add_exception_handler(DigitrecError, digitrec_error)
    app.add_exception_handler(ValidationError, invalid)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(HTMLLogin, login_form)
    app.add_exception_handler(Exception, internal)


def describe_request(exc: Any) -> str:
    errors: list[dict[str, Any]] = getattr(exc, "errors", list)()
    return "; ".join(schemas.describe_one(e) for e in errors)
