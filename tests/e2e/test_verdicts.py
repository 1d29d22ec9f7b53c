"""What the page says when the model is unsure, or sees no digit at all (`uncertain`, `not_a_digit`)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ARTIFACTS
from e2e.helpers import change_answers, draw, draw_strokes, number_reading, number_strokes, reading, text_of

pytestmark = pytest.mark.slow

NOT_A_DIGIT = "That doesn't look like a digit"


def assert_not_a_digit(page: Any) -> None:
    page.wait_for_function(
        "t => document.querySelector('[data-testid=confidence]').textContent === t", arg=NOT_A_DIGIT, timeout=5000
    )
    assert text_of(page, "prediction") == ""  # no big digit
    assert not page.get_by_test_id("bars").is_visible()  # no digit's bar after "not a digit"
    assert page.get_by_test_id("verdict").get_attribute("aria-live") == "polite"
    assert not page.get_by_test_id("right").is_visible()  # nothing to confirm


def test_the_page_says_when_the_api_sees_no_digit(any_page: Any) -> None:
    change_answers(any_page, "/api/predict", lambda body: body.update(not_a_digit=True))
    draw(any_page, 5)
    assert_not_a_digit(any_page)
    any_page.screenshot(path=str(ARTIFACTS / f"not-a-digit-{any_page.size}.png"))


def test_a_clean_digit_shows_at_least_99_percent(any_page: Any) -> None:
    """Calibrated: a crisp digit is no longer capped at 95% by label smoothing."""
    draw(any_page, 7)
    reading(any_page, "7")
    shown = text_of(any_page, "confidence")
    assert float(shown.split("%")[0]) >= 99.0, shown


def test_a_single_dot_is_not_a_digit(any_page: Any) -> None:
    box = any_page.get_by_test_id("canvas").bounding_box()
    with any_page.expect_response("**/api/predict") as answered:
        draw_strokes(any_page, [[(box["width"] / 2, box["height"] / 2)]])
    assert answered.value.json().get("not_a_digit") is True
    assert_not_a_digit(any_page)


def test_the_page_names_two_candidates_when_unsure(any_page: Any) -> None:
    change_answers(any_page, "/api/predict", lambda body: body.update(uncertain=True))
    draw(any_page, 4)
    reading(any_page, "4")  # the best guess stays, marked as unsure
    any_page.wait_for_timeout(300)  # the answer to the end of the stroke
    with any_page.expect_response("**/api/predict") as answered:
        any_page.get_by_test_id("model-select").select_option("cnn")  # asks again for the same drawing
    top = answered.value.json()["top"]
    expected = f"Not sure: {top[0]['digit']} or {top[1]['digit']}?"
    any_page.wait_for_function(
        "t => document.querySelector('[data-testid=confidence]').textContent === t", arg=expected, timeout=5000
    )
    assert "unsure" in any_page.get_by_test_id("prediction").get_attribute("class")
    any_page.screenshot(path=str(ARTIFACTS / f"unsure-{any_page.size}.png"))


def test_missing_flags_read_as_false(page: Any) -> None:
    def without_flags(body: dict[str, Any]) -> None:
        body.pop("uncertain", None)
        body.pop("not_a_digit", None)

    change_answers(page, "/api/predict", without_flags)
    draw(page, 2)
    reading(page, "2")
    assert "% sure" in text_of(page, "confidence")


@pytest.mark.parametrize("stray", ["flagged", "left_out"])
def test_number_mode_leaves_out_stray_marks_and_marks_unsure_digits(any_page: Any, stray: str) -> None:
    """A stray mark comes flagged `not_a_digit` among the digits, or apart in `left_out`."""

    def flag(body: dict[str, Any]) -> None:
        if len(body["digits"]) < 3:  # answered while the number is still being written
            return
        body["digits"][1]["uncertain"] = True
        if stray == "flagged":
            body["digits"][2]["not_a_digit"] = True
        else:
            mark = body["digits"].pop(2)
            body["left_out"] = [{"box": mark["box"], "not_a_digit": True}]

    any_page.get_by_test_id("mode-number").click()
    change_answers(any_page, "/api/read", flag)
    height = 90 if any_page.size == "desktop" else 60
    draw_strokes(any_page, number_strokes("2024", height, x0=30, y0=20))
    number_reading(any_page, "204")  # the stray mark (the third) is not in the text
    assert any_page.locator("[data-testid=number] .unsure").all_inner_texts() == ["0"]
    items = (
        any_page.get_by_test_id("number-digits").locator("li > span:first-child").all_inner_texts()
    )  # the reading, not the Fix… choice
    assert items[2] == "stray mark" and items[1].startswith("0 or ") and "?" in items[1]
    note = text_of(any_page, "number-note")
    assert "Not sure of one digit" in note and "One mark doesn't look like a digit" in note
    any_page.screenshot(path=str(ARTIFACTS / f"number-flags-{any_page.size}.png"))
