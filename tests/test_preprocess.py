from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from conftest import on_white_canvas, png_bytes, probabilities_of
from digitrec.errors import EmptyDrawingError, InputError
from digitrec.reading.decode import base64_bytes, decode_image, render_strokes, rgba_bytes_to_image
from digitrec.reading.inference import Predictor
from digitrec.reading.preprocess import preprocess, stroke_width
from digitrec.reading.reader import Reader
from strokes import digit_strokes

SAMPLES = range(0, 400, 20)  # 20 test digits, every class represented


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def test_mnist_digits_pass_nearly_unchanged(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images = mnist_test[0][:500]
    out = np.stack([preprocess(im) for im in images])
    difference = np.abs(out - images / 255.0).mean(axis=(1, 2))
    assert np.median(difference) < 0.005
    assert (difference < 0.03).mean() > 0.97


def test_output_is_mnist_style() -> None:
    canvas = render_strokes(digit_strokes(7, 300), 300, 300, 20)
    out = preprocess(canvas)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fits the 20x20 box
    cy, cx = center_of_mass(out)
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1


def variants(digit: np.ndarray) -> dict[str, np.ndarray]:
    base = on_white_canvas(digit)
    ink = Image.fromarray(255 - base)
    return {
        "shifted": on_white_canvas(digit, offset=(5, 70)),
        "small": on_white_canvas(digit, box=90, offset=(150, 20)),
        "huge": on_white_canvas(digit, size=900, box=800, offset=(60, 40)),
        "thick": 255 - np.asarray(ink.filter(ImageFilter.MaxFilter(9))),
        "thin": 255 - np.asarray(ink.filter(ImageFilter.MinFilter(5))),
        "inverted": 255 - base,
    }


@pytest.mark.parametrize("variant", ["shifted", "small", "huge", "thick", "thin", "inverted"])
def test_same_digit_any_way_drawn_gives_same_input_and_answer(
    variant: str, mnist_test: tuple[np.ndarray, np.ndarray], cnn: Predictor
) -> None:
    images, labels = mnist_test
    agree, close = 0, 0
    for index in SAMPLES:
        reference = preprocess(on_white_canvas(images[index]))
        changed = preprocess(variants(images[index])[variant])
        close += np.abs(changed - reference).mean() < 0.08
        probabilities = probabilities_of(cnn, np.stack([reference, changed]))
        agree += probabilities[0].argmax() == probabilities[1].argmax() == labels[index]
    assert close >= 0.9 * len(SAMPLES), f"{variant}: only {close} of {len(SAMPLES)} inputs stayed close"
    assert agree >= 0.9 * len(SAMPLES), f"{variant}: only {agree} of {len(SAMPLES)} read right both ways"


@pytest.mark.parametrize("pen", [4, 10, 24, 40])
def test_pen_width_does_not_change_the_reading(pen: int, cnn: Predictor) -> None:
    right = 0
    for digit in range(10):
        canvas = render_strokes(digit_strokes(digit, 280, margin=0.05), 280, 280, pen)
        right += Reader(predictor=cnn).digit(canvas).digit == digit
    assert right >= 9, f"pen {pen}px: {right}/10 read right"


def test_stroke_normalisation_brings_thin_and_thick_pens_together() -> None:
    widths = []
    for pen in (3, 12, 40):
        out = preprocess(render_strokes(digit_strokes(3, 400), 400, 400, pen))
        widths.append(stroke_width(out))
    assert max(widths) - min(widths) < 1.6, widths
    assert all(1.6 <= w <= 5.0 for w in widths), widths


@pytest.mark.parametrize(("height", "width"), [(80, 16), (60, 6), (120, 10)])
def test_stroke_width_of_a_solid_bar_is_its_width(height: int, width: int) -> None:
    # Ink that fills its crop to the edges (the seed's white bar) must not look infinitely thick.
    measured = stroke_width(np.ones((height, width), dtype=np.float32))
    assert 0.8 * min(height, width) <= measured <= 1.25 * min(height, width)


def test_transparent_canvas_uses_opacity_as_ink() -> None:
    rgba = np.zeros((140, 140, 4), dtype=np.uint8)
    rgba[30:110, 66:74] = (255, 255, 255, 255)  # the seed's white pen on a transparent canvas
    out = preprocess(rgba)
    assert out.max() == pytest.approx(1.0)
    black_pen = rgba.copy()
    black_pen[..., :3] = 0
    np.testing.assert_allclose(preprocess(black_pen), out, atol=1e-6)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "I;16"])
def test_any_image_mode_is_read(mode: str, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    picture = Image.fromarray(on_white_canvas(mnist_test[0][0])).convert(mode)
    out = preprocess(picture)
    assert out.shape == (28, 28) and out.max() > 0.9


@pytest.mark.parametrize("picture", [np.zeros((50, 50)), np.full((50, 50), 255), np.zeros((10, 10, 4))])
def test_nothing_drawn_is_an_empty_drawing(picture: np.ndarray) -> None:
    with pytest.raises(EmptyDrawingError, match="nothing drawn"):
        preprocess(picture.astype(np.uint8))


def test_empty_strokes_are_an_empty_drawing() -> None:
    with pytest.raises(EmptyDrawingError):
        render_strokes([[]], 100, 100)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not an image"),
        (png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))[:2000], "truncated"),
    ],
)
def test_bad_image_bytes_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_image(data)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buffer, format="PNG")  # ~20 KB file, 144 million pixels
    with pytest.raises(InputError, match="at most"):
        decode_image(buffer.getvalue(), max_pixels=16_000_000)


def test_data_url_and_bare_base64_are_both_read() -> None:
    import base64

    encoded = base64.b64encode(png_bytes(np.full((20, 20), 200, np.uint8))).decode()
    bare, data_url = decode_image(base64_bytes(encoded)), decode_image(base64_bytes("data:image/png;base64," + encoded))
    assert np.asarray(bare).shape == np.asarray(data_url).shape == (20, 20)


def test_seed_rgba_bytes_must_make_a_square() -> None:
    assert rgba_bytes_to_image([0] * (140 * 140 * 4)).shape == (140, 140, 4)
    with pytest.raises(InputError, match="square"):
        rgba_bytes_to_image([0] * (10 * 12 * 4))
    with pytest.raises(InputError, match="0 to 255"):
        rgba_bytes_to_image([300] * 16)
