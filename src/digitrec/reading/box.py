"""The box: untrusted image bytes are decoded in worker processes under hard limits that the OS
enforces, so that no input, whatever a parser makes of it, can take a server's CPU or memory.

Why processes and OS limits rather than more pre-checks: each pre-check is a parser of its own
that can disagree with the real one (a junk byte before a JPEG marker hid 3,000 scans from ours;
2,000 iCCP chunks went through the PNG path). Browsers decode pictures from strangers in a
separate, limited process; so do we. The pre-checks (`decode.precheck`) stay as a cheap first
filter, but nothing depends on them being right.

Each worker process (`python -m digitrec.reading.box`, started with a clean environment):
- imports Pillow and numpy and decodes one small picture of every format first, so that no
  module or plugin is loaded after the lock-down;
- then locks itself down: RLIMIT_AS (address space: its start-up size plus `memory_bytes`),
  RLIMIT_FSIZE 0 (a file write kills it), RLIMIT_NOFILE at the descriptors it holds (no new
  file or socket can be opened, so no network either), RLIMIT_CORE 0;
- for each job arms ITIMER_PROF for `cpu_seconds` of CPU time (SIGPROF's default action ends
  the process, even inside C code) and RLIMIT_CPU one second beyond, the coarse backstop.
The parent also kills a job that takes more than `wall_seconds` of wall time (a worker starved
of CPU by others is slow but not costly, so this limit is looser). A killed worker is replaced
by a new one at its next use; the request is answered 422, naming the limit.

What crosses back is never pickled: a JSON header (mode, shape) and raw uint8 pixels, checked
against the header and the budget, so a worker subverted by a decoder bug can send back nothing
but a wrong picture. Worker processes are started lazily, at most `workers` per server process:
the concurrency of decoding is fixed whatever the load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from digitrec.errors import (
    EmptyDrawingError,
    InputError,
    TooCostlyError,
    TooLargeError,
    UnsupportedFormatError,
)

MiB = 1024 * 1024
# Errors a worker may report, by name: anything else it says is a plain InputError.
ERRORS: dict[str, type[InputError]] = {
    kind.__name__: kind for kind in (InputError, TooLargeError, UnsupportedFormatError, EmptyDrawingError)
}
MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}  # what a worker sends back: uint8 pixels only
HEADER = struct.Struct(">II")  # lengths of the JSON header and of the payload that follows


@dataclass(frozen=True)
class Limits:
    """What one decode may cost; past any of these the worker is killed and the answer is 422."""

    # CPU time of one decode. The costliest honest input measured (a 4096x4096 progressive CMYK
    # JPEG, decoded at 1/4 scale) took about 0.15 s; a 1 Mpx WebP of noise 0.04 s.
    cpu_seconds: float = 0.5
    # Wall time, from the job's start to its answer (a loaded machine is slow, not costly).
    wall_seconds: float = 2.0
    # Address space a worker may add to what it holds at start-up: the 4096x4096 CMYK JPEG's DCT
    # coefficients alone are 128 MiB, libjpeg keeps them even when it scales the output down.
    memory_bytes: int = 320 * MiB
    # Worker processes per server process: the most decodes that run at once.
    workers: int = 2


class Killed(Exception):
    """The worker died or was killed; `limit` names the limit it went past."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


