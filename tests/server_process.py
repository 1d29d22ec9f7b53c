"""`digitrec serve` as a real subprocess: shared by the tests (conftest) and the benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


class ServerDidNotStart(RuntimeError):
    """The server exited or never answered; the message holds what it printed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "digitrec", "serve", "--port", str(port), *args]


def start(port: int, *args: str, log: Path | None = None, seconds: float = 60) -> subprocess.Popen[bytes]:
    """`digitrec serve --port PORT ARGS` as a subprocess, returned once /healthz answers; its
    output goes to `log` (or is discarded), and is in the error if it fails to start."""
    with open(log or "/dev/null", "w") as out:
        process = subprocess.Popen(serve_command(port, *args), stdout=out, stderr=subprocess.STDOUT)
    if not wait_until_answering(f"http://127.0.0.1:{port}", process, seconds):
        exited = process.poll()
        stop(process)
        said = log.read_text() if log and log.is_file() else ""
        why = f"exited with {exited}" if exited is not None else f"did not answer within {seconds:g} s"
        raise ServerDidNotStart(f"`digitrec serve` {why}:\n{said}")
    return process


def stop(process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still there after `seconds`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> bool:
    """True once GET /healthz answers 200; False if the server exits or `seconds` run out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
