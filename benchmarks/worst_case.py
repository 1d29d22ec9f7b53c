"""The costliest requests anyone can send, against a real server with one worker: for each, the
answer, the CPU time of the server and its box workers (reading/box.py) and their peak extra
memory; then /healthz latency while the costliest accepted request, and each of the second
audit's, runs again and again. Targets: every answer (200 or 4xx) within 250 ms of wall time,
/healthz p99 <= 50 ms, nothing accepted over 100 MB of memory."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from PIL import Image, ImageDraw

from benchmarks.common import drawn_digit_png, drawn_digit_strokes, record
from digitrec.reading.segment import MAX_MARKS
from server_process import free_port, serve_command, wait_until_answering
from test_budgets import (
    bmp_header,
    cmyk_photo,
    dotted_png,
    encoded,
    iccp_png,
    junk_hidden_scans,
    many_scan_jpeg,
    noise,
    rle8_bmp,
)

MAX_BODY = 2 * 1024 * 1024
TIMEOUT = 30  # seconds a request may take before it counts as a hang


@dataclass
class Case:
    name: str
    path: str
    body: bytes
    content_type: str = "application/json"


def strokes_body(points: int, side: int = 4096, line: float = 4096, seed: int = 0, strokes: int = 1) -> dict[str, Any]:
    xy = np.round(np.random.default_rng(seed).uniform(0, side, (points, 2)), 1)
    return {
        "strokes": [s.tolist() for s in np.array_split(xy, strokes)],
        "width": side,
        "height": side,
        "line_width": line,
    }


def inline_worst(pen: float) -> bytes:
    """The costliest drawing read on the event loop (routes/prediction.py): as many integer points
    as INLINE_BYTES of JSON hold, a random walk on the largest inline canvas, with pen `pen`."""
    from digitrec.web.routes.prediction import INLINE_BYTES, INLINE_SIDE

    side = INLINE_SIDE
    walk = np.cumsum(np.random.default_rng(0).normal(0, side / 60, (INLINE_BYTES // 5, 2)), axis=0) + side / 2
    points = np.clip(walk, side * 0.3, side * 0.7).round().astype(int).tolist()
    body = as_json({"strokes": [points], "width": side, "height": side, "line_width": pen})
    while len(body) > INLINE_BYTES:
        points = points[: len(points) * 9 // 10]
        body = as_json({"strokes": [points], "width": side, "height": side, "line_width": pen})
    return body


def inline_png_worst(ruled: bool) -> bytes:
    """The costliest PNGs read on the event loop: the largest inline canvas as a plain PNG under
    INLINE_FORM_BYTES, either 300 dots (many marks to sort) or a ruled page with a digit (the
    paper road: its printed lines found and taken off)."""
    from digitrec.web.routes.prediction import INLINE_SIDE

    side = INLINE_SIDE
    if ruled:
        page = np.full((side, side), 250, dtype=np.uint8)
        page[::20, :] = 120
        page[side // 6 : 5 * side // 6, side // 2 - 20 : side // 2 + 10] = 10
        return encoded(Image.fromarray(page), "PNG")
    return dotted_png(side, 300)


def bars_in_a_row(count: int, height: float = 100, pen: float = 8) -> dict[str, Any]:
    """Upright bars 0.35 of their height apart: every run of up to four could be one digit, the
    most candidates a number reading can have."""
    step = 0.35 * height
    bars = [[[40 + i * step, 40.0], [40 + i * step, 40 + height]] for i in range(count)]
    return {"strokes": bars, "width": int(80 + count * step), "height": int(80 + height), "line_width": pen}


def zigzags_across(count: int, side: int = 1024, pen: float = 1.0) -> dict[str, Any]:
    """`count` strokes of 5 points, each zigzagging across the whole canvas with a fine pen (within
    the ink budget): every mark as tall and wide as the page, so each candidate digit's crop is
    the page's size (found 2026-12-07: about 210 ms of CPU in Reader.number on a Xeon)."""
    strokes = [
        [[10.0 + (side - 24) * (k % 2), 10.0 + i + (side - 24 - 2 * i) * k / 4] for k in range(5)] for i in range(count)
    ]
    return {"strokes": strokes, "width": side, "height": side, "line_width": pen}


