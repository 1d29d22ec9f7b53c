"""Two `digitrec serve` replicas behind Debian's nginx (deploy/nginx.conf, as documented) with one
PostgreSQL: a replica killed mid-burst loses no answer and no acknowledged correction."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port, start_server
from digitrec.store.feedback import open_store
from strokes import digit_strokes
from test_feedback import postgres_server  # noqa: F401 (the fixture: a throwaway PostgreSQL)

pytestmark = pytest.mark.slow


def nginx_config(folder: Path, port: int, replicas: list[int]) -> Path:
    """deploy/nginx.conf with our port, our replicas, and every file nginx writes in `folder`."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in replicas)
    text, count = re.subn(r"(        server 127\.0\.0\.1:\d+ [^\n]*\n)+", servers, text)
    assert count == 1, "deploy/nginx.conf: the upstream's server lines moved; update this test"
    text = text.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    temp = "".join(
        f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", f"http {{\n{temp}    access_log {folder / 'access.log'};\n", 1)
    # As root nginx would hand its workers to `nobody`, who cannot enter pytest's folders.
    main = f"pid {folder / 'nginx.pid'};\n" + ("user root;\n" if os.geteuid() == 0 else "")
    config = folder / "nginx.conf"
    config.write_text(main + text)
    return config


@pytest.fixture()
def database(postgres_server: str) -> str:  # noqa: F811
    from sqlalchemy import create_engine, text

    name = f"scale_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.format(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return postgres_server.format(database=name)


@pytest.fixture()
def cluster(database: str, tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed: run `make setup-dev` (it installs Debian's nginx)")
    # One after the other: the first migrates the database, the second finds it ready.
    replicas = [start_server("--db", database, log=tmp_path / f"replica-{i}.log") for i in range(2)]
    port = free_port()
    config = nginx_config(tmp_path, port, [int(url.rsplit(":", 1)[1]) for url, _ in replicas])
    balancer = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not _answers(url) and time.monotonic() < deadline:
            assert balancer.poll() is None, (tmp_path / "error.log").read_text()
            time.sleep(0.1)
        yield url, [process for _, process in replicas]
    finally:
        for process in [balancer, *(p for _, p in replicas)]:
            process.terminate()
        for process in [balancer, *(p for _, p in replicas)]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def drawing(digit: int) -> dict:
    return {"strokes": digit_strokes(digit, 280), "width": 280, "height": 280, "line_width": 22}


def test_a_killed_replica_loses_no_answer_and_no_correction(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], database: str, tmp_path: Path
) -> None:
    url, replicas = cluster
    answers: list[tuple[str, int, dict]] = []
    lock = threading.Lock()
    stop = threading.Event()

    cut_off: list[str] = []
    lost: list[dict] = []

    def post(http: httpx.Client, kind: str, payload: dict) -> httpx.Response | None:
        """One request as a careful client sends it. A replica killed after it wrote an answer's
        head but before its body leaves nginx nothing to retry (the head is already with us), so
        the answer arrives cut off: a transport error, never a wrong answer. A prediction is
        idempotent and is sent again; a correction's fate is then unknown, so it is not counted as
        acknowledged (it may or may not be stored: nothing acknowledged may be lost)."""
        for _ in range(2):
            try:
                return http.post(f"/api/{kind}", json=payload)
            except httpx.TransportError as error:
                with lock:
                    cut_off.append(f"{kind}: {error!r}")
                if kind == "feedback":
                    return None
        with lock:
            lost.append(payload)
        return None

    def client(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=20) as http:
            sent = 0
            while not stop.is_set():
                digit = (worker + sent) % 10
                kind = "feedback" if sent % 3 == 2 else "predict"
                payload = {**drawing(digit), "label": digit} if kind == "feedback" else drawing(digit)
                sent += 1
                reply = post(http, kind, payload)
                if reply is None:
                    continue
                body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
                with lock:
                    answers.append((kind, reply.status_code, body))

    with ThreadPoolExecutor(6) as pool:
        running = [pool.submit(client, worker) for worker in range(6)]
        # Counted in answers, not seconds: the machine may be busy with other work.
        wait_for(lambda: len(answers) >= 30)
        before = len(answers)
        replicas[0].send_signal(signal.SIGKILL)  # mid-burst, with requests in flight on it
        wait_for(lambda: len(answers) >= before + 60)
        stop.set()
        for future in running:
            future.result()

    statuses = sorted({status for _, status, _ in answers})
    # Only answers in flight on the killed replica can be cut off (a client has one in flight),
    # and a prediction sent again is answered by the replica left.
    assert len(cut_off) <= 6 and not lost, f"cut off: {cut_off}; predictions lost: {lost}"
    assert len(answers) >= before + 60, f"the burst stalled after the kill: {len(answers) - before} answers"
    assert statuses in ([200, 201], [200], [201]), f"answers other than 200/201: {statuses}"
    assert all(body.get("digit") is not None for kind, _, body in answers if kind == "predict")
    acknowledged = {body["id"] for kind, status, body in answers if kind == "feedback" and status == 201}
    store = open_store(database)
    try:
        missing = acknowledged - store.ids()
    finally:
        store.close()
    assert acknowledged and not missing, f"acknowledged corrections lost: {sorted(missing)}"
    # nginx did meet the dead replica (and so retried on the other), not merely route around it.
    log = (tmp_path / "error.log").read_text()
    assert re.search(r"(connect\(\) failed|upstream prematurely closed|recv\(\) failed)", log), log
    # The page and its API keep working on the replica left.
    page = httpx.get(f"{url}/", timeout=5)
    assert page.status_code == 200 and "data-testid" in page.text
    assert httpx.post(f"{url}/api/predict", json=drawing(7), timeout=5).json()["digit"] == 7


def test_one_client_holding_600_idle_connections_locks_no_one_out(
    cluster: tuple[str, list[subprocess.Popen[bytes]]],
) -> None:
    """Through the shipped nginx limits: idle sockets and heads that never end are held by nginx
    (cheaply, and dropped after client_header_timeout), never by the replicas' capped workers."""
    url, _ = cluster
    port = int(url.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(600)]
    try:
        for sock in held[:300]:  # half of them start a request and never finish its head
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)
        reply = httpx.post(f"{url}/api/predict", json=drawing(7), timeout=10)
        assert reply.status_code == 200 and reply.json()["digit"] == 7
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        for sock in held:
            sock.close()
