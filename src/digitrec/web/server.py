"""How the app is served: uvicorn on asyncio's loop with httptools, one process per worker, each
with a listening socket of its own (SO_REUSEPORT); TCP_NODELAY on every connection; slow clients
dropped and open connections capped.

Every request here is ~1.5 ms of CPU in one process, so what shows in requests/s is who waits:
- Worker processes sharing one listening socket do not share the load: a worker woken by a
  burst of new connections took all it could (11 of 16) and its connections then waited twice
  as long. With a socket per worker (SO_REUSEPORT, as gunicorn's --reuse-port and nginx's
  `reuseport` use it) the kernel spreads new connections over the workers by a hash of their
  addresses, before any worker has seen them.
- uvloop, under overload, answered some connections seconds late while others went first (p99
  2.1 s against p50 98 ms at 64 connections); asyncio's loop serves them in turn.
- asyncio sets TCP_NODELAY itself only on sockets it knows are TCP; without it a response written
  in two parts waits for the client's delayed ACK (40 ms a request). The protocol sets it.
- uvicorn has no deadline for a request's headers or body, no limit on the headers with httptools,
  and its connection cap locks everyone out once reached: the protocol below adds them.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import multiprocessing
import os
import signal
import socket
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from digitrec.web.settings import Settings

TIMEOUT_DETAIL = "the request did not arrive in time: send its headers and body faster"


@functools.cache
def _guard_settings() -> Settings:
    # Worker processes read the same DIGITREC_* variables as the app; read once per process.
    return Settings()


# The uvicorn versions whose HttpToolsProtocol this subclass was read against; the test of this
# module fails on any other, so that an upgrade is read again before it ships.
UVICORN_READ = ("0.55.0",)


def _answer(status: bytes, detail: str) -> bytes:
    body = b'{"detail":"%s"}' % detail.encode()
    return b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with what uvicorn has no setting for on this parser:
    - a cap on open connections that refuses only the new ones (uvicorn's `limit_concurrency`
      answers 503 to *every* request once the cap is reached, so 520 idle sockets of one client
      locked everyone out);
    - limits on a request's head, its bytes and its number of headers (431): httptools has none,
      and h11's `h11_max_incomplete_event_size` is only for h11, which answers 400 and serves a
      third of the requests/s;
    - a deadline for the head (`header_timeout`) shorter than the one for the whole request
      (`request_timeout`), since a client sending a byte a second would hold a connection for ever;
    - TCP_NODELAY.
    It overrides only the parser callbacks and the asyncio.Protocol methods, and calls uvicorn's
    own for everything they do; tests/test_server.py pins the uvicorn version it was read against.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _guard_settings()
        self.limit_concurrency = None  # the cap is ours: see connection_made
        self.max_connections = settings.max_connections
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.timeout_keep_alive = int(settings.keep_alive_timeout)
        self.header_timeout = min(settings.header_timeout, settings.request_timeout)
        self.request_timeout = settings.request_timeout
        self.arrival_deadline: asyncio.TimerHandle | None = None
        self.head_bytes: int | None = 0  # bytes of the request's head so far; None in its body
        self.head_parsed = 0  # the same, from what the parser handed over
        self.header_count = 0
        self.completed = False  # a request ended in the read being parsed
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            # Past the cap only this new connection is refused: those admitted are served on.
            self.refused = True
            transport.write(_answer(b"503 Service Unavailable", "too many open connections: try again shortly"))
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self.arm_deadline(self.header_timeout)  # a connection that never sends a byte is a slow request too

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        in_head, self.completed = self.head_bytes is not None, False
        super().data_received(data)
        # Counted after parsing, and only a read that began and ended inside a head: a head that
        # ends in this read, or a body that does, are not taken for a long head. What httptools
        # holds of a head stays under the limit plus two reads (asyncio reads 256 kB at most).
        # Such reads are all head, so this never counts more than the head holds.
        if in_head and self.head_bytes is not None and not self.completed and not self.transport.is_closing():
            self.head_bytes += len(data)
            self.check_head()

    def check_head(self) -> None:
        if max(self.head_bytes or 0, self.head_parsed) > self.max_header_bytes:
            self.refuse_head(f"the request's head is over {self.max_header_bytes:,} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes, self.head_parsed, self.header_count = 0, 0, 0
        if self.arrival_deadline is None:  # the next request on a kept-alive connection
            self.arm_deadline(self.header_timeout)

    def on_url(self, url: bytes) -> None:
        self.head_parsed += len(url)
        self.check_head()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.transport.is_closing():
            return
        # What the parser hands over, exactly (a head in one read is not counted above).
        self.head_parsed += len(name) + len(value) + 4
        self.header_count += 1
        self.check_head()
        if self.header_count > self.max_headers:
            self.refuse_head(f"the request has more than {self.max_headers} headers")
        if not self.transport.is_closing():
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():  # refused above: the app never sees this request
            return
        self.head_bytes = None
        self.arm_deadline(self.request_timeout)  # the body's deadline, longer than the head's
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        self.cancel_deadline()  # the whole request is in: the app's own time is not limited
        self.head_bytes, self.completed = 0, True
        if self.cycle is not None and not self.transport.is_closing():
            super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused:
            return
        self.cancel_deadline()
        super().connection_lost(exc)

    def refuse_head(self, why: str) -> None:
        if self.transport.is_closing():
            return
        self.cancel_deadline()
        self.transport.write(_answer(b"431 Request Header Fields Too Large", f"{why}: send fewer or smaller headers"))
        self.transport.close()

    def arm_deadline(self, seconds: float) -> None:
        self.cancel_deadline()
        self.arrival_deadline = self.loop.call_later(seconds, self.too_slow)

    def cancel_deadline(self) -> None:
        if self.arrival_deadline is not None:
            self.arrival_deadline.cancel()
            self.arrival_deadline = None

    def too_slow(self) -> None:
        self.arrival_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_answer(b"408 Request Timeout", TIMEOUT_DETAIL))
        self.transport.close()


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A bound, listening TCP socket; with `reuse_port`, one of several that share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, settings: Settings, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        log_level=log_level,
        access_log=False,
        loop="asyncio",
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=int(settings.keep_alive_timeout),
    )


def serve(settings: Settings, log_level: str = "info", app: Any = None) -> None:
    """Serve until SIGINT/SIGTERM: in this process for one worker (`app`, or one built from the
    settings), else one process per worker, each building its own app."""
    if settings.workers == 1:
        from digitrec.web.app import create_app

        sock = listening_socket(settings.host, settings.port, reuse_port=False)
        app = app if app is not None else create_app(settings)
        config = uvicorn_config(app, settings, log_level)
        warm_box(app)
        freeze_heap()
        uvicorn.Server(config).run(sockets=[sock])
        return
    os.environ.update(settings.to_env())  # worker processes build the same app from these
    context = multiprocessing.get_context("spawn")
    args = (settings.host, settings.port, log_level)
    workers = [context.Process(target=run_worker, args=args) for _ in range(settings.workers)]
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for worker in workers:
        worker.start()
    started = time.monotonic()
    while not stopping:
        time.sleep(0.2)
        for index, worker in enumerate(workers):
            if worker.exitcode is not None:
                if time.monotonic() - started < 10:
                    stopping = True  # dying at start (port taken, bad settings): restarting won't help
                    break
                workers[index] = context.Process(target=run_worker, args=args)  # a crashed worker
                workers[index].start()
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for worker in workers:
        worker.join(10)
        if worker.is_alive():
            worker.kill()


def run_worker(host: str, port: int, log_level: str) -> None:
    from digitrec.web.app import create_app

    settings = Settings()
    sock = listening_socket(host, port, reuse_port=True)
    app = create_app(settings)
    config = uvicorn_config(app, settings, log_level)
    warm_box(app)
    freeze_heap()
    uvicorn.Server(config).run(sockets=[sock])


def warm_box(app: Any) -> None:
    """Start the app's decoding processes before the first request needs them."""
    box = getattr(getattr(app, "state", None), "box", None)
    if box is not None:
        box.warm()


def freeze_heap() -> None:
    """Leave everything alive at start-up out of the garbage collector's full passes: with the
    app and its libraries loaded, each full pass walked ~125,000 objects and took 80-90 ms of a
    request that happened to trigger it (one with thousands of small strokes); frozen, it walks
    only what requests made."""
    gc.collect()
    gc.freeze()
