"""How `digitrec serve` treats connections, over real sockets: TCP_NODELAY on each, a socket per
worker sharing the port, slow clients dropped, new connections past the cap refused (and only
they), heads over their limits refused with 431, clients that leave."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from conftest import free_port, start_server
from digitrec.web.server import listening_socket, uvicorn_config
from digitrec.web.settings import Settings
from server_process import stop


async def hello(scope: dict, receive: object, send: object) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"hi"})  # type: ignore[operator]


@pytest.fixture()
def in_process_server() -> Iterator[tuple[uvicorn.Server, int]]:
    """uvicorn with digitrec's configuration on a real socket, in a thread of its own (its
    connections can then be looked at, which a subprocess's cannot)."""
    sock = listening_socket("127.0.0.1", 0, reuse_port=True)
    server = uvicorn.Server(uvicorn_config(hello, Settings(), "warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    yield server, sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)


def test_accepted_connections_have_tcp_nodelay(in_process_server: tuple[uvicorn.Server, int]) -> None:
    server, port = in_process_server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(1000).startswith(b"HTTP/1.1 200")
        connections = list(server.server_state.connections)
        assert len(connections) == 1
        accepted = connections[0].transport.get_extra_info("socket")  # type: ignore[attr-defined]
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_workers_sockets_share_one_port() -> None:
    first = listening_socket("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port, reuse_port=True)
    # The kernel hands each new connection to one of them: over many, both get some.
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    first.settimeout(0.2)
    second.settimeout(0.2)
    counts = []
    for listener in (first, second):
        taken = 0
        while True:
            try:
                listener.accept()[0].close()
                taken += 1
            except TimeoutError:
                break
        counts.append(taken)
    for sock in (*clients, first, second):
        sock.close()
    assert sum(counts) == 64 and min(counts) > 0


def read_all(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    sock.settimeout(seconds)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - started


@pytest.fixture()
def guarded_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    monkeypatch.setenv("DIGITREC_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("DIGITREC_MAX_CONNECTIONS", "4")
    monkeypatch.setenv("DIGITREC_DATABASE_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    log = tmp_path / "server.log"
    url, process = start_server("--model", "seed-ann", log=log)
    yield url, int(url.rsplit(":", 1)[1]), log
    stop(process)


@pytest.mark.slow
@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /api/predict HTTP/1.1\r\nHost: x\r\n", b"POST /api/predict HTTP/1.1\r\ncontent-length: 1000\r\n\r\n{"],
    ids=["nothing", "half the headers", "part of the body"],
)
def test_slow_clients_are_dropped(guarded_server: tuple[str, int, Path], sent: bytes) -> None:
    _, port, _ = guarded_server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(sent)
        answer, seconds = read_all(client, 30)
    assert 1.5 <= seconds < 10
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


@pytest.mark.slow
def test_past_the_cap_only_new_connections_are_refused(guarded_server: tuple[str, int, Path]) -> None:
    url, port, _ = guarded_server
    with httpx.Client(base_url=url, timeout=5) as admitted:
        assert admitted.get("/healthz").status_code == 200  # admitted, and kept alive
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]  # the cap is 4
        try:
            time.sleep(0.3)
            with socket.create_connection(("127.0.0.1", port)) as extra:
                answer, _ = read_all(extra, 5)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503")
            # The one admitted before is served on: idle sockets do not lock everyone out.
            assert admitted.get("/healthz").status_code == 200
        finally:
            for sock in idle:
                sock.close()
    time.sleep(0.3)
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"x-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET /healthz?" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["200 headers", "a 100 kB header", "a 100 kB URL"],
)
def test_oversized_heads_are_refused(guarded_server: tuple[str, int, Path], head: bytes) -> None:
    """431, or httptools' own 400 where its parser refuses first (a URL that long)."""
    url, port, _ = guarded_server
    with socket.create_connection(("127.0.0.1", port)) as client:
        # The server may close before the last bytes are in: its answer is sent first.
        with contextlib.suppress(OSError):
            client.sendall(head)
        answer, _ = read_all(client, 10)
    assert answer.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")), answer[:200]
    assert b" 400 " not in answer[:13] or b"?" in head[:20]
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def test_the_protocol_was_read_against_this_uvicorn() -> None:
    """server.GuardedHttpToolsProtocol overrides uvicorn's HttpToolsProtocol callbacks (uvicorn has
    no setting for httptools' head limits nor a cap that refuses only new connections): a new
    uvicorn must be read again before it ships, then added to UVICORN_READ."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from digitrec.web.server import UVICORN_READ

    assert uvicorn.__version__ in UVICORN_READ, (
        f"uvicorn {uvicorn.__version__}: re-read httptools_impl.py against digitrec.web.server's subclass"
    )
    for name in ("connection_made", "data_received", "on_message_begin", "on_header", "on_headers_complete"):
        assert callable(getattr(HttpToolsProtocol, name))


@pytest.mark.slow
def test_a_client_leaving_mid_body_logs_no_traceback(guarded_server: tuple[str, int, Path]) -> None:
    url, port, log = guarded_server
    for path in ("/api/predict", "/api/feedback", "/predict"):
        with socket.create_connection(("127.0.0.1", port)) as client:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
            )
            client.sendall(head.encode() + b'{"pixels": [[0, 1')
        time.sleep(0.3)
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
def test_two_workers_answer_on_one_port(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    code = (
        "from digitrec.web.server import serve; from digitrec.web.settings import Settings; "
        f"serve(Settings(port={port}, workers=2, models=['seed-ann']), 'warning')"
    )

    process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        answers = [httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code for _ in range(20)]
        assert answers == [200] * 20, (tmp_path / "serve.log").read_text()
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
