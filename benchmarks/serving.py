"""Requests/s and latency percentiles of the HTTP service under load from wrk (Debian's), on loopback.

Each run is bounded in time (wrk -d) and stops by itself. Two bodies for `/api/predict`: what the
page posts for a drawing (its strokes as JSON, points as pointer events report them), and a
canvas PNG (a digit drawn with a 22-px pen on a 280x280 white canvas, as an upload or another
client sends it) as multipart `image`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import drawn_digit_png, drawn_digit_strokes, record, running_server

LUA = """
local f = io.open("%(body)s", "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "%(content_type)s"
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
                 + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "errors": %%d, '
    .. '"p50": %%f, "p95": %%f, "p99": %%f, "max": %%f}\\n',
    summary.requests, summary.duration / 1e6, errors, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def multipart(files: list[bytes], boundary: str = "digitrecbenchmarkboundary") -> tuple[bytes, str]:
    parts = []
    for index, data in enumerate(files):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{index}.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def wrk(url: str, body: bytes, content_type: str, connections: int, seconds: int) -> dict[str, float]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder:
        body_path = Path(folder) / "body"
        body_path.write_bytes(body)
        script = Path(folder) / "post.lua"
        script.write_text(LUA % {"body": body_path, "content_type": content_type})
        threads = 1 if connections < 4 else 2
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result: dict[str, float] = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def row(label: str, workers: int, connections: int, result: dict[str, float], unit: float = 1) -> str:
    return (
        f"| {label} | {workers} | {connections} | {result['rps'] * unit:,.0f} | {result['p50']:.1f} | "
        f"{result['p95']:.1f} | {result['p99']:.1f} | {int(result['errors'])} |"
    )


def main(seconds: int = 10, warmup: int = 3) -> None:
    png = drawn_digit_png()
    single, single_type = multipart([png])
    batch, batch_type = multipart([png] * 32)
    rgba = np.zeros((140, 140, 4), dtype=np.uint8)
    rgba[30:110, 62:78] = 255  # the seed's white pen on its transparent canvas: a "1"
    # What the seed's page sends: JSON.stringify(imageData.data), an object keyed "0", "1", ...
    keyed = {str(i): v for i, v in enumerate(rgba.ravel().tolist())}
    seed_body = json.dumps(keyed, separators=(",", ":")).encode()
    seed_spaced = json.dumps(keyed).encode()  # Python's spelling: ", " and ": "
    strokes = drawn_digit_strokes()
    lines = [
        f"Bodies: the page's strokes JSON ({len(strokes):,} bytes, {strokes.count(b'],[') + 1} points) and a "
        f"{len(png):,}-byte 280x280 canvas PNG as multipart `image`; {seconds} s per row, each "
        f"after a {warmup} s warm-up at its concurrency; load from wrk on the same machine (it shares "
        "the 2 cores).",
        "",
        "| endpoint | workers | concurrency | requests/s (images/s for batch) | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def measure(url: str, body: bytes, content_type: str, connections: int) -> dict[str, float]:
        # Each row after a warm-up at its own concurrency, on connections wrk opens afresh.
        wrk(url, body, content_type, connections, warmup)
        return wrk(url, body, content_type, connections, seconds)

    for workers in (1, 2):
        with running_server(workers) as (url, _):
            for connections in (1, 16, 64):
                result = measure(f"{url}/api/predict", strokes, "application/json", connections)
                lines.append(row("POST /api/predict (strokes JSON, as the page)", workers, connections, result))
            for connections in (1, 16, 64):
                result = measure(f"{url}/api/predict", single, single_type, connections)
                lines.append(row("POST /api/predict (canvas PNG)", workers, connections, result))
            result = measure(f"{url}/api/predict/batch", batch, batch_type, 4)
            lines.append(row("POST /api/predict/batch (32 PNGs)", workers, 4, result, unit=32))
            result = measure(f"{url}/predict", seed_body, "application/json", 16)
            seed_label = f"POST /predict (the seed's request: {len(seed_body) // 1024} KB JSON)"
            lines.append(row(seed_label, workers, 16, result))
            result = measure(f"{url}/predict", seed_spaced, "application/json", 16)
            lines.append(row(f"POST /predict (the same, spaced: {len(seed_spaced) // 1024} KB)", workers, 16, result))
    record("Serving", lines)
    request_log_cost(seconds, warmup)


def request_log_cost(seconds: int = 10, warmup: int = 3, rounds: int = 2) -> None:
    """The page's strokes at c=16 on 2 workers with the request log off, as text and as JSON,
    in turns (off, text, json, off, ...), so that the machine's other load falls on all three."""
    import os

    strokes = drawn_digit_strokes()
    results: dict[str, list[dict[str, float]]] = {"off": [], "text": [], "json": []}
    for _ in range(rounds):
        for style in results:
            os.environ["DIGITREC_REQUEST_LOG"] = style  # the server's workers read it
            try:
                with running_server(2) as (url, _):  # its output (and so the log) goes to /dev/null
                    wrk(f"{url}/api/predict", strokes, "application/json", 16, warmup)
                    results[style].append(wrk(f"{url}/api/predict", strokes, "application/json", 16, seconds))
            finally:
                os.environ.pop("DIGITREC_REQUEST_LOG", None)
    lines = [
        f"The page's strokes JSON at c=16 on 2 workers, {seconds} s per run after {warmup} s of warm-up, "
        f"{rounds} runs of each in turns; the log written to /dev/null.",
        "",
        "| DIGITREC_REQUEST_LOG | requests/s per run | p50 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- |",
    ]
    for style, runs in results.items():
        rates = ", ".join(f"{r['rps']:,.0f}" for r in runs)
        p50 = max(r["p50"] for r in runs)
        p99 = max(r["p99"] for r in runs)
        lines.append(f"| {style} | {rates} | {p50:.1f} | {p99:.1f} | {sum(int(r['errors']) for r in runs)} |")
    record("Serving: the request log's cost", lines)


def against_revision(seconds: int = 10, warmup: int = 3, rounds: int = 6) -> None:
    """The canvas PNG and the page's strokes at c=16 on 2 workers, this tree against a git
    revision ($DIGITREC_AB_BASE, default HEAD: the working tree's change against its last
    commit), `rounds` runs of each in turns (ABBA...), so that the machine's drift falls on both:
    here one run moves by 5% from the next, more than most changes to the serving road."""
    import os
    import statistics

    here = Path(__file__).resolve().parent.parent
    wanted = os.environ.get("DIGITREC_AB_BASE", "HEAD")
    commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", wanted], capture_output=True, text=True)
    if commit.returncode:
        raise SystemExit(f"DIGITREC_AB_BASE={wanted!r} is no git revision here: {commit.stderr.strip()}")
    base = f"{wanted} ({commit.stdout.strip()})"
    png, png_type = multipart([drawn_digit_png()])
    strokes = drawn_digit_strokes()
    results: dict[str, list[tuple[float, float]]] = {base: [], "this tree": []}
    inherited = os.environ.get("PYTHONPATH")
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "base"
        subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", "-q", str(tree), wanted], check=True)
        sources = {base: str(tree / "src"), "this tree": str(here / "src")}
        try:
            for round_ in range(rounds):
                for name in list(sources) if round_ % 2 == 0 else list(sources)[::-1]:
                    os.environ["PYTHONPATH"] = sources[name]  # the server's process imports digitrec from there
                    with running_server(2) as (url, _):
                        wrk(f"{url}/api/predict", png, png_type, 16, warmup)
                        read_png = wrk(f"{url}/api/predict", png, png_type, 16, seconds)
                        wrk(f"{url}/api/predict", strokes, "application/json", 16, warmup)
                        read_strokes = wrk(f"{url}/api/predict", strokes, "application/json", 16, seconds)
                    results[name].append((read_png["rps"], read_strokes["rps"]))
        finally:
            if inherited is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = inherited
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(tree)], check=False)
    subprocess.run(["git", "-C", str(here), "worktree", "prune"], check=False)  # if the removal failed
    lines = [
        f"`/api/predict` at c=16 on 2 workers, {seconds} s per run after {warmup} s of warm-up, {rounds} runs "
        f"of each tree in turns; the base is `{base}`.",
        "",
        "| tree | canvas PNG: median (runs) | the page's strokes: median (runs) |",
        "| --- | --- | --- |",
    ]
    for name, runs in results.items():
        cells = []
        for column in (0, 1):
            rates = [run[column] for run in runs]
            cells.append(f"{statistics.median(rates):,.0f} ({', '.join(f'{r:,.0f}' for r in rates)})")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    record("Serving: a change against its base", lines)


if __name__ == "__main__":
    main()
