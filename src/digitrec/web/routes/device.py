"""What the page needs to read on the device: the model card, the graph, the service worker; and
the static files served compressed (built and compressed by `npm run build`, frontend/)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from digitrec.reading.device import device_card, graph_path
from digitrec.web.deps import RegistryDep

router = APIRouter(tags=["meta"])
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# Built files change with each build; the graph with the model (its URL carries the version).
REVALIDATE = "no-cache"
KEEP = "public, max-age=31536000, immutable"


@router.get("/api/models/{name}/device", summary="What a browser needs to read with this model on the device")
async def model_card(name: str, registry: RegistryDep) -> dict[str, Any]:
    chosen, reader = registry.get(name)
    card = device_card(reader.predictor, chosen)
    card["graph"] = f"/api/models/{chosen}/graph?v={reader.version}"
    return card


@router.get("/api/models/{name}/graph", summary="The model's ONNX graph, as the server runs it")
async def model_graph(name: str, request: Request, registry: RegistryDep, v: str | None = None) -> Response:
    _, reader = registry.get(name)
    if v is not None and v != reader.version:
        # Kept for a year under its address: never another version's graph (a promotion or a
        # rollback between the card and this request); the page asks for the card again.
        raise HTTPException(
            404,
            f"{name} is served by {reader.version} now, not {v[:100]}: fetch its card again",
            headers={"Cache-Control": "no-store"},
        )
    path = graph_path(reader.predictor)
    headers = {"Cache-Control": KEEP, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(path, path.stat().st_mtime), media_type="application/octet-stream", headers=headers)
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> FileResponse:
    # Served from the root so that it may control the whole page, not only /static/.
    return FileResponse(
        STATIC_DIR / "dist" / "sw.js", media_type="text/javascript", headers={"Cache-Control": REVALIDATE}
    )


@lru_cache(maxsize=8)
def _gzipped(path: Path, mtime: float) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


def page_response(path: Path, request: Request) -> Response:
    """The page, gzipped for clients that take it (it is read once and kept)."""
    headers = {"Cache-Control": REVALIDATE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(path, path.stat().st_mtime), media_type="text/html", headers=headers)
    return FileResponse(path, media_type="text/html", headers=headers)


class CompressedStatic(StaticFiles):
    """StaticFiles that answers with the build's .br or .gz copy of a file when the client takes it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        accepted = dict(scope.get("headers", [])).get(b"accept-encoding", b"").decode("latin-1")
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
            if encoding in accepted:
                full, stat = self.lookup_path(path + suffix)
                if stat is not None:
                    response = await super().get_response(path + suffix, scope)
                    if response.status_code == 200:
                        response.headers["Content-Encoding"] = encoding
                        response.headers["Content-Type"] = _media_type(path)
                        response.headers["Vary"] = "Accept-Encoding"
                        response.headers["Content-Length"] = str(stat.st_size)
                    return response
        return await super().get_response(path, scope)


def _media_type(path: str) -> str:
    import mimetypes

    if path.endswith(".wasm"):
        return "application/wasm"
    if path.endswith((".mjs", ".js")):
        return "text/javascript"
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
