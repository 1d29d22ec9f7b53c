"""One line per request for the people who run the service: time, method, route, status,
latency, the model version that answered, and the client's address.

Nothing a client wrote goes in beyond a bounded, known shape: the route is the matched
template (`/api/feedback/{row_id}`, never the path asked for), the method one of HTTP's, the
model version the server's own; no query string, header, token or body. `DIGITREC_REQUEST_LOG`
picks `text` (the default), `json` (one object a line, for log shippers) or `off`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MODEL_HEADER = b"x-model-version"  # set by answers.answer on every reading
MAX_CLIENT = 45  # the longest IPv6 address written out
log = logging.getLogger("digitrec.requests")


class StderrLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The message alone, on stderr: the line carries its own time."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(message)s"))


class RequestLog:
    def __init__(self, style: str) -> None:
        self.style = style
        if style == "off":
            return
        log.setLevel(logging.INFO)
        log.propagate = False  # uvicorn's root handlers would print it a second time
        if not any(isinstance(h, StderrLines) for h in log.handlers):
            log.addHandler(StderrLines())

    def write(self, method: str, route: str, status: int, seconds: float, model: str, client: str) -> None:
        if self.style == "off":
            return
        entry = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": method if method in METHODS else "OTHER",
            "route": route,
            "status": status,
            "ms": round(seconds * 1000, 2),
            "model_version": model[:100] or None,
            "client": client[:MAX_CLIENT],
        }
        if self.style == "json":
            log.info(json.dumps(entry))
        else:
            log.info(
                "%s %s %s %d %.2f ms %s %s",
                entry["time"],
                entry["method"],
                route,
                status,
                entry["ms"],
                entry["model_version"] or "-",
                entry["client"],
            )
