"""The page in real Chromium reading on the server (`?reading=server`): time from the end of a
stroke to the updated prediction on screen, and the bytes the page itself transferred to load
(the service worker's precache is not counted; `page-device` measures the device mode)."""

from __future__ import annotations

import os
import statistics

from benchmarks.common import record, running_server

OBSERVER = """
() => {
  window.__marks = [];
  const canvas = document.querySelector('[data-testid=canvas]');
  canvas.addEventListener('pointerup', () => { window.__up = performance.now(); }, true);
  new MutationObserver(() => {
    // Painted: the frame after the DOM change.
    requestAnimationFrame(() => window.__marks.push(performance.now() - window.__up));
  }).observe(document.querySelector('[data-testid=status]'), {childList: true, characterData: true, subtree: true});
}
"""


def main(strokes: int = 40) -> None:
    from playwright.sync_api import sync_playwright

    from strokes import digit_strokes

    executable = os.environ.get("DIGITREC_CHROMIUM", "/usr/bin/chromium")
    with running_server(1) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1000, "height": 760})
        transferred: list[int] = []
        page.on(
            "requestfinished",
            lambda request: transferred.append(
                request.sizes()["responseBodySize"] + request.sizes()["responseHeadersSize"]
            ),
        )
        page.goto(f"{url}/?reading=server", wait_until="networkidle")
        weight = sum(transferred)
        page.evaluate(OBSERVER)
        box = page.get_by_test_id("canvas").bounding_box()
        latencies = []
        for index in range(strokes):
            digit = index % 10
            path = digit_strokes(digit, box["width"], seed=index, margin=0.06)[0]
            page.evaluate("window.__marks = []")
            page.mouse.move(box["x"] + path[0][0], box["y"] + path[0][1])
            page.mouse.down()
            for x, y in path[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y)
            page.mouse.up()
            page.wait_for_function(
                "() => window.__marks.length > 0 && "
                "performance.now() - window.__up > window.__marks[window.__marks.length - 1] + 50"
            )
            latencies.append(page.evaluate("window.__marks[window.__marks.length - 1]"))
            page.keyboard.press("Escape")
        browser.close()
    latencies.sort()
    lines = [
        "| figure | value |",
        "| --- | --- |",
        f"| end of stroke to prediction on screen, median of {strokes} strokes | "
        f"{statistics.median(latencies):.1f} ms |",
        f"| same, 90th percentile | {latencies[int(0.9 * len(latencies))]:.1f} ms |",
        f"| page weight (HTML, CSS, JS, model list), transferred | {weight / 1024:.1f} kB |",
    ]
    record("Page (headless Chromium, 1 server worker)", lines)


if __name__ == "__main__":
    main()
