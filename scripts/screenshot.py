"""The README's screenshot: the page, served by `digitrec serve`, reading a 7 drawn with the mouse
in Debian's Chromium. Run from the checkout: `.venv/bin/python scripts/screenshot.py`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

import server_process  # noqa: E402
from e2e.helpers import close_page, draw, open_page  # noqa: E402

OUT = ROOT / "docs" / "screenshot.png"


def main() -> None:
    port = server_process.free_port()
    process = server_process.start(port, "--workers", "1")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            context, tab = open_page(browser, f"http://127.0.0.1:{port}/", "desktop")
            draw(tab, 7, seed=3)
            tab.wait_for_function("document.querySelector('[data-testid=prediction]').textContent === '7'")
            tab.wait_for_timeout(300)
            tab.screenshot(path=str(OUT))
            close_page(context, tab)
            browser.close()
    finally:
        server_process.stop(process)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
