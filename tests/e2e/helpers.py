"""Drawing on the page as a person does, and reading what it shows."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image, ImageDraw

from strokes import digit_strokes

Stroke = Sequence[tuple[float, float]]

SIZES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 375, "height": 740},
        "device_scale_factor": 2,
        "has_touch": True,
        "is_mobile": True,
    },
}


def open_page(browser: Any, url: str, size: str, reading: str = "server") -> tuple[Any, Any]:
    """The page at `size`; `reading="server"` keeps every reading on the server (what these tests
    check of the API's page), "device" lets digit mode read in the browser (test_device.py)."""
    context = browser.new_context(**SIZES[size])
    tab = context.new_page()
    tab.goto(url if reading == "device" else f"{url.rstrip('/')}/?reading=server")
    tab.wait_for_selector("[data-testid=model-select] option", state="attached")
    return context, tab


def close_page(context: Any, tab: Any) -> None:
    tab.unroute_all(behavior="ignoreErrors")  # a changed answer may still be on its way
    context.close()


def draw_strokes(page: Any, strokes: list[Stroke]) -> None:
    """Trace strokes (canvas pixels) with the mouse, pressing and releasing as a person would."""
    box = page.get_by_test_id("canvas").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        page.mouse.up()


def draw(page: Any, digit: int, seed: int | None = None) -> None:
    """One digit filling the canvas, as in Digit mode."""
    width = page.get_by_test_id("canvas").bounding_box()["width"]
    draw_strokes(page, digit_strokes(digit, width, seed=seed, margin=0.06))


def number_strokes(digits: str, height: float, x0: float = 10, y0: float = 10) -> list[Stroke]:
    """A number written left to right, each digit `height` px tall (the templates span 0.77 of
    their square) and placed 0.7 of that square apart."""
    size = height / 0.77 / 0.88
    return [
        stroke
        for position, digit in enumerate(digits)
        for stroke in digit_strokes(
            int(digit), size, seed=position, margin=0.06, offset=(x0 + position * size * 0.7, y0)
        )
    ]


def shows(page: Any, testid: str, expected: str, timeout: float) -> None:
    """Wait until the element's text is `expected`; else fail saying what the page shows."""
    try:
        page.wait_for_function(
            "([id, text]) => document.querySelector(`[data-testid=${id}]`).textContent === text"
            " && document.body.dataset.reading === 'done'",  # the answer to the finished drawing
            arg=[testid, expected],
            timeout=timeout,
        )
    except Exception:  # Playwright's TimeoutError: say what is on the page instead
        shown = text_of(page, testid)
        assert shown == expected, f"the page shows {shown!r}, not {expected!r}"
        raise


def reading(page: Any, expected: str, timeout: float = 5000) -> None:
    shows(page, "prediction", expected, timeout)


def number_reading(page: Any, expected: str, timeout: float = 5000) -> None:
    shows(page, "number", expected, timeout)


def text_of(page: Any, testid: str) -> str:
    return str(page.get_by_test_id(testid).inner_text())


def change_answers(page: Any, path: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Answers of the real server, changed on their way to the page (to show flags the model may
    not raise for a given drawing)."""

    def handler(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        if response.ok:
            change(body)
        route.fulfill(response=response, body=json.dumps(body))

    page.route(f"**{path}", handler)


def digits_png(digits: str, height: int = 200, pen: int = 18) -> bytes:
    """A photo-like picture of handwriting: dark ink on white, as a file someone would open."""
    size = height
    width = int(size * (0.7 * len(digits) + 0.3))
    image = Image.new("L", (width, size), 255)
    pen_draw = ImageDraw.Draw(image)
    for position, digit in enumerate(digits):
        for stroke in digit_strokes(int(digit), size, margin=0.06, offset=(position * size * 0.7, 0)):
            pen_draw.line(stroke, fill=20, width=pen, joint="curve")
            for x, y in (stroke[0], stroke[-1]):
                pen_draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=20)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
