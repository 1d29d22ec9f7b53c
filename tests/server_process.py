"""`digitrec serve` as a real subprocess: shared by the tests (conftest) and the benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "digitrec", "serve", "--port", str(port), *args]


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