def as_json(payload: Any) -> bytes:
    return orjson.dumps(payload)


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "worstcaseboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def image_case(name: str, path: str, data: bytes) -> Case:
    body, content_type = multipart(name, data)
    return Case(name, path, body, content_type)


def largest_noisy_jpeg() -> bytes:
    """The biggest noise photo (the costliest content per byte for libjpeg) under the body limit."""
    for side in (4096, 2896, 2048, 1448):
        for quality in (90, 60, 30, 10):
            data = encoded(noise(side), "JPEG", quality=quality)
            if len(data) < MAX_BODY - 1024:
                return data
    raise RuntimeError("no noisy JPEG fits the body limit")


def zigzags_png(side: int, count: int) -> bytes:
    """Wide zigzag marks in rows: each a component wider than a digit, so the reader looks for
    cuts in every one of them (the costliest pixel work /api/read does)."""
    canvas = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(canvas)
    per_row = 4
    width, height = side // per_row - 20, side // (count // per_row + 1) - 10
    for index in range(count):
        x0, y0 = (index % per_row) * (width + 20) + 5, (index // per_row) * (height + 10) + 5
        points = [(x0 + k * width / 8, y0 + (height if k % 2 else 0)) for k in range(9)]
        draw.line(points, fill=0, width=4)
    return encoded(canvas, "PNG")


def touching_loops_png(side: int = 1024, marks: int = 3, loops: int = 5) -> bytes:
    """One line of marks, each loops running into one another: the reader cuts every mark into
    slices, and runs of them fill the pair reader's inputs (`numbers.MAX_PAIRS`)."""
    canvas = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(canvas)
    size = side // (marks * loops + marks)
    for mark in range(marks):
        left = 10 + mark * (loops * size + size)
        for k in range(loops):
            x = left + k * (size - 8)
            draw.ellipse((x, 300, x + size, 300 + size * 1.4), outline=0, width=3)
    return encoded(canvas, "PNG")


def webp_dots(side: int, dots: int) -> bytes:
    return encoded(Image.open(io.BytesIO(dotted_png(side, dots))), "WEBP", lossless=True)


def many_frames_gif(frames: int = 300, side: int = 256) -> bytes:
    first = Image.fromarray(255 - np.asarray(Image.open(io.BytesIO(drawn_digit_png(7, side))).convert("L")))
    rest = [noise(side, 1, seed) for seed in range(8)]
    return encoded(first, "GIF", save_all=True, append_images=[rest[i % 8] for i in range(frames - 1)])


def cases() -> list[Case]:
    """The hostile families of the issue, and a normal request for scale."""
    flat = many_scan_jpeg(1024, 1)
    scan_bytes = len(flat) - 2 - flat.rindex(b"\xff\xda")
    repeats = (1_000_000 - len(flat)) // scan_bytes  # a 1 MB JPEG, as in the issue
    dot = {"strokes": [[[2048, 2048]]], "width": 4096, "height": 4096, "line_width": 4096}
    return [
        image_case("canvas PNG 280x280 (normal)", "/api/predict", drawn_digit_png()),
        Case("strokes 25k points, 4096 canvas, pen 4096", "/api/predict", as_json(strokes_body(25_000))),
        Case("strokes 100k points, 4096 canvas, pen 4096", "/api/predict", as_json(strokes_body(100_000))),
        Case("strokes 100k points, 4096 canvas, pen 4", "/api/predict", as_json(strokes_body(100_000, line=4))),
        Case("strokes 5k points, 4096, pen 1024 (budget max)", "/api/predict", as_json(strokes_body(5_000, line=1024))),
        Case(
            "strokes 5k one-point strokes, 4096, pen 4",
            "/api/predict",
            as_json(strokes_body(5_000, line=4, strokes=5_000)),
        ),
        Case(
            "batch: 4 x 25k points, pen 4096",
            "/api/predict/batch",
            as_json({"items": [strokes_body(25_000, seed=s) for s in range(4)]}),
        ),
        Case(
            "batch: 32 page drawings (strokes JSON)",
            "/api/predict/batch",
            as_json({"items": [orjson.loads(drawn_digit_strokes(seed=s % 8)) for s in range(32)]}),
        ),
        Case(
            "batch: 32 drawings, 10k points, 4096 canvases",
            "/api/predict/batch",
            as_json({"items": [strokes_body(312, side=4096, line=64, seed=s) for s in range(32)]}),
        ),
        Case(
            "batch: 256 page drawings (over the batch limit)",
            "/api/predict/batch",
            as_json({"items": [orjson.loads(drawn_digit_strokes(seed=s % 8)) for s in range(256)]}),
        ),
        Case("batch: 256 one-point 4096 canvases, pen 4096", "/api/predict/batch", as_json({"items": [dot] * 256})),
        Case(
            "batch: 256 one-point 4096 canvases, pen 1024",
            "/api/predict/batch",
            as_json({"items": [{**dot, "line_width": 1024}] * 256}),
        ),
        image_case(f"progressive JPEG 1024x1024, {repeats:,} scans", "/api/predict", many_scan_jpeg(1024, repeats)),
        image_case("PNG 4096x4096, 100 dots -> /api/read", "/api/read", dotted_png(4096, 100)),
        image_case("PNG 4096x4096, 300 dots -> /api/read", "/api/read", dotted_png(4096, 300)),
        image_case("PNG 1414x1414, 300 dots -> /api/read", "/api/read", dotted_png(1414, 300)),
        image_case("PNG 1024x1024, 300 dots -> /api/read", "/api/read", dotted_png(1024, 300)),
        image_case("PNG 1024x1024, 38 dots -> /api/read", "/api/read", dotted_png(1024, MAX_MARKS - 2)),
        image_case("PNG 1024x1024, 38 zigzags -> /api/read", "/api/read", zigzags_png(1024, MAX_MARKS - 2)),
        image_case("PNG 1024x1024, 3 marks of 5 touching loops -> /api/read", "/api/read", touching_loops_png()),
        Case("strokes: 40 bars close in a row -> /api/read", "/api/read", as_json(bars_in_a_row(MAX_MARKS))),
        Case("strokes: 40 zigzags across 1024, pen 1 -> /api/read", "/api/read", as_json(zigzags_across(MAX_MARKS))),
        Case(
            "strokes: 5k points in 40 strokes, 4096, pen 1024 -> /api/read",
            "/api/read",
            as_json(strokes_body(5_000, line=1024, strokes=MAX_MARKS)),
        ),
        image_case("PNG 1414x1414, 300 dots -> /api/predict", "/api/predict", dotted_png(1414, 300)),
        image_case("WebP lossless 1414x1414, 300 dots", "/api/predict", webp_dots(1414, 300)),
        image_case("WebP lossless 1024x1024, 300 dots", "/api/predict", webp_dots(1024, 300)),
        image_case("bomb: BMP header 30000x30000", "/api/predict", bmp_header(30_000, 30_000)),
        image_case("bomb: PNG 12000x12000 1-bit", "/api/predict", encoded(Image.new("1", (12_000, 12_000)), "PNG")),
        image_case("noisy JPEG under 2 MB", "/api/predict", largest_noisy_jpeg()),
        image_case("GIF with 300 frames", "/api/predict", many_frames_gif()),
        Case("inline: 8 KiB of points, 640 canvas, pen 160 (on the loop)", "/api/predict", inline_worst(160)),
        Case("inline: 8 KiB of points, 640 canvas, pen 40 (on the loop)", "/api/predict", inline_worst(40)),
        image_case("inline: PNG 640x640, 300 dots (on the loop)", "/api/predict", inline_png_worst(False)),
        image_case("inline: PNG 640x640, ruled paper (on the loop)", "/api/predict", inline_png_worst(True)),
        Case("explain: true, canvas strokes", "/api/predict", as_json({**strokes_body(200, 280, 22), "explain": True})),
        # The second audit's (issue 24): each answered within the box's limits, or refused first.
        image_case("JPEG: 3,000 scans behind one junk byte", "/api/predict", junk_hidden_scans(1024, 3_000)),
        image_case("JPEG: 2 MB of scans behind one junk byte", "/api/predict", two_mb_of_hidden_scans()),
        image_case("palette PNG, 1,900 iCCP chunks", "/api/predict", iccp_png(1_900)),
        image_case("palette PNG, 1,900 iCCP chunks -> /api/read", "/api/read", iccp_png(1_900)),
        image_case("BMP RLE8, 1-pixel runs", "/api/predict", rle8_bmp(1000)),
        image_case("GIF with 2 MB of comments", "/api/predict", commented_gif()),
        image_case("progressive CMYK JPEG 4096x4096", "/api/predict", cmyk_photo()),
        correction_case("progressive CMYK JPEG 4096x4096 -> /api/feedback", cmyk_photo()),
        image_case("progressive CMYK JPEG 2896x2896 (the costliest admitted)", "/api/predict", cmyk_photo(2896)),
        correction_case("progressive CMYK JPEG 2896x2896 -> /api/feedback", cmyk_photo(2896)),
        Case("pixels: 1,000,000 values", "/api/predict", as_json({"pixels": [[0] * 1000] * 1000})),
        Case(
            "pixels: batch of two 500x1018",
            "/api/predict/batch",
            as_json({"items": [{"pixels": [[0] * 1018] * 500}] * 2}),
        ),
        Case(
            "data URL: WebP 1024x1024 noise",
            "/api/predict",
            as_json(
                {
                    "image": "data:image/webp;base64,"
                    + base64.b64encode(encoded(noise(1024), "WEBP", quality=5)).decode()
                }
            ),
        ),
    ]


def correction_case(name: str, data: bytes) -> Case:
    """A correction (label 1) of the picture in `data`, as a form."""
    body, content_type = multipart(name, data)
    boundary = content_type.split("boundary=")[1]
    label = f'--{boundary}\r\nContent-Disposition: form-data; name="label"\r\n\r\n1\r\n'.encode()
    return Case(name, "/api/feedback", label + body, content_type)


def two_mb_of_hidden_scans() -> bytes:
    data = junk_hidden_scans(1024, 1)
    scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + scan * ((MAX_BODY - 4096 - len(data)) // len(scan)) + b"\xff\xd9"


def commented_gif() -> bytes:
    """A small GIF whose comment extensions add up to ~2 MB (Pillow reads every one)."""
    data = encoded(Image.new("P", (64, 64)), "GIF")
    block = b"\x21\xfe" + (b"\xff" + b"c" * 255) * 64 + b"\x00"
    return data[:-1] + block * ((MAX_BODY - 8192) // len(block)) + data[-1:]


@contextmanager
def one_worker() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`digitrec serve --workers 1`, given 3 minutes to start: this benchmark is meant to be run
    on a busy machine too (CPU time is what it reports, not wall time)."""
    port = free_port()
    command = serve_command(port, "--workers", "1", "--log-level", "warning")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_answering(url, process, seconds=180):
            raise RuntimeError(f"the server did not answer within 3 minutes (exit status {process.poll()})")
        yield url, process
    finally:
        process.kill()  # it may be stuck in a request that never ends
        process.wait(timeout=30)


def _fresh_server(previous: ExitStack | None) -> tuple[str, subprocess.Popen[bytes], ExitStack]:
    if previous is not None:
        previous.close()
    stack = ExitStack()
    url, process = stack.enter_context(one_worker())
    return url, process, stack


def server_processes(pid: int) -> list[int]:
    """The server process and all its descendants (uvicorn's supervisor and its workers)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            queue += [int(child) for child in children]
    return found


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of a process, in ns (schedstat: finer than stat's 10-ms ticks),
    plus that of its children reaped so far (a box worker killed past its limit); 0 once gone."""
    try:
        threads = sum(int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").glob("*"))
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    reaped_ticks = int(fields[13]) + int(fields[14])  # cutime + cstime
    return threads + reaped_ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, field: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in lines:
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def measure(client: httpx.Client, pids: list[int], case: Case) -> dict[str, Any]:
    before = {}
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM restarts from the current RSS
        before[pid] = (cpu_ns(pid), memory_kib(pid, "VmRSS:"))
    started = time.perf_counter()
    try:
        status = client.post(case.path, content=case.body, headers={"content-type": case.content_type}).status_code
    except httpx.TimeoutException:
        status = 0  # no answer within the client's timeout
    wall = time.perf_counter() - started
    cpu = sum(max(0, cpu_ns(pid) - before[pid][0]) for pid in pids) / 1e6
    extra = max(memory_kib(pid, "VmHWM:") - before[pid][1] for pid in pids) / 1024
    return {"status": status, "cpu_ms": cpu, "extra_mib": extra, "wall_ms": wall * 1000}


def settle(pid: int, seconds: float = 60) -> None:
    """Wait until the server and its box workers are idle (the workers load their libraries at
    start, which is no request's cost)."""
    deadline = time.monotonic() + seconds
    last = sum(cpu_ns(p) for p in server_processes(pid))
    while time.monotonic() < deadline:
        time.sleep(1)
        now = sum(cpu_ns(p) for p in server_processes(pid))
        if now - last < 20_000_000:  # under 2% of a core
            return
        last = now


def healthz_while(url: str, load: Callable[[], None], seconds: float = 5) -> list[float]:
    """Latencies of GET /healthz, one every 20 ms, while `load` runs in a loop."""
    stop, latencies = threading.Event(), []

    def loop() -> None:
        while not stop.is_set():
            load()

    worker = threading.Thread(target=loop)
    worker.start()
    with httpx.Client(base_url=url, timeout=30) as probe:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            probe.get("/healthz")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    stop.set()
    worker.join()
    return latencies


def run() -> list[str]:
    built = cases()
    print(f"{len(built)} requests built", flush=True)
    lines = [
        "| request | endpoint | body kB | status | server CPU ms | peak extra RSS MiB | wall ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    results = []
    url, process, stack = _fresh_server(None)
    try:
        with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            measure(client, server_processes(process.pid), built[0])  # warm: first-use allocations
        settle(process.pid)
        for case in built:
            with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
                result = measure(client, server_processes(process.pid), case)
            results.append((case, result))
            lines.append(
                f"| {case.name} | {case.path} | {len(case.body) / 1000:,.0f} | {result['status'] or 'timeout'} | "
                f"{result['cpu_ms']:,.1f} | {result['extra_mib']:,.1f} | {result['wall_ms']:,.1f} |"
            )
            print(lines[-1], flush=True)  # a long run shows its progress
            if not result["status"]:  # the worker is still busy with it: the next case gets a new one
                url, process, stack = _fresh_server(stack)
        accepted = [(c, r) for c, r in results if 200 <= r["status"] < 300]
        costliest, worst = max(accepted, key=lambda item: item[1]["cpu_ms"])
        hungriest, most = max(accepted, key=lambda item: item[1]["extra_mib"])
        looped = [costliest, *(case for case in built if case.name in LOOPED and case is not costliest)]
        probes = [(case, healthz_under(url, case)) for case in looped]
    finally:
        stack.close()
    lines += [
        "",
        f"Costliest accepted in CPU: {costliest.name} ({worst['cpu_ms']:.1f} ms). "
        f"In memory: {hungriest.name} ({most['extra_mib']:.1f} MiB).",
        "",
        "GET /healthz (one probe every 20 ms, 5 s) while a request runs again and again (target p99 <= 50 ms):",
        "",
        "| request in a loop | p50 ms | p99 ms | max ms | probes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case, latencies in probes:
        quantiles = statistics.quantiles(latencies, n=100)
        lines.append(
            f"| {case.name} | {quantiles[49]:.1f} | {quantiles[98]:.1f} | {max(latencies):.1f} | {len(latencies)} |"
        )
    return lines


# Besides the costliest accepted request, /healthz is probed while each of these runs in a loop.
LOOPED = (
    "JPEG: 2 MB of scans behind one junk byte",
    "palette PNG, 1,900 iCCP chunks",
    "pixels: 1,000,000 values",
    "progressive CMYK JPEG 2896x2896 -> /api/feedback",
    "noisy JPEG under 2 MB",
)


def healthz_under(url: str, case: Case) -> list[float]:
    with httpx.Client(base_url=url, timeout=TIMEOUT) as loader:
        headers = {"content-type": case.content_type}
        return healthz_while(url, lambda: loader.post(case.path, content=case.body, headers=headers))


def main() -> None:
    record("Worst case: the costliest requests, one worker", run())


if __name__ == "__main__":
    main()
