"""The page reading on the device, in headless Chromium: each reading from pen-up to the answer
painted, the first reading on a cold cache after the page starts loading, the bytes the first and
a later visit transfer, what the runtime and the model weigh, and the requests a person drawing
causes in each mode."""

from __future__ import annotations

import gzip
import os
import re
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, record, running_server

OBSERVER = """
() => {
  window.__marks = [];
  if (window.__observing) return;  // once per page: a second observer would mark every change twice
  window.__observing = true;
  const canvas = document.querySelector('[data-testid=canvas]');
  canvas.addEventListener('pointerup', () => { window.__up = performance.now(); }, true);
  window.__dom = [];
  new MutationObserver(() => {
    window.__dom.push(performance.now());
    // Painted: the frame after the DOM change.
    requestAnimationFrame(() => window.__marks.push(performance.now()));
  }).observe(document.querySelector('[data-testid=status]'), {childList: true, characterData: true, subtree: true});
}
"""
DIST = ROOT / "src" / "digitrec" / "web" / "static" / "dist"
READS = re.compile(r"/api/(predict|read)\b")
DIGITS_PER_MINUTE = 20  # a person drawing, checking the answer, clearing: one digit every 3 s


PERSON_PACE_MS = 16  # a pointer event per 60 Hz frame, as a pen or a finger sends them


def draw_digit(page: Any, box: dict[str, float], digit: int, seed: int, pace_ms: int = 0) -> None:
    """With `pace_ms`, that long between pointer events, and between the last one and the pen
    lifting (a pen sends events at its rate until it leaves the glass); without, as fast as the
    browser takes them, the pen lifting at once."""
    from strokes import digit_strokes

    for path in digit_strokes(digit, box["width"], seed=seed, margin=0.06):
        page.mouse.move(box["x"] + path[0][0], box["y"] + path[0][1])
        page.mouse.down()
        for x, y in path[1:]:
            if pace_ms:
                page.wait_for_timeout(pace_ms)
            page.mouse.move(box["x"] + x, box["y"] + y)
        if pace_ms:
            page.wait_for_timeout(pace_ms)
        page.mouse.up()


def last_latency(page: Any) -> float:
    """Pen-up to the frame that paints the final answer; 0 when it was painted before the pen
    lifted (the page read the last point live)."""
    page.wait_for_function("() => window.__marks.length > 0 && document.body.dataset.reading === 'done'")
    # The frame after "done" has run the paint marks of whatever changed by then; a late answer
    # would add one more.
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => resolve(null)))")
    page.wait_for_timeout(30)
    return float(page.evaluate("() => Math.max(0, window.__marks[window.__marks.length - 1] - window.__up)"))


def readings(
    page: Any,
    count: int,
    requests: list[str],
    work: list[float] | None = None,
    dom: list[float] | None = None,
    pace_ms: int = 0,
) -> tuple[list[float], int]:
    """`count` digits drawn one after another: pen-up to painted of each, requests to read them;
    `work` gets the reading's own time as the page reports it ("... 3.1 ms on this device")."""
    page.evaluate(OBSERVER)
    box = page.get_by_test_id("canvas").bounding_box()
    asked = len(requests)
    latencies = []
    for index in range(count):
        page.evaluate("() => { window.__marks = []; }")
        draw_digit(page, box, index % 10, seed=index, pace_ms=pace_ms)
        latencies.append(last_latency(page))
        if dom is not None:
            dom.append(page.evaluate("() => Math.max(0, window.__dom[window.__dom.length - 1] - window.__up)"))
        if work is not None:
            found = re.search(r"([0-9.]+) ms on", page.get_by_test_id("status").inner_text())
            if found:
                work.append(float(found.group(1)))
        page.keyboard.press("Escape")
    return latencies, len(requests) - asked


def weight(path: Path) -> str:
    data = path.read_bytes()
    brotli = path.with_name(path.name + ".br")
    packed = f", {brotli.stat().st_size / 2**20:.2f} MiB brotli" if brotli.exists() else ""
    return f"{len(data) / 2**20:.2f} MiB, {len(gzip.compress(data, 9)) / 2**20:.2f} MiB gzip{packed}"


