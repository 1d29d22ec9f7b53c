"""The app factory: `create_app(settings, predictors, store)` includes the routers and middleware."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
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
from digitrec.store.served import ServedModels
from digitrec.web import schemas
from digitrec.web.deps import Registry, Throttle, Work, public_name
from digitrec.web.handlers import add_error_handlers
from digitrec.web.metrics import Metrics
from digitrec.web.middleware import LimitAndMeasure
from digitrec.web.reloading import Loader, Reloader
from digitrec.web.requestlog import RequestLog
from digitrec.web.routes import admin, device, feedback, numbers, pages, prediction
from digitrec.web.settings import Settings

log = logging.getLogger("digitrec.web")
MIN_ADMIN_TOKEN = 16
# Component schemas of the request bodies, which routes reference from their `openapi_extra`.
REQUEST_MODELS = (schemas.PredictRequest, schemas.BatchRequest, schemas.FeedbackRequest, schemas.NumberFeedbackRequest)


def load_predictors(settings: Settings, served: ServedModels) -> dict[str, Predictor]:
    """The settings' models, by name; a name promoted since (`digitrec promote`) loads the
    checkpoint promoted."""
    entries = served.entries()
    return {
        name: Predictor(served.current(public_name(name), entries) or name, threads=settings.threads)
        for name in settings.models
    }


def reloader_for(
    settings: Settings, served: ServedModels, predictors: Mapping[str, Predictor], load: Loader
) -> Reloader:
    """What picks up promotions in a running worker; it knows each name's own model (a rollback
    past every promotion serves it again) and what serves it now."""
    started_with = {public_name(name): name for name in predictors}
    # A Predictor's name is the reference it was loaded from: a model's name or a promoted copy.
    loaded = {public_name(name): p.name for name, p in predictors.items()}
    return Reloader(served, started_with, loaded, load, settings.reload_seconds)


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
    served = ServedModels(settings.serving_dir or None)
    loaded = dict(predictors) if predictors is not None else load_predictors(settings, served)
    box = Box(settings.box_limits())  # one pool of decoding processes for all the models

    def load(model: str | Path) -> Reader:
        return Reader(predictor=Predictor(model, threads=settings.threads), budget=settings.budget(), box=box)

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
    app.state.registry.reloader = reloader_for(settings, served, loaded, load)
    app.state.feedback_throttle = Throttle(settings.feedback_rate_limit)
    app.state.login_throttle = Throttle("5/minute")
    app.state.work, app.state.box = Work(settings.reading_threads), box
    app.add_middleware(
        LimitAndMeasure,
        max_body_bytes=settings.max_body_bytes,
        metrics=app.state.metrics,
        requests=RequestLog(settings.request_log),
    )
    add_error_handlers(app)
    for area in (prediction.router, numbers.router, feedback.router, admin.router, pages.router, device.router):
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
