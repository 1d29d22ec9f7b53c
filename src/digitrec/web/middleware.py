"""Pure ASGI middleware (no per-request task switching, unlike BaseHTTPMiddleware): the body
limit, metrics labelled by the matched route, the request log, and the security headers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from digitrec.errors import TooLargeError
from digitrec.web.metrics import Metrics
from digitrec.web.requestlog import MODEL_HEADER, RequestLog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The page and the corrections page: only our own scripts and styles (elements styled from
# script are allowed: that is CSSOM, not inline markup), images from data: URLs and canvases.
PAGE_CSP = (
    # 'wasm-unsafe-eval': the page compiles onnxruntime-web's WebAssembly (served from here) to read on
    # the device; it allows no JavaScript eval.
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# /docs and /redoc start their bundled scripts from an inline <script>; ReDoc runs a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class BodyTooLarge(TooLargeError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is over the limit of {limit:,} bytes; send a smaller image")


class LimitAndMeasure:
    """Refuse bodies over `max_body_bytes` with 413 as they are read, time every request, and add
    the security headers.

    The declared Content-Length is checked at the first read, before any byte of the body is
    taken; a chunked body is counted as it streams in. BodyTooLarge is raised inside the route,
    where the app's handler for DigitrecError answers it, so the metrics name the route.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: Metrics, requests: RequestLog) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        model = b""
        limit = self.max_body_bytes
        declared = next((value for name, value in scope.get("headers", ()) if name == b"content-length"), b"")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal status, model
            if message["type"] == "http.response.start":
                status = message["status"]
                model = next((v for k, v in message.get("headers", ()) if k == MODEL_HEADER), b"")
                message["headers"] = [*message.get("headers", ()), *security_headers(scope, message)]
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        finally:
            # The matched route's template (FastAPI sets scope["route"]): a bounded set of labels,
            # whatever paths clients make up.
            route = scope.get("route")
            label = getattr(route, "path", None) or "other"
            seconds = time.perf_counter() - started
            self.metrics.observe(label, status, seconds)
            client = scope.get("client") or ("", 0)
            self.requests.write(scope["method"], label, status, seconds, model.decode("latin-1"), str(client[0]))


def security_headers(scope: Scope, start: Message) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-content-type-options", b"nosniff")]
    content_type = next((value for name, value in start.get("headers", ()) if name.lower() == b"content-type"), b"")
    if content_type.startswith(b"text/html"):
        csp = DOCS_CSP if str(scope.get("path", "")).startswith(DOCS_PATHS) else PAGE_CSP
        headers += [
            (b"content-security-policy", csp.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]
    return headers
