"""What every benchmark shares: the machine's description, a real server, and BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "BENCHMARKS.md"
sys.path.insert(0, str(ROOT / "tests"))  # the tests' stroke templates and server subprocess helpers

import server_process  # noqa: E402
from server_process import free_port  # noqa: E402


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    import onnxruntime

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}"
    )


def record(title: str, lines: list[str]) -> None:
    """Print a result table and append it, with machine and date, to BENCHMARKS.md."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"### {title}",
        "",
        f"{stamp}; {machine()}; command: `python -m benchmarks {' '.join(sys.argv[1:])}`",
        "",
        *lines,
        "",
    ]
    text = "\n".join(block)
    print(text)
    with RESULTS.open("a") as out:
        out.write("\n" + text)


def drawn_digit_png(digit: int = 7, size: int = 280, seed: int = 1) -> bytes:
    """A realistic canvas export: a digit drawn with a 22-px pen, dark on white, anti-aliased
    (drawn at 4x and reduced, as a browser's canvas smooths its strokes), saved as an RGBA PNG."""
    from digitrec.reading.decode import render_strokes
    from strokes import digit_strokes

    big = size * 4
    ink = render_strokes(digit_strokes(digit, big, seed=seed, margin=0.05), big, big, 22 * 4)
    ink = np.asarray(Image.fromarray(ink).resize((size, size), Image.Resampling.BOX))
    rgba = np.empty((size, size, 4), dtype=np.uint8)
    rgba[..., :3] = (255 - ink)[..., None]
    rgba[..., 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_digit_strokes(digit: int = 7, size: int = 280, seed: int = 1, spacing: float = 3.0) -> bytes:
    """What the page posts for a drawing: its strokes as JSON in CSS pixels, sampled as pointer
    events report them (a point every few pixels), with the canvas size and the 22-px pen."""
    from strokes import digit_strokes

    strokes = []
    for stroke in digit_strokes(digit, size, seed=seed, margin=0.05):
        points = [stroke[0]]
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            steps = max(1, round(float(np.hypot(x1 - x0, y1 - y0)) / spacing))
            points += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(1, steps + 1)]
        strokes.append([[round(x, 1), round(y, 1)] for x, y in points])
    body = {"strokes": strokes, "width": size, "height": size, "line_width": 22}
    return json.dumps(body, separators=(",", ":")).encode()


@contextmanager
def running_server(workers: int = 1, extra: list[str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`digitrec serve` in a subprocess on a free port, ready when /healthz answers."""
    port = free_port()
    process = server_process.start(port, "--workers", str(workers), "--log-level", "warning", *(extra or []))
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        server_process.stop(process)