class Worker:
    """One worker process and its pipes; used by one thread at a time."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # A clean environment: only where Python finds this package, and one thread per library.
        env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}
        env |= {"OPENBLAS_NUM_THREADS": "1", "DIGITREC_BOX_LIMITS": json.dumps(dataclasses.asdict(limits))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digitrec.reading.box"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self.ready = False

    def decode(self, data: bytes, declared_limit: int, budget: dict[str, Any]) -> np.ndarray:
        if not self.ready:
            self._read(self.limits.wall_seconds + 10.0)  # start-up: its hello, once
            self.ready = True
        params = json.dumps({"limit": declared_limit, "budget": budget}).encode()
        try:
            self.stdin.write(HEADER.pack(len(params), len(data)) + params + data)
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            raise Killed(self._why()) from None
        header, payload = self._read(self.limits.wall_seconds)
        return _picture(header, payload, budget["max_decoded_pixels"])

    def _read(self, seconds: float) -> tuple[dict[str, Any], bytes]:
        fd = self.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], seconds)
        if not ready:
            self.kill()
            raise Killed("wall time")
        try:
            sizes = _read_exactly(self.stdout, HEADER.size)
            header_size, payload_size = HEADER.unpack(sizes)
            if header_size > 64 * 1024 or payload_size > 64 * MiB:
                raise EOFError
            header = json.loads(_read_exactly(self.stdout, header_size))
            payload = _read_exactly(self.stdout, payload_size)
        except (EOFError, OSError, ValueError):
            raise Killed(self._why()) from None
        if not isinstance(header, dict):
            raise Killed(self._why())
        return header, payload

    def _why(self) -> str:
        """The limit a dead worker went past, from the signal that ended it."""
        self.kill()
        code = self.process.returncode
        if code in (-signal.SIGPROF, -signal.SIGXCPU):
            return "CPU time"
        if code == -signal.SIGXFSZ:
            return "no file writes"
        if code == -signal.SIGKILL:
            return "wall time"
        return "memory"  # a failed allocation ends it (MemoryError, or abort in a C library)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                pipe.close()

    def alive(self) -> bool:
        return self.process.poll() is None


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise EOFError
    return data


def _picture(header: dict[str, Any], payload: bytes, max_pixels: int) -> np.ndarray:
    """The worker's answer: a picture checked against its header and the budget, or its error."""
    if "error" in header:
        kind = ERRORS.get(str(header["error"]), InputError)
        raise kind(str(header.get("message", "the image cannot be read"))[:500])
    mode, shape = header.get("mode"), header.get("shape")
    if mode not in MODES or not isinstance(shape, list) or len(shape) != 2:
        raise Killed("memory")
    height, width = (int(side) for side in shape)
    if not (0 < height * width <= max_pixels) or len(payload) != height * width * MODES[mode]:
        raise Killed("memory")
    pixels = np.frombuffer(payload, dtype=np.uint8)
    return pixels.reshape(height, width) if mode == "L" else pixels.reshape(height, width, MODES[mode])


class Box:
    """A fixed pool of worker processes; `decode` is called from any thread and blocks until a
    worker is free. Worker processes start at first use and after a kill."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.free = threading.Semaphore(self.limits.workers)
        self.lock = threading.Lock()
        self.idle: list[Worker] = []
        self.started = 0  # worker processes started in this process's life (for tests)

    def decode(self, data: bytes, declared_limit: int, budget: dict[str, Any]) -> np.ndarray:
        """The picture in `data` as uint8 pixels (H, W) or (H, W, C), decoded in a worker;
        TooCostlyError when the decode went past a limit and was killed."""
        with self.free:
            worker = self._take()
            try:
                picture = worker.decode(data, declared_limit, budget)
            except Killed as exc:
                worker.kill()
                raise TooCostlyError(
                    f"the image is too costly to decode: it went past the decoder's {exc.limit} limit "
                    f"({self._limit_text(exc.limit)}); send a smaller or simpler image"
                ) from None
            except InputError:  # the worker's own answer (a refusal): it serves on
                self._give_back(worker)
                raise
            except BaseException:  # interrupted mid-job: its state is unknown
                worker.kill()
                raise
            self._give_back(worker)
            return picture

    def _give_back(self, worker: Worker) -> None:
        with self.lock:
            self.idle.append(worker)

    def warm(self) -> None:
        """Start every worker process now (they load their libraries meanwhile), so that the
        first requests do not wait for them."""
        with self.lock:
            while self.started < self.limits.workers:
                self.started += 1
                self.idle.append(Worker(self.limits))

    def _take(self) -> Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
            self.started += 1
        return Worker(self.limits)

    def _limit_text(self, limit: str) -> str:
        return {
            "CPU time": f"{self.limits.cpu_seconds:g} s of CPU",
            "wall time": f"{self.limits.wall_seconds:g} s",
            "memory": f"{self.limits.memory_bytes // MiB} MiB",
            "no file writes": "a decoder may not write files",
        }[limit]

    def close(self) -> None:
        with self.lock:
            for worker in self.idle:
                worker.kill()
            self.idle.clear()


_SHARED: Box | None = None
_SHARED_LOCK = threading.Lock()


def shared_box() -> Box:
    """This process's box, which every Reader uses unless it is given another."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Box()
        return _SHARED


