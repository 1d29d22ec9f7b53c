"""The admin's page of stored answers (/feedback): filter them, see how often each model was
right, delete junk, and download a selection as the dataset `digitrec finetune --extra-data`
reads. Everything here needs the admin token; every POST also needs the page's CSRF token."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path as FilePath
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from digitrec.errors import InputError
from digitrec.store.feedback import MAX_ID, Filter, Store
from digitrec.web.admin import (
    COOKIE,
    STYLE,
    HTMLLogin,
    View,
    csrf_token,
    render_corrections,
    same,
    session_value,
)
from digitrec.web.deps import SettingsDep, StoreDep, client_key, off_loop
from digitrec.web.routes.feedback import same_site
from digitrec.web.schemas import FeedbackFilter
from digitrec.web.settings import Settings

router = APIRouter(tags=["admin"], include_in_schema=False)
# An id or count as a form sends it: ASCII digits only (str.isdigit takes "²", which int() refuses).
DECIMAL = re.compile(r"[0-9]{1,19}")
FAILED_LOGIN_DELAY = 1.0  # seconds added to every wrong token, on top of the per-client limit
FILTER_FIELDS = ("label", "predicted", "model", "kind", "from", "to")


@router.get("/feedback", response_class=HTMLResponse)
async def feedback_page(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    select: Literal["", "all"] = "",
    deleted: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    await authorized(request, settings)
    chosen = chosen_filter(request.query_params)
    view = await off_loop(request, page_view, store, chosen, page, settings)
    view.select_all, view.deleted = select == "all", deleted
    return HTMLResponse(await off_loop(request, render_corrections, view))


def page_view(store: Store, chosen: FeedbackFilter, page: int, settings: Settings) -> View:
    where, size = Filter(**chosen.model_dump()), settings.feedback_page_size
    return View(
        rows=store.recent(size, (page - 1) * size, where),
        total=store.count(where),
        page=page,
        page_size=size,
        chosen=chosen,
        models=store.models(),
        stats=store.stats(where),
        csrf=csrf_token(settings.admin_token),
    )


def chosen_filter(fields: Mapping[str, object]) -> FeedbackFilter:
    """The filter in a query string or a posted form: a bad value is a 422 that names it."""
    return FeedbackFilter.model_validate({name: fields[name] for name in FILTER_FIELDS if name in fields})


@router.post("/feedback/delete")
async def delete_answers(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    """The checked rows (scope=checked), or every row the filter matches (scope=matching, only
    while as many match as the page showed): gone in one transaction, then back to the page."""
    form = await admin_form(request, settings)
    chosen = chosen_filter(form)
    if form.get("scope") == "matching":
        expected = form.get("expected")
        if not isinstance(expected, str) or not DECIMAL.fullmatch(expected):
            raise InputError("`expected`: the number of answers the page showed matching, to delete all of them")
        gone = await off_loop(request, store.remove, Filter(**chosen.model_dump()), int(expected))
    else:
        gone = await off_loop(request, store.remove, Filter(**chosen.model_dump(), ids=checked(form)))
    return RedirectResponse("/feedback?" + urlencode({**chosen.query(), "deleted": gone}), status_code=303)


@router.get("/feedback/download")
async def download_matching(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    """Every answer the filter in the query string matches (a link: it changes nothing)."""
    await authorized(request, settings)
    chosen = chosen_filter(request.query_params)
    return await download(request, store, Filter(**chosen.model_dump()), settings)


@router.post("/feedback/download")
async def download_checked(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    """The rows checked on the page (that the filter also matches)."""
    form = await admin_form(request, settings)
    where = Filter(**chosen_filter(form).model_dump(), ids=checked(form))
    return await download(request, store, where, settings)


async def download(request: Request, store: Store, where: Filter, settings: Settings) -> Response:
    name, archive = await off_loop(request, corrections_zip, store, where, settings.download_max_rows)
    headers = {"Content-Disposition": f'attachment; filename="{name}.zip"', "Cache-Control": "no-store"}
    return Response(archive, media_type="application/zip", headers=headers)


def corrections_zip(store: Store, where: Filter, max_rows: int) -> tuple[str, bytes]:
    """A .zip of one folder holding the answers as `digitrec feedback export` writes them
    (oldest first), at most `max_rows` of them. The IDX files inside are gzipped already, so the
    zip only stores them."""
    name = f"digitrec-corrections-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
    with tempfile.TemporaryDirectory(prefix="digitrec-download-") as folder:
        count, files = store.export(FilePath(folder) / name, "idx", where, max_rows)
        if not count:
            raise HTTPException(404, "no answers match: nothing to download")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for file in files:
                archive.write(FilePath(folder) / name / file, f"{name}/{file}")
    return name, buffer.getvalue()


async def admin_form(request: Request, settings: Settings) -> FormData:
    """A POST of the page's forms: from this site, with the admin token and the CSRF token."""
    same_site(request, settings)
    await authorized(request, settings)
    form = await request.form(max_files=0, max_fields=settings.feedback_page_size + 2 * len(FILTER_FIELDS))
    given = form.get("csrf")
    if not isinstance(given, str) or not same(given, csrf_token(settings.admin_token)):
        raise HTTPException(403, "this form's CSRF token is missing or wrong: reload the corrections page")
    return form


def checked(form: FormData) -> tuple[int, ...]:
    ids = form.getlist("id")
    if not ids:
        raise InputError("no rows checked: check the answers to delete or download")
    if not all(isinstance(i, str) and DECIMAL.fullmatch(i) and 1 <= int(i) <= MAX_ID for i in ids):
        raise InputError(f"`id` must be the numbers of stored answers, from 1 to {MAX_ID}")
    return tuple(sorted({int(str(i)) for i in ids}))


@router.post("/feedback/login")
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


@router.get("/feedback/style.css")
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
