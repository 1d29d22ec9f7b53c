"""Answers about a whole number in Number mode: one box corrected, the whole number confirmed
(replacing that box's answer), and Undo taking all of it back, at desktop and phone size; axe
finds nothing wrong with the controls."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ARTIFACTS
from e2e.helpers import draw_strokes, number_reading, number_strokes, text_of
from e2e.test_accessibility import AXE

pytestmark = pytest.mark.slow


def status_says(page: Any, words: str) -> None:
    try:
        page.wait_for_function(
            "w => document.querySelector('[data-testid=number-feedback-status]').textContent.includes(w)",
            arg=words,
            timeout=5000,
        )
    except Exception:
        assert words in text_of(page, "number-feedback-status")
        raise


def choices(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("select.box-choice", "all => all.map(s => s.value)"))


def test_correct_a_box_confirm_the_number_and_undo(any_page: Any) -> None:
    page = any_page
    if page.size == "phone":
        page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_test_id("mode-number").click()
    height = page.get_by_test_id("canvas").bounding_box()["height"]
    draw_strokes(page, number_strokes("2024", 70, x0=30, y0=max(4, (height - 90) / 2)))
    number_reading(page, "2024")
    page.get_by_test_id("number-feedback").wait_for(state="visible")
    assert choices(page) == ["", "", "", ""] and page.get_by_test_id("number-feedback-undo").is_hidden()

    with page.expect_response("**/api/feedback/number") as stored:
        page.get_by_test_id("box-choice-1").select_option("6")
    assert stored.value.status == 201, stored.value.text()
    sent = stored.value.request.post_data_json
    assert sent["text"] == "2024" and sent["answers"] == [{"box": 1, "label": 6}]
    corrected = stored.value.json()["answers"][0]
    assert (corrected["predicted"], corrected["kind"]) == (0, "correction")
    status_says(page, "box 2 is a 6")
    assert choices(page) == ["", "6", "", ""]
    page.screenshot(path=str(ARTIFACTS / f"number-corrected-{page.size}.png"), full_page=True)

    with page.expect_response("**/api/feedback/number") as stored:
        page.get_by_test_id("number-right").click()
    assert stored.value.status == 201
    sent = stored.value.request.post_data_json["answers"]
    assert [(a["box"], a["label"]) for a in sent] == [(0, 2), (1, 0), (2, 2), (3, 4)]
    assert sent[1]["replaces"] == corrected["id"]  # the box keeps one answer
    rows = stored.value.json()["answers"]
    assert {r["kind"] for r in rows} == {"confirmation"} and len({r["id"] for r in rows}) == 4
    status_says(page, "the whole number is right")
    assert choices(page) == ["2", "0", "2", "4"]
    assert page.get_by_test_id("number-right").get_attribute("aria-pressed") == "true"
    page.evaluate(AXE.read_text())
    violations = page.evaluate("async () => (await axe.run()).violations.map((v) => [v.id, v.nodes.length])")
    assert violations == []
    page.screenshot(path=str(ARTIFACTS / f"number-confirmed-{page.size}.png"), full_page=True)

    with page.expect_response("**/api/feedback/undo") as taken:
        page.get_by_test_id("number-feedback-undo").click()
    assert taken.value.status == 204
    assert sorted(a["id"] for a in taken.value.request.post_data_json["answers"]) == sorted(r["id"] for r in rows)
    status_says(page, "no longer stored")
    assert choices(page) == ["", "", "", ""]
    assert page.get_by_test_id("number-right").get_attribute("aria-pressed") == "false"
    assert page.get_by_test_id("number-feedback-undo").is_hidden()
    page.screenshot(path=str(ARTIFACTS / f"number-undone-{page.size}.png"), full_page=True)


def test_a_new_stroke_starts_the_answers_afresh(page: Any) -> None:
    page.get_by_test_id("mode-number").click()
    draw_strokes(page, number_strokes("24", 70, x0=30, y0=90))
    number_reading(page, "24")
    with page.expect_response("**/api/feedback/number"):
        page.get_by_test_id("number-right").click()
    status_says(page, "Stored")
    draw_strokes(page, number_strokes("7", 70, x0=230, y0=90))  # "247" now: nothing of it is answered
    number_reading(page, "247")
    assert choices(page) == ["", "", ""] and text_of(page, "number-feedback-status") == ""
    assert page.get_by_test_id("number-right").get_attribute("aria-pressed") == "false"
