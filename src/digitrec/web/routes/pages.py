"""The drawing page and what describes the service: models, health, Prometheus metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from digitrec import __version__
from digitrec.web import schemas
from digitrec.web.deps import MetricsDep, RegistryDep
from digitrec.web.routes.device import page_response

WEB_DIR = Path(__file__).resolve().parent.parent
router = APIRouter(tags=["meta"])
metrics_router = APIRouter(tags=["meta"])


@router.get("/", include_in_schema=False)
async def page(request: Request) -> Response:
    return page_response(WEB_DIR / "templates" / "index.html", request)


@router.get("/api/models", response_model=list[schemas.ModelOut], summary="The models this server can use")
async def list_models(registry: RegistryDep) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "description": r.predictor.card.description,
            "accuracy": r.predictor.card.accuracy,
            "parameters": r.predictor.card.parameters,
            "version": r.version,
            "default": name == registry.default,
        }
        for name, r in registry.models.items()
    ]


@router.get("/healthz", response_model=schemas.HealthOut, summary="Liveness and readiness")
async def healthz(registry: RegistryDep) -> dict[str, Any]:
    return {"status": "ok", "models": list(registry.models), "default_model": registry.default, "version": __version__}


@metrics_router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def prometheus_metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
