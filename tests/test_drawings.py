"""People's strokes and non-digits become training images through the API's own strokes road."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from digitrec.learning.data import PenDigit
from digitrec.learning.drawings import NON_DIGIT_KINDS, non_digit_drawings, pen_digit_drawings, render_all, to_input


def strokes_request(drawing) -> dict:  # type: ignore[no-untyped-def]
    return {
        "strokes": [s.tolist() for s in drawing.strokes],
        "width": drawing.width,
        "height": drawing.height,
        "line_width": drawing.line_width,
        "include_input": True,
    }


def test_training_rendering_is_the_apis_rendering(client: TestClient, pendigits: list[PenDigit]) -> None:
    drawings, _ = pen_digit_drawings(pendigits[:40:4], copies=1, seed=5)
    others, _ = non_digit_drawings(5, seed=5)
    for drawing in drawings + others:
        answer = client.post("/api/predict", json=strokes_request(drawing))
        assert answer.status_code == 200, answer.text
        served = np.asarray(answer.json()["input"], dtype=np.float32)
        # The API rounds the input it returns to 4 decimals; training stores 8-bit images.
        np.testing.assert_allclose(served, to_input(drawing), atol=1e-4)
        np.testing.assert_allclose(render_all([drawing])[0] / 255, served, atol=1 / 255)


def test_pendigits_drawings_vary_and_repeat(pendigits: list[PenDigit]) -> None:
    first, labels = pen_digit_drawings(pendigits[:20], copies=3, seed=1)
    again, _ = pen_digit_drawings(pendigits[:20], copies=3, seed=1)
    assert labels.tolist() == [d.label for d in pendigits[:20] for _ in range(3)]
    np.testing.assert_array_equal(render_all(first), render_all(again))  # seeded
    pens = [d.line_width for d in first]
    sides = [d.width for d in first]
    assert max(pens) > 2 * min(pens) and max(sides) > min(sides)  # other pens, other canvases
    for drawing in first:  # everything on the canvas
        points = np.concatenate(drawing.strokes)
        assert points.min() >= 0 and points[:, 0].max() <= drawing.width and points[:, 1].max() <= drawing.height


def test_non_digits_come_in_many_kinds() -> None:
    assert len(NON_DIGIT_KINDS) >= 10
    drawings, kinds = non_digit_drawings(2 * len(NON_DIGIT_KINDS), seed=0)
    assert set(kinds) == set(NON_DIGIT_KINDS)
    images = render_all(drawings)
    assert (images.reshape(len(images), -1).max(axis=1) == 255).all()  # every one has ink
