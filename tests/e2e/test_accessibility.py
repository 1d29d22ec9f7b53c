"""axe-core finds no violations on the page, at desktop and phone size, reading on the device
and on the server, with an answer and the feedback choices on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import close_page, draw, open_page, reading

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("where", ["device", "server"])
def test_no_axe_violations(browser: Any, server: str, size: str, where: str) -> None:
    if not AXE.is_file():
        pytest.fail("axe-core is not installed: run scripts/setup.sh (npm ci in frontend/)")
    context, page = open_page(browser, server, size, reading=where)
    try:
        page.wait_for_selector(f"[data-testid=reading-mode][data-mode={where}]", timeout=30_000)
        draw(page, 2)
        reading(page, "2")
        page.get_by_test_id("wrong").click()
        # Evaluated through the DevTools protocol, which the page's CSP does not govern.
        page.evaluate(AXE.read_text())
        violations = page.evaluate("async () => (await axe.run()).violations.map((v) => [v.id, v.nodes.length])")
        assert violations == []
    finally:
        close_page(context, page)
