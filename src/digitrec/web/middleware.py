"""Pure ASGI middleware (no per-request task switching, unlike BaseHTTPMiddleware)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from digitrec.web.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


MEASURED_ROUTES = frozenset(
    {
        "/api/predict",
        "/api/predict/batch",
        "/api/read",
        "/api/feedback",
        "/predict",
        "/api/models",
        "/healthz",
        "/metrics",
    }
)


class BodyTooLarge(Exception):
    pass


class LimitAndMeasure:
    """Refuse bodies over `max_body_bytes` with 413 before reading them, and time every request.

    The declared Content-Length is checked first; a chunked body is counted as it streams in.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # A fixed set of labels: arbitrary paths must not grow the metrics without bound.
        route = scope["path"] if scope["path"] in MEASURED_ROUTES else "other"
        status = 500
        limit = self.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _reply_413(send, limit)
                self.metrics.observe(route, 413, time.perf_counter() - started)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        except BodyTooLarge:
            status = 413
            await _reply_413(send, limit)
        finally:
            self.metrics.observe(route, status, time.perf_counter() - started)


async def _reply_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is over the limit of {limit:,} bytes; send a smaller image"})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
