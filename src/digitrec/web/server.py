"""How uvicorn runs the app: asyncio's event loop (taking one new connection per turn when
worker processes share the listening socket), httptools, and TCP_NODELAY on every connection.

Every request here is ~1.5 ms of CPU in one process, so the event loop's own speed does not show
in requests/s (uvloop and asyncio measured equal). What shows is who waits:
- uvloop, under overload, answered some connections seconds late while others went first (p99
  2.1 s against p50 98 ms at 64 connections on one worker); asyncio's loop serves them in turn.
- Worker processes share one listening socket. An idle worker woken by a burst of new
  connections took all it could (11 of 16, or all 16 with asyncio's default), and its
  connections then waited twice as long as the other worker's. Taking one per turn of the loop
  leaves the rest to whichever worker is free: connections end up spread evenly. A single
  worker keeps asyncio's way, taking all that wait at once: one per turn would make the last
  of a burst of 64 wait for 64 turns of ever more requests (p99 1 s instead of 0.16 s).
- asyncio sets TCP_NODELAY itself only on sockets it knows are TCP, and the listening socket
  uvicorn hands to its worker processes does not say so; without it a response written in two
  parts waits for the client's delayed ACK (40 ms a request).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class FairAcceptLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, accepting at most one connection each time the listening socket
    is ready (CPython's default accepts up to the listen backlog in one go)."""

    def _accept_connection(self, protocol_factory: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        # CPython passes (sslcontext, server, backlog, ...) positionally; backlog is the 3rd.
        if len(args) >= 3:
            args = (*args[:2], 1, *args[3:])
        else:
            kwargs["backlog"] = 1
        super()._accept_connection(protocol_factory, sock, *args, **kwargs)  # type: ignore[misc]


def new_event_loop() -> asyncio.AbstractEventLoop:
    return FairAcceptLoop()


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


# What `digitrec serve` passes to uvicorn.run (import strings: worker processes import them).
HTTP = f"{__name__}:{NoDelayHttpToolsProtocol.__name__}"


def loop_for(workers: int) -> str:
    return f"{__name__}:new_event_loop" if workers > 1 else "asyncio"
