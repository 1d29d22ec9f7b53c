"""The app factory: `create_app(settings, predictors, store)` includes the routers and middleware."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from pydantic.json_schema import models_json_schema

from digitrec import __version__
from digitrec.errors import DigitrecError, ModelError
from digitrec.reading.box import Box
from digitrec.reading.inference import Predictor
from digitrec.reading.reader import Reader
from digitrec.store.feedback import Store, open_store
from digitrec.web import schemas
from digitrec.web.deps import Registry, Throttle, Work
from digitrec.web.handlers import add_error_handlers
from digitrec.web.metrics import Metrics
from digitrec.web.middleware import LimitAndMeasure
from digitrec.web.routes import device, feedback, numbers, pages, prediction
from digitrec.web.settings import Settings

log = logging.getLogger("digitrec.web")
MIN_ADMIN_TOKEN = 16
# Component schemas of the request bodies, which routes reference from their `openapi_extra`.
REQUEST_MODELS = (schemas.PredictRequest, schemas.BatchRequest, schemas.FeedbackRequest, schemas.NumberFeedbackRequest)


def load_predictors(settings: Settings) -> dict[str, Predictor]:
    return {name: Predictor(name, threads=settings.threads) for name in settings.models}


def create_app(
    settings: Settings | None = None,
    predictors: Mapping[str, Predictor] | None = None,
    store: Store | None = None,
) -> FastAPI:
    """The app, reading with `predictors` (models loaded once, by name; default: the settings'
    models) within the settings' budget."""
    settings = settings or Settings.from_env()
    if settings.admin_token and len(settings.admin_token) < MIN_ADMIN_TOKEN:
        raise DigitrecError(f"DIGITREC_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN} characters long")
    loaded = dict(predictors) if predictors is not None else load_predictors(settings)
    box = Box(settings.box_limits())  # one pool of decoding processes for all the models
    models = {name: Reader(predictor=p, budget=settings.budget(), box=box) for name, p in loaded.items()}
    if not models:
        raise ModelError("no model to serve: train one with `digitrec train` or reinstall the package")
    if store is None:
        try:
            store = open_store(
                settings.database_url or None, settings.undo_secret.encode() or None, settings.max_stored
            )
        except DigitrecError as exc:
            # Reading digits must not depend on the database: feedback answers 503 instead.
            log.warning("corrections cannot be stored: %s", exc)  # the message holds no password
    app = FastAPIOffline(
        title="digitrec", version=__version__, description="Handwritten digit recognition: draw a digit, read it right."
    )
    app.state.settings, app.state.store, app.state.metrics = settings, store, Metrics()
    app.state.registry = Registry.of(models, settings.default_model)
    app.state.feedback_throttle = Throttle(settings.feedback_rate_limit)
    app.state.login_throttle = Throttle("5/minute")
    app.state.work, app.state.box = Work(settings.reading_threads), box
    app.add_middleware(LimitAndMeasure, max_body_bytes=settings.max_body_bytes, metrics=app.state.metrics)
    add_error_handlers(app)
    for area in (prediction.router, numbers.router, feedback.router, pages.router, device.router):
        app.include_router(area)
    if settings.metrics_enabled:
        app.include_router(pages.metrics_router)
    app.mount("/static", device.CompressedStatic(directory=pages.WEB_DIR / "static"), name="static")
    app.openapi = lambda: openapi_with_request_models(app)  # type: ignore[method-assign]
    return app


def openapi_with_request_models(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the request bodies' schemas as components, so that every $ref
    in it resolves."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema(
            [(model, "validation") for model in REQUEST_MODELS], ref_template="#/components/schemas/{model}"
        )
        spec.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = spec
    return app.openapi_schema


def create_app_from_env() -> FastAPI:
    """For running under uvicorn itself (`uvicorn --factory digitrec.web.app:create_app_from_env`):
    settings come from DIGITREC_*."""
    return create_app(Settings.from_env())