def main(count: int = 100) -> None:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("DIGITREC_CHROMIUM", "/usr/bin/chromium")
    with running_server(1) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        transferred: list[int] = []
        reads: list[str] = []

        def finished(request: Any) -> None:
            response = request.response()
            if response is not None and response.from_service_worker:
                return  # answered from the device's cache: nothing crossed the network
            sizes = request.sizes()
            # Negative sizes: answered from the HTTP cache (the worker's precache after the page's own fetch).
            transferred.append(max(0, sizes["responseBodySize"]) + max(0, sizes["responseHeadersSize"]))

        # Context-wide: the service worker's own requests (its precache) count too.
        context.on("requestfinished", finished)
        context.on("request", lambda r: reads.append(r.url) if READS.search(r.url) else None)

        # First visit, cold cache: draw as soon as the canvas is there; the answer waits for the
        # runtime and the model if they are not loaded yet.
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        page.evaluate(OBSERVER)
        box = page.get_by_test_id("canvas").bounding_box()
        draw_digit(page, box, 7, seed=1)
        up_after_load = page.evaluate("() => window.__up")
        first_latency = last_latency(page)
        # When the runtime and the model were ready, from navigation start (performance's zero).
        page.wait_for_selector("[data-testid=reading-mode][data-mode=device]")
        ready = page.evaluate("() => performance.getEntriesByName('digitrec:device-ready')[0].startTime")
        dom_ready = page.evaluate("() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
        page.wait_for_load_state("networkidle")
        first_visit = sum(transferred)
        mode = page.get_by_test_id("reading-mode").inner_text()
        page.keyboard.press("Escape")

        work: list[float] = []
        in_dom: list[float] = []
        device, device_requests = readings(page, count, reads, work, in_dom)
        paced, _ = readings(page, count, reads, pace_ms=PERSON_PACE_MS)
        page.close()

        # A later visit: the service worker answers from its cache.
        transferred.clear()
        page = context.new_page()
        page.goto(url, wait_until="networkidle")
        page.wait_for_selector("[data-testid=reading-mode][data-mode=device]")
        later_visit = sum(transferred)
        page.close()

        # The same drawings read on the server, for the requests they cause.
        page = context.new_page()
        page.goto(f"{url}/?reading=server", wait_until="networkidle")
        server, server_requests = readings(page, count, reads)
        page.close()
        browser.close()

    device.sort()
    server.sort()
    paced.sort()
    p95 = device[int(0.95 * len(device)) - 1]
    load = os.getloadavg()[0]
    lines = [
        f"Load average while measured: {load:.1f} on {os.cpu_count()} cores (the machine is shared).",
        "",
        f'Reading mode shown: "{mode}". {count} digits drawn with the mouse, one after another, at each pace. '
        "An answer painted before the pen lifted (the last point read live) counts 0 ms.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| device, a person's pace (a pointer event every {PERSON_PACE_MS} ms): pen-up to answer painted, "
        f"median / p95 / max of {count} | {statistics.median(paced):.1f} / {paced[int(0.95 * len(paced)) - 1]:.1f} / "
        f"{paced[-1]:.1f} ms |",
        f"| device, pointer events as fast as the browser takes them: pen-up to answer painted, median / p95 of "
        f"{count} | {statistics.median(device):.1f} / {p95:.1f} ms |",
        f"| device: pen-up to answer in the page (DOM changed, before the frame), median / p95 | "
        f"{statistics.median(in_dom):.1f} / {sorted(in_dom)[int(0.95 * len(in_dom)) - 1]:.1f} ms |",
        f"| device: the reading itself (draw, preprocess, graph, verdict), median / p95 | "
        f"{statistics.median(work):.1f} / {sorted(work)[int(0.95 * len(work)) - 1]:.1f} ms |",
        f"| server (same page, ?reading=server), median / p95 | "
        f"{statistics.median(server):.1f} / {server[int(0.95 * len(server)) - 1]:.1f} ms |",
        f"| cold cache: navigation start to page ready (DOMContentLoaded) / to runtime and model ready | "
        f"{dom_ready:.0f} / {ready:.0f} ms |",
        f"| cold cache: first reading, pen-up to answer painted (pen-up {up_after_load:.0f} ms after navigation start) "
        f"| {first_latency:.1f} ms |",
        f"| cold cache: first reading within (model ready + first reading) | {ready + first_latency:.0f} ms |",
        f"| first visit, transferred (page, runtime, model, precache) | {first_visit / 2**20:.2f} MiB |",
        f"| later visit, transferred | {later_visit / 1024:.1f} kB |",
        f"| runtime: ort-wasm-simd-threaded.wasm | {weight(DIST / 'ort' / 'ort-wasm-simd-threaded.wasm')} |",
        f"| page bundle: app.js (onnxruntime-web's JS included) | {weight(DIST / 'app.js')} |",
        f"| model: cnn model.onnx | {weight(ROOT / 'src' / 'digitrec' / 'weights' / 'cnn' / 'model.onnx')} |",
        f"| reading requests per digit drawn: server mode / device mode | "
        f"{server_requests / count:.1f} / {device_requests / count:.1f} |",
        f"| requests per minute a person drawing causes ({DIGITS_PER_MINUTE} digits a minute): server / device | "
        f"{server_requests / count * DIGITS_PER_MINUTE:.0f} / {device_requests / count * DIGITS_PER_MINUTE:.0f} |",
    ]
    record("Page reading on the device (headless Chromium, onnxruntime-web WebAssembly, 1 thread)", lines)


if __name__ == "__main__":
    main()
