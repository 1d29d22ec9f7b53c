"""The app factory: `create_app(settings, predictors)` builds the page, the API and /metrics."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from digitrec import __version__
from digitrec.decode import rgba_bytes_to_image
from digitrec.errors import DigitrecError, EmptyDrawingError, InputError, ModelError, TooLargeError
from digitrec.explain import explain
from digitrec.feedback import Store, open_store
from digitrec.inference import Predictor
from digitrec.preprocess import ink_map, preprocess, preprocess_ink
from digitrec.segment import segment
from digitrec.web import schemas
from digitrec.web.admin import render_corrections, to_png
from digitrec.web.forms import parse_form
from digitrec.web.inputs import (
    Options,
    compact_byte_values,
    parse_options,
    picture_from_bytes,
    picture_from_json,
)
from digitrec.web.metrics import Metrics
from digitrec.web.middleware import LimitAndMeasure
from digitrec.web.settings import Settings

WEB_DIR = Path(__file__).parent
MAX_DIGITS = 40
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorOut, "description": text}
    for code, text in {
        404: "unknown model",
        413: "body or image over the size limit",
        415: "unsupported content type",
        422: "unreadable image, nothing drawn, malformed JSON or wrong values",
    }.items()
}


def request_body(json_schema: type[BaseModel], form_fields: dict[str, str], many: bool = False) -> dict[str, Any]:
    """OpenAPI for an endpoint that takes JSON or a multipart form with `image` (one or several)."""
    image: dict[str, Any] = {"type": "string", "format": "binary"}
    properties = {
        "image": {"type": "array", "items": image} if many else image,
        "model": {"type": "string"},
        **{name: {"type": kind} for name, kind in form_fields.items()},
    }
    return {
        "requestBody": {
            "content": {
                "application/json": {"schema": json_schema.model_json_schema()},
                "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": properties}},
            }
        }
    }


class HTTPProblem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, detail


SEED_SHAPE = "expected the canvas's RGBA bytes as an array or an index-keyed object"


def seed_values(payload: dict[str, Any]) -> list[Any]:
    """The seed page's JSON.stringify(imageData.data) as parsed JSON: an object keyed "0", "1",
    ... -> its values in index order."""
    try:
        return [payload[key] for key in sorted(payload, key=int)]
    except (ValueError, TypeError) as exc:
        raise HTTPProblem(422, SEED_SHAPE) from exc


def load_predictors(settings: Settings) -> dict[str, Predictor]:
    return {name: Predictor(name, threads=settings.threads) for name in settings.models}


def create_app(
    settings: Settings | None = None,
    predictors: Mapping[str, Predictor] | None = None,
    store: Store | None = None,
) -> FastAPI:
    settings = settings or Settings.from_env()
    models = dict(predictors) if predictors is not None else load_predictors(settings)
    store_problem = ""
    if store is None:
        try:
            store = open_store(settings.database_url or None)
        except DigitrecError as exc:
            # Reading digits must not depend on the database: feedback answers 503 instead.
            store_problem = str(exc)
    if not models:
        raise ModelError("no model to serve: train one with `digitrec train` or reinstall the package")
    default = settings.default_model if settings.default_model in models else next(iter(models))
    metrics = Metrics()

    app = FastAPI(
        title="digitrec", version=__version__, description="Handwritten digit recognition: draw a digit, read it right."
    )
    app.state.settings, app.state.models, app.state.metrics, app.state.store = settings, models, metrics, store
    app.add_middleware(LimitAndMeasure, max_body_bytes=settings.max_body_bytes, metrics=metrics)

    def problem(request: Request, exc: Exception) -> JSONResponse:
        status, detail = 422, str(exc)
        if isinstance(exc, HTTPProblem):
            status, detail = exc.status, exc.detail
        elif isinstance(exc, TooLargeError):
            status = 413
        elif isinstance(exc, ModelError):
            status = 404
        return JSONResponse({"detail": detail}, status_code=status)

    for error in (HTTPProblem, DigitrecError):
        app.add_exception_handler(error, problem)

    async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
        errors: list[dict[str, Any]] = getattr(exc, "errors", list)()
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}" for e in errors)
        return JSONResponse({"detail": where or "invalid request"}, status_code=422)

    app.add_exception_handler(RequestValidationError, validation_problem)

    def predictor_for(name: str | None) -> Predictor:
        chosen = name or default
        if chosen not in models:
            raise HTTPProblem(404, f"unknown model {chosen!r}: choose one of {', '.join(models)} (see /api/models)")
        return models[chosen]

    def prediction_body(predictor: Predictor, probabilities: np.ndarray, options: Options) -> dict[str, Any]:
        digit = int(probabilities.argmax())
        order = np.argsort(-probabilities)[: options.top_k]
        metrics.predictions.labels(predictor.name, str(digit)).inc()
        return {
            "digit": digit,
            "confidence": round(float(probabilities[digit]), 6),
            "probabilities": [round(float(p), 6) for p in probabilities],
            "top": [{"digit": int(d), "probability": round(float(probabilities[d]), 6)} for d in order],
        }

    def answer(body: dict[str, Any], predictor: Predictor, started: float) -> Response:
        """The common tail of every reading: which model answered, and how long it took."""
        body.update(model=predictor.name, model_version=predictor.version)
        body["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return Response(orjson.dumps(body), media_type="application/json")

    def parse_json(body: bytes) -> Any:
        if not body:
            raise HTTPProblem(422, "the request body is empty: send JSON or a multipart form with `image`")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPProblem(422, f"malformed JSON ({exc})") from exc

    async def read_pictures(request: Request, batch: bool) -> tuple[list[Any], Options]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            body = await request.body()
            parts = parse_form(body, request.headers["content-type"], max_parts=settings.max_batch + 20)
            images = [part.data for part in parts if part.name == "image" and part.filename is not None]
            if not images:
                raise HTTPProblem(422, "the form has no file field named `image`")
            if not batch and len(images) > 1:
                raise HTTPProblem(422, "send one `image` here, or several to /api/predict/batch")
            if len(images) > settings.max_batch:
                raise HTTPProblem(413, f"{len(images)} images; at most {settings.max_batch} per batch")
            options = parse_options({part.name: part.text for part in parts if part.filename is None})
            return [picture_from_bytes(bytes(data), settings.max_pixels) for data in images], options
        if content_type in ("application/json", ""):
            payload = parse_json(await request.body())
            if not isinstance(payload, dict):
                raise HTTPProblem(422, "the JSON body must be an object")
            options = parse_options(payload)
            if not batch:
                return [picture_from_json(payload, settings.max_pixels)], options
            items = payload.get("items")
            if not isinstance(items, list) or not items:
                raise HTTPProblem(422, "`items` must be a non-empty list of drawings")
            if len(items) > settings.max_batch:
                raise HTTPProblem(413, f"{len(items)} items; at most {settings.max_batch} per batch")
            pictures: list[Any] = []
            for index, item in enumerate(items):
                try:
                    pictures.append(picture_from_json(item, settings.max_pixels))
                except InputError as exc:
                    raise type(exc)(f"item {index}: {exc}") from exc
            return pictures, options
        raise HTTPProblem(
            415,
            f"unsupported content type {content_type!r}: send application/json or "
            "multipart/form-data with a file field `image`",
        )

    def preprocess_all(pictures: list[Any]) -> np.ndarray:
        inputs = []
        for index, picture in enumerate(pictures):
            try:
                inputs.append(preprocess(picture))
            except EmptyDrawingError as exc:
                prefix = f"item {index}: " if len(pictures) > 1 else ""
                raise EmptyDrawingError(f"{prefix}nothing drawn: draw a digit first") from exc
        return np.stack(inputs)

    @app.post(
        "/api/predict",
        response_model=schemas.PredictionOut,
        responses=ERRORS,  # type: ignore[arg-type]
        openapi_extra=request_body(
            schemas.PredictRequest, {"top_k": "integer", "include_input": "boolean", "explain": "boolean"}
        ),
        summary="Read the digit in one drawing",
    )
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        pictures, options = await read_pictures(request, batch=False)
        predictor = predictor_for(options.model)
        inputs = preprocess_all(pictures)
        probabilities = predictor.predict_inputs(inputs)[0]
        body = prediction_body(predictor, probabilities, options)
        if options.include_input:
            body["input"] = np.round(inputs[0], 4).tolist()
        if options.explain:
            runner_up = int(np.argsort(-probabilities)[1])
            body["explanation"] = {
                "heatmap": np.round(explain(predictor, inputs[0], body["digit"]), 4).tolist(),
                "runner_up": {"digit": runner_up, "probability": round(float(probabilities[runner_up]), 6)},
                "method": "occlusion sensitivity: 6x6 patches blanked, drop in the answer's probability",
            }
        return answer(body, predictor, started)

    @app.post(
        "/api/predict/batch",
        response_model=schemas.BatchOut,
        responses=ERRORS,  # type: ignore[arg-type]
        openapi_extra=request_body(schemas.BatchRequest, {}, many=True),
        summary=f"Read many drawings in one request (at most {Settings().max_batch})",
    )
    async def predict_batch(request: Request) -> Response:
        started = time.perf_counter()
        pictures, options = await read_pictures(request, batch=True)
        predictor = predictor_for(options.model)
        probabilities = predictor.predict_inputs(preprocess_all(pictures))
        return answer(
            {"predictions": [prediction_body(predictor, p, options) for p in probabilities]}, predictor, started
        )

    @app.post(
        "/api/read",
        response_model=schemas.ReadOut,
        responses=ERRORS,  # type: ignore[arg-type]
        openapi_extra=request_body(schemas.PredictRequest, {}),
        summary="Read a whole number: the digits in a drawing, left to right",
    )
    async def read_number(request: Request) -> Response:
        started = time.perf_counter()
        pictures, options = await read_pictures(request, batch=False)
        predictor = predictor_for(options.model)
        segments = segment(ink_map(pictures[0]))
        if len(segments) > MAX_DIGITS:
            raise HTTPProblem(422, f"{len(segments)} separate marks; at most {MAX_DIGITS} digits are read at once")
        inputs = np.stack([preprocess_ink(s.ink) for s in segments])
        probabilities = predictor.predict_inputs(inputs)
        digits = []
        for found, p in zip(segments, probabilities, strict=True):
            item = prediction_body(predictor, p, options)
            item["box"] = list(found.box)
            digits.append(item)
        return answer({"text": "".join(str(d["digit"]) for d in digits), "digits": digits}, predictor, started)

    @app.post(
        "/api/feedback",
        status_code=201,
        response_model=schemas.FeedbackOut,
        responses={**ERRORS, 503: {"model": schemas.ErrorOut, "description": "the database cannot be reached"}},  # type: ignore[dict-item]
        openapi_extra=request_body(schemas.FeedbackRequest, {"label": "integer", "predicted": "integer"}),
        summary="Store a correction: the drawing and the digit it really is",
    )
    async def feedback(request: Request) -> Response:
        pictures, options = await read_pictures(request, batch=False)
        if options.label is None:
            raise HTTPProblem(422, "`label` is required: the digit (0-9) the drawing really is")
        predictor = predictor_for(options.model)
        model_input = preprocess_all(pictures)[0]
        if store is None:
            raise HTTPProblem(503, f"corrections cannot be stored right now: {store_problem}")
        row = await run_in_threadpool(
            store.add,
            label=options.label,
            predicted=options.predicted,
            model=predictor.name,
            model_version=predictor.version,
            model_input=model_input,
            image_png=to_png(pictures[0]),
        )
        metrics.feedback.labels(str(options.label)).inc()
        body = {
            "id": row.id,
            "label": row.label,
            "predicted": row.predicted,
            "model": row.model,
            "model_version": row.model_version,
            "created_at": row.created_at.isoformat(),
        }
        return JSONResponse(body, status_code=201)

    @app.get("/feedback", response_class=HTMLResponse, include_in_schema=False)
    async def feedback_page(request: Request, token: str = "") -> Response:
        if not settings.admin_token:
            raise HTTPProblem(404, "the corrections page is off: set DIGITREC_ADMIN_TOKEN to turn it on")
        given = token or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given, settings.admin_token):
            raise HTTPProblem(401, "the corrections page needs the admin token (?token=... or a Bearer header)")
        if store is None:
            raise HTTPProblem(503, f"corrections cannot be read right now: {store_problem}")
        rows = await run_in_threadpool(store.recent, 200)
        return HTMLResponse(render_corrections(rows, await run_in_threadpool(store.count)))

    @app.post(
        "/predict",
        response_class=PlainTextResponse,
        responses=ERRORS,  # type: ignore[arg-type]
        summary="The seed project's request: JSON of a square canvas's RGBA bytes; answers the digit as text",
    )
    async def seed_predict(request: Request) -> Response:
        body = await request.body()
        values: Any = compact_byte_values(body)
        if values is None:  # not the browser's compact form: parse it as any JSON
            payload = parse_json(body)
            if isinstance(payload, dict):
                values = seed_values(payload)
            elif isinstance(payload, list):
                values = payload
            else:
                raise HTTPProblem(422, SEED_SHAPE)
        try:
            picture = rgba_bytes_to_image(values)
        except (ValueError, TypeError) as exc:
            raise InputError("RGBA values must be numbers from 0 to 255") from exc
        predictor = predictor_for(None)
        probabilities = predictor.predict_inputs(preprocess_all([picture]))[0]
        digit = int(probabilities.argmax())
        metrics.predictions.labels(predictor.name, str(digit)).inc()
        return PlainTextResponse(str(digit))

    @app.get("/api/models", response_model=list[schemas.ModelOut], summary="The models this server can use")
    async def list_models() -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "description": p.metadata.get("description", ""),
                "accuracy": p.accuracy,
                "parameters": p.parameters,
                "version": p.version,
                "default": name == default,
            }
            for name, p in models.items()
        ]

    @app.get("/healthz", summary="Liveness and readiness")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": list(models), "default_model": default, "version": __version__}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "templates" / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn worker processes (`factory=True`): settings come from DIGITREC_*."""
    return create_app(Settings.from_env())
