"""The page reading on the device (onnxruntime-web in Chromium): without a server round trip,
offline through the service worker, and corrections kept on the device until the server answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.helpers import close_page, draw, draw_strokes, number_strokes, open_page, reading, text_of

pytestmark = pytest.mark.slow


@pytest.fixture()
def device_page(browser: Any, server: str) -> Iterator[Any]:
    context, tab = open_page(browser, server, "desktop", reading="device")
    tab.wait_for_selector("[data-testid=reading-mode][data-mode=device]", timeout=30_000)
    yield tab
    close_page(context, tab)


def wait_for_service_worker(page: Any) -> None:
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)


def test_digit_mode_reads_on_the_device(device_page: Any) -> None:
    asked: list[str] = []
    device_page.on("request", lambda r: asked.append(r.url) if "/api/predict" in r.url else None)
    assert "on this device" in text_of(device_page, "reading-mode")
    draw(device_page, 7)
    reading(device_page, "7")
    assert "on this device" in text_of(device_page, "status")
    assert asked == []  # no server round trip


def test_a_drawing_read_live_is_not_read_again_at_pen_up(device_page: Any) -> None:
    """At a person's pace the live reading has read the last point before the pen lifts: the
    answer on screen is the final one, and pen-up only says so. Drawing on after that reads again."""
    box = device_page.get_by_test_id("canvas").bounding_box()
    stroke = [(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.1 + 0.08 * i)) for i in range(11)]
    device_page.mouse.move(*stroke[0])
    device_page.mouse.down()
    for point in stroke[1:]:
        device_page.wait_for_timeout(16)
        device_page.mouse.move(*point)
    # Read live, the pen still down (not "done" until it lifts).
    device_page.wait_for_function("() => document.querySelector('[data-testid=prediction]').textContent === '1'")
    device_page.wait_for_timeout(100)  # a live reading of the last point, if one was still to come
    assert device_page.evaluate("() => document.body.dataset.reading") == "waiting"
    device_page.evaluate(
        """() => { window.__changes = 0; window.__spoken = 0;
        const watch = {childList: true, characterData: true, subtree: true};
        new MutationObserver(() => window.__changes++).observe(document.querySelector('[data-testid=status]'), watch);
        new MutationObserver(() => window.__spoken++).observe(document.querySelector('[data-testid=verdict]'), watch);
        }"""
    )
    device_page.mouse.up()
    device_page.wait_for_function("() => document.body.dataset.reading === 'done'", timeout=5000)
    device_page.wait_for_timeout(100)
    assert device_page.evaluate("() => window.__changes") == 0  # no second reading of the same strokes
    # The verdict's live region, busy while the pen moved, is written again: a screen reader says it.
    assert device_page.evaluate("() => window.__spoken") >= 1
    assert device_page.get_by_test_id("verdict").get_attribute("aria-busy") == "false"
    # A new stroke is a new drawing: read, and shown.
    draw_strokes(device_page, [[(box["width"] * 0.2, box["height"] * 0.3), (box["width"] * 0.8, box["height"] * 0.3)]])
    device_page.wait_for_function("() => document.body.dataset.reading === 'done' && window.__changes > 0")


def test_why_and_pictures_still_ask_the_server(device_page: Any) -> None:
    device_page.get_by_test_id("explain").click()
    draw(device_page, 3)
    reading(device_page, "3")
    assert "on the server" in text_of(device_page, "status")


def test_reads_offline_and_sends_corrections_once_back(device_page: Any) -> None:
    context = device_page.context
    wait_for_service_worker(device_page)
    stored: list[int] = []
    device_page.on("response", lambda r: stored.append(r.status) if r.url.endswith("/api/feedback") else None)

    context.set_offline(True)
    device_page.reload()
    device_page.wait_for_selector("[data-testid=reading-mode][data-mode=device]", timeout=30_000)
    draw(device_page, 4)
    reading(device_page, "4")
    device_page.get_by_test_id("wrong").click()
    device_page.get_by_test_id("correct-9").click()
    device_page.wait_for_function("() => document.body.dataset.outbox === '1'")
    assert "Kept on this device" in text_of(device_page, "feedback-status")
    # A second choice for the same drawing replaces the first: still one waits.
    device_page.get_by_test_id("correct-8").click()
    device_page.wait_for_function("() => document.body.dataset.outbox === '1'")

    context.set_offline(False)
    device_page.evaluate("() => window.dispatchEvent(new Event('online'))")
    device_page.wait_for_function("() => document.body.dataset.outbox === '0'", timeout=15_000)
    assert stored.count(201) == 1
    # Nothing is left to send again: a reload sends nothing.
    device_page.reload()
    device_page.wait_for_function("() => document.body.dataset.outbox === '0'", timeout=15_000)
    device_page.wait_for_timeout(1500)
    assert stored.count(201) == 1


def test_number_mode_says_plainly_when_offline(device_page: Any) -> None:
    wait_for_service_worker(device_page)
    device_page.context.set_offline(True)
    device_page.get_by_test_id("mode-number").click()
    height = device_page.get_by_test_id("canvas").bounding_box()["height"] * 0.4
    draw_strokes(device_page, number_strokes("42", height))
    device_page.wait_for_function("() => document.body.dataset.reading === 'retrying'")
    assert "You are offline" in text_of(device_page, "error")
    device_page.context.set_offline(False)
