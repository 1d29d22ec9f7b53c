"""The page in real Chromium (Debian's), driven by Playwright: draw with the mouse, read the answer."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ARTIFACTS
from e2e.helpers import draw, draw_strokes, number_reading, number_strokes, reading, text_of
from strokes import digit_strokes

pytestmark = pytest.mark.slow


def test_drawn_digits_are_read(page: Any) -> None:
    for digit in range(10):
        draw(page, digit)
        reading(page, str(digit))
        winner = page.locator("[data-testid=bars] li.winner")
        assert winner.get_attribute("data-testid") == f"bar-{digit}"
        width = page.get_by_test_id(f"bar-{digit}").locator(".fill").evaluate("e => parseFloat(e.style.width)")
        assert width > 50
        assert "% sure" in text_of(page, "confidence")
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
    assert text_of(page, "confidence") == "Draw a digit"
    blank = page.get_by_test_id("canvas").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.every(v => v === 0)"
    )
    assert blank


def test_model_selector_changes_the_answer_source(page: Any) -> None:
    options = page.get_by_test_id("model-select").locator("option").all_inner_texts()
    assert [o.split(" ")[0] for o in options] == ["cnn", "mlp", "seed-ann"]
    draw(page, 2)
    reading(page, "2")
    assert text_of(page, "status").startswith("cnn")

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


def test_phone_sized_screen(any_page: Any) -> None:
    phone = any_page
    if phone.size != "phone":
        pytest.skip("the phone layout")
    box = phone.get_by_test_id("canvas").bounding_box()
    assert box["width"] <= 375 and box["x"] >= 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    draw(phone, 7)
    reading(phone, "7")
    phone.screenshot(path=str(ARTIFACTS / "phone.png"))


def test_hints_match_the_device(any_page: Any) -> None:
    hint = text_of(any_page, "hint")
    if any_page.size == "phone":
        assert "finger" in hint and "Undo" in hint
        assert "Esc" not in hint and "Ctrl" not in hint
    else:
        assert "Esc" in hint and "Ctrl+Z" in hint
    draw(any_page, 1)
    any_page.get_by_test_id("hint").wait_for(state="hidden")  # out of the way once drawing starts


@pytest.mark.parametrize("mode", ["digit", "number"])
def test_result_card_sits_under_or_beside_the_canvas(any_page: Any, mode: str) -> None:
    any_page.get_by_test_id(f"mode-{mode}").click()
    canvas = any_page.get_by_test_id("canvas").bounding_box()
    card = any_page.locator("section.result").bounding_box()
    beside = card["x"] >= canvas["x"] + canvas["width"] and card["y"] < canvas["y"] + canvas["height"]
    under = 0 <= card["y"] - (canvas["y"] + canvas["height"]) <= 40
    assert beside or under, (canvas, card)
    if any_page.size == "phone":  # the reading is on screen with the canvas, without scrolling
        assert card["y"] + 100 < 740


def test_default_pen_follows_the_canvas_and_the_slider_overrides(any_page: Any) -> None:
    def pen() -> float:
        return float(any_page.get_by_test_id("pen-width").input_value())

    height = any_page.get_by_test_id("canvas").bounding_box()["height"]
    assert pen() == pytest.approx(height / 14, abs=1)
    any_page.get_by_test_id("pen-width").fill("12")
    assert pen() == 12 and text_of(any_page, "pen-value") == "12 px"
    with any_page.expect_request("**/api/predict") as sent:
        draw(any_page, 3)
    assert sent.value.post_data_json["line_width"] == 12
    any_page.get_by_test_id("pen-auto").click()
    assert pen() == pytest.approx(height / 14, abs=1)
    any_page.get_by_test_id("mode-number").click()
    height = any_page.get_by_test_id("canvas").bounding_box()["height"]
    assert pen() == pytest.approx(max(4, height / 25), abs=1)


def test_number_mode_reads_a_whole_number(page: Any) -> None:
    page.get_by_test_id("mode-number").click()
    box = page.get_by_test_id("canvas").bounding_box()
    assert box["width"] > 2.5 * box["height"]  # the wide canvas
    size = box["height"]
    for position, digit in enumerate([2, 0, 2, 4]):
        offset = (position * size * 0.7, 0)
        draw_strokes(page, digit_strokes(digit, size, seed=position, margin=0.12, offset=offset))
    number_reading(page, "2024")
    assert page.get_by_test_id("number-digits").locator("li").count() == 4
    drawn = page.get_by_test_id("boxes").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).some(v => v > 0)"
    )
    assert drawn  # boxes and readings are drawn over the digits
    page.screenshot(path=str(ARTIFACTS / "number-mode.png"))


def test_ten_digits_at_a_normal_size_are_read_with_the_default_pen(page: Any) -> None:
    """A fat pen filled the holes of digits 65 px tall: "1234567890" read as "8234567190"."""
    page.get_by_test_id("mode-number").click()
    box = page.get_by_test_id("canvas").bounding_box()
    with page.expect_request("**/api/read") as sent:
        draw_strokes(page, number_strokes("1234567890", 65, x0=40, y0=(box["height"] - 80) / 2))
    assert sent.value.post_data_json["line_width"] <= 12
    number_reading(page, "1234567890", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "number-ten-digits.png"))


def test_number_mode_on_a_phone_is_tall_enough_and_labels_stay_inside(any_page: Any) -> None:
    if any_page.size != "phone":
        pytest.skip("the phone layout")
    phone = any_page
    phone.get_by_test_id("mode-number").click()
    box = phone.get_by_test_id("canvas").bounding_box()
    assert box["height"] >= 180
    draw_strokes(phone, number_strokes("2024", 70, x0=30, y0=4))  # written against the top edge
    number_reading(phone, "2024")
    labels = phone.get_by_test_id("boxes").evaluate("c => JSON.parse(c.dataset.labels)")
    assert len(labels) == 4
    for x, y, w, h in labels:
        assert x >= 0 and y >= 0 and x + w <= box["width"] + 1 and y + h <= box["height"] + 1
    phone.screenshot(path=str(ARTIFACTS / "phone-number.png"))


def test_why_shows_the_heatmap_over_the_drawing(any_page: Any) -> None:
    draw(any_page, 7)
    reading(any_page, "7")
    with any_page.expect_response(lambda r: r.url.endswith("/api/predict") and r.request.post_data_json["explain"]):
        any_page.get_by_test_id("explain").click()
    runner_up = any_page.get_by_test_id("runner-up")
    runner_up.wait_for(state="visible")
    assert "Second guess" in runner_up.inner_text()
    reddish = (
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 60 && d[i] > d[i + 1] + 60) n++; return n; }"
    )
    assert any_page.get_by_test_id("model-input").evaluate(reddish) > 10  # the thumbnail, as before
    heat = any_page.get_by_test_id("heatmap")
    area = heat.evaluate("c => c.width * c.height")
    assert heat.evaluate(reddish) > area * 0.01  # and large, over the drawing itself
    any_page.screenshot(path=str(ARTIFACTS / f"why-{any_page.size}.png"))
    any_page.get_by_test_id("explain").click()
    assert heat.evaluate(reddish) == 0
