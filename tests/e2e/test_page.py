"""The page in real Chromium (Debian's), driven by Playwright: draw with the mouse, read the answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import ARTIFACTS
from strokes import digit_strokes

pytestmark = pytest.mark.slow


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 760}, device_scale_factor=2)
    tab = context.new_page()
    tab.goto(server)
    tab.wait_for_selector("[data-testid=model-select] option", state="attached")
    yield tab
    context.close()


def draw(page: Any, digit: int, seed: int | None = None) -> None:
    """Trace the digit's strokes with the mouse, pressing and releasing as a person would."""
    canvas = page.get_by_test_id("canvas")
    box = canvas.bounding_box()
    for stroke in digit_strokes(digit, box["width"], seed=seed, margin=0.06):
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        page.mouse.up()


def reading(page: Any, expected: str) -> None:
    page.wait_for_function(
        "d => document.querySelector('[data-testid=prediction]').textContent === d", arg=expected, timeout=5000
    )


def test_drawn_digits_are_read(page: Any) -> None:
    for digit in range(10):
        draw(page, digit)
        reading(page, str(digit))
        winner = page.locator("[data-testid=bars] li.winner")
        assert winner.get_attribute("data-testid") == f"bar-{digit}"
        width = page.get_by_test_id(f"bar-{digit}").locator(".fill").evaluate("e => parseFloat(e.style.width)")
        assert width > 50
        assert "% sure" in page.get_by_test_id("confidence").inner_text()
        if digit == 4:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "page.png"))
        page.get_by_test_id("clear").click()
        reading(page, "–")


def test_undo_and_clear(page: Any) -> None:
    draw(page, 1)
    reading(page, "1")
    draw(page, 7)  # a 7 over the 1
    page.keyboard.press("Control+z")
    reading(page, "1")
    page.get_by_test_id("undo").click()
    reading(page, "–")
    draw(page, 3)
    reading(page, "3")
    page.keyboard.press("Escape")
    reading(page, "–")
    assert page.get_by_test_id("confidence").inner_text() == "Draw a digit"
    blank = page.get_by_test_id("canvas").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.every(v => v === 0)"
    )
    assert blank


def test_model_selector_changes_the_answer_source(page: Any) -> None:
    options = page.get_by_test_id("model-select").locator("option").all_inner_texts()
    assert [o.split(" ")[0] for o in options] == ["cnn", "mlp", "seed-ann"]
    draw(page, 2)
    reading(page, "2")
    assert page.get_by_test_id("status").inner_text().startswith("cnn")

    def asks_seed_ann(response: Any) -> bool:
        return response.url.endswith("/api/predict") and response.request.post_data_json["model"] == "seed-ann"

    with page.expect_response(asks_seed_ann) as answer:
        page.get_by_test_id("model-select").select_option("seed-ann")
    assert answer.value.json()["model"] == "seed-ann"
    page.wait_for_function("() => document.querySelector('[data-testid=status]').textContent.startsWith('seed-ann')")


def test_model_input_preview_is_drawn(page: Any) -> None:
    draw(page, 0)
    reading(page, "0")
    lit = page.get_by_test_id("model-input").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data)"
        ".filter((v, i) => i % 4 == 0 && v > 128).length"
    )
    assert 40 < lit < 400


def test_unreachable_server_shows_an_error(page: Any) -> None:
    page.route("**/api/predict", lambda route: route.abort())
    draw(page, 5)
    error = page.get_by_test_id("error")
    error.wait_for(state="visible")
    assert "Cannot reach" in error.inner_text()


def test_phone_sized_screen(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=3, has_touch=True)
    phone = context.new_page()
    phone.goto(server)
    phone.wait_for_selector("[data-testid=model-select] option", state="attached")
    box = phone.get_by_test_id("canvas").bounding_box()
    assert box["width"] <= 375 and box["x"] >= 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    draw(phone, 7)
    reading(phone, "7")
    phone.screenshot(path=str(ARTIFACTS / "phone.png"))
    context.close()


def test_number_mode_reads_a_whole_number(page: Any) -> None:
    page.get_by_test_id("mode-number").click()
    box = page.get_by_test_id("canvas").bounding_box()
    assert box["width"] > 2.5 * box["height"]  # the wide canvas
    size = box["height"]
    for position, digit in enumerate([2, 0, 2, 4]):
        for stroke in digit_strokes(digit, size, seed=position, margin=0.12, offset=(position * size * 0.7, 0)):
            page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
            page.mouse.up()
    page.wait_for_function("() => document.querySelector('[data-testid=number]').textContent === '2024'", timeout=5000)
    assert page.get_by_test_id("number-digits").locator("li").count() == 4
    drawn = page.get_by_test_id("boxes").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).some(v => v > 0)"
    )
    assert drawn  # boxes and readings are drawn over the digits
    page.screenshot(path=str(ARTIFACTS / "number-mode.png"))


def test_why_overlays_a_heatmap_and_names_the_runner_up(page: Any) -> None:
    draw(page, 7)
    reading(page, "7")
    with page.expect_response(lambda r: r.url.endswith("/api/predict") and r.request.post_data_json["explain"]):
        page.get_by_test_id("explain").click()
    runner_up = page.get_by_test_id("runner-up")
    runner_up.wait_for(state="visible")
    assert "Second guess" in runner_up.inner_text()
    reddish = page.get_by_test_id("model-input").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, 28, 28).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i] > d[i + 1] + 60) n++; return n; }"
    )
    assert reddish > 10  # the heatmap tints the strokes the answer rests on
    page.screenshot(path=str(ARTIFACTS / "why.png"))


def test_wrong_answer_can_be_corrected(page: Any, server: str) -> None:
    draw(page, 7)
    reading(page, "7")
    feedback = page.get_by_test_id("feedback")
    feedback.wait_for(state="visible")
    with page.expect_response("**/api/feedback") as stored:
        page.get_by_test_id("correct-1").click()
    assert stored.value.status == 201
    status = page.get_by_test_id("feedback-status")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=feedback-status]').textContent.includes('Thank')"
    )
    assert "Stored as a 1" in status.inner_text()
    with page.expect_response("**/api/feedback") as by_key:
        page.keyboard.press("4")  # one key press works too
    assert by_key.value.json()["label"] == 4