# --- the worker process's side ------------------------------------------------------------


def serve() -> None:
    """A worker's life: warm up, lock down, then decode jobs from stdin until it closes."""
    from digitrec.reading.decode import Budget, decode_image

    limits = Limits(**json.loads(os.environ["DIGITREC_BOX_LIMITS"]))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _warm_up(decode_image)
    _lock_down(limits)
    _send(stdout, {"hello": True}, b"")
    while True:
        sizes = stdin.read(HEADER.size)
        if len(sizes) != HEADER.size:
            return
        params_size, data_size = HEADER.unpack(sizes)
        params = json.loads(stdin.read(params_size))
        data = stdin.read(data_size)
        budget = Budget(**params["budget"])
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = int(used + limits.cpu_seconds) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard < 0 else min(soft, hard), hard))
        signal.setitimer(signal.ITIMER_PROF, limits.cpu_seconds)
        try:
            header, payload = _decoded(decode_image, data, params["limit"], budget)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        _send(stdout, header, payload)


def _decoded(decode_image: Any, data: bytes, limit: int, budget: Any) -> tuple[dict[str, Any], bytes]:
    try:
        picture = _as_pixels(decode_image(data, limit, budget=budget))
    except InputError as exc:
        if isinstance(exc.__cause__, OSError) and _near_memory_limit():
            # libjpeg reports a failed allocation as a broken stream: the cause was the limit.
            os._exit(1)  # reported as the memory limit, and this worker's heap goes with it
        return {"error": type(exc).__name__, "message": str(exc)}, b""
    except MemoryError:
        os._exit(1)  # reported as the memory limit
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[1 if picture.ndim == 2 else picture.shape[2]]
    return {"mode": mode, "shape": list(picture.shape[:2])}, np.ascontiguousarray(picture).tobytes()


def _near_memory_limit() -> bool:
    """Whether this process's peak address space came within 64 MiB of its limit (a decoder's
    allocations come in pieces of at most ~32 MiB: libjpeg's one component's coefficients)."""
    _STATUS.seek(0)
    peak = next(int(line.split()[1]) * 1024 for line in _STATUS if line.startswith("VmPeak:"))
    return peak + 64 * MiB >= resource.getrlimit(resource.RLIMIT_AS)[0]


# Opened before the lock-down, which leaves no descriptor free to open it later.
_STATUS = open("/proc/self/status") if __name__ == "__main__" else io.StringIO()  # noqa: SIM115


def _as_pixels(picture: Any) -> np.ndarray:
    """uint8 pixels of a decoded picture, in a mode `preprocess` reads as it reads the image."""
    from PIL import Image

    if isinstance(picture, np.ndarray):
        return picture
    if picture.mode == "P":
        picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
    elif picture.mode == "PA":
        picture = picture.convert("RGBA")
    elif picture.mode == "1":
        picture = picture.convert("L")
    assert isinstance(picture, Image.Image) and picture.mode in MODES
    return np.asarray(picture, dtype=np.uint8)


def _send(stream: IO[bytes], header: dict[str, Any], payload: bytes) -> None:
    text = json.dumps(header).encode()
    stream.write(HEADER.pack(len(text), len(payload)) + text + payload)
    stream.flush()


def _warm_up(decode_image: Any) -> None:
    """Decode one small picture of each format, so every module and plugin a decode can need is
    loaded before the lock-down forbids opening files."""

    from PIL import Image

    from digitrec.reading.decode import FORMATS

    sample = Image.new("RGB", (16, 16), (200, 10, 10))
    for fmt in FORMATS:
        buffer = io.BytesIO()
        (sample.convert("P") if fmt == "GIF" else sample).save(buffer, format=fmt)
        _as_pixels(decode_image(buffer.getvalue()))


def _lock_down(limits: Limits) -> None:
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    address_space = size + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    listed = [int(fd) for fd in os.listdir("/proc/self/fd")]
    highest = max(fd for fd in listed if _is_open(fd))  # not the listing's own, closed by now
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, highest + 1))


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


if __name__ == "__main__":
    serve()
