"""decode.py: only the documented formats, every mode made readable, strokes drawn within budget."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from digitrec.errors import EmptyDrawingError, InputError, TooLargeError, UnsupportedFormatError
from digitrec.reading.decode import Budget, base64_bytes, decode_image, render_strokes, stroke_scale
from digitrec.reading.preprocess import preprocess
from strokes import digit_strokes


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def digit_canvas(side: int = 280) -> np.ndarray:
    """A 7 drawn dark on white, as a photo or a canvas export would hold it."""
    return 255 - render_strokes(digit_strokes(7, side, margin=0.1), side, side, side / 12)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_the_documented_formats_are_read(fmt: str) -> None:
    picture = decode_image(encoded(Image.fromarray(digit_canvas()), fmt))
    assert preprocess(picture).max() > 0.9


@pytest.mark.parametrize(("fmt", "mode"), [("TIFF", "L"), ("EPS", "RGB"), ("PCX", "L"), ("SGI", "L"), ("ICO", "L")])
def test_other_formats_are_refused_by_name(fmt: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(Image.fromarray(digit_canvas(64)).convert(mode), fmt)
    # An EPS must never reach Ghostscript: no external program may be started at all.
    monkeypatch.setattr("subprocess.Popen.__init__", lambda *a, **k: pytest.fail("a program was started"))
    with pytest.raises(UnsupportedFormatError, match=rf"{fmt}.*PNG, JPEG, WebP, BMP or GIF"):
        decode_image(data)


def test_jpeg_2000_and_qoi_are_refused_by_name() -> None:
    # Written by hand: their encoders are optional in Pillow builds, their magic numbers are not.
    for magic, name in [
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
        (b"qoif\x00\x00\x00\x10\x00\x00\x00\x10\x04\x00", "QOI"),
    ]:
        with pytest.raises(UnsupportedFormatError, match=name):
            decode_image(magic + bytes(64))


def test_garbage_is_not_an_image() -> None:
    with pytest.raises(InputError, match="not an image.*PNG, JPEG, WebP, BMP or GIF") as caught:
        decode_image(b"hello, not an image at all")
    assert not isinstance(caught.value, UnsupportedFormatError)


@pytest.mark.parametrize("text", ["data:x", "data:image/png;base64", "data:"])
def test_a_data_url_without_a_comma_is_a_clean_input_error(text: str) -> None:
    with pytest.raises(InputError, match="comma"):
        decode_image(base64_bytes(text))


def test_cmyk_jpeg_is_read() -> None:
    cmyk = Image.fromarray(digit_canvas()).convert("CMYK")
    picture = decode_image(encoded(cmyk, "JPEG", quality=95))
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    reference = preprocess(digit_canvas())
    assert np.abs(preprocess(picture) - reference).mean() < 0.05


def test_sixteen_bit_png_is_read_as_grey() -> None:
    deep = Image.fromarray(digit_canvas().astype(np.uint16) * 257)  # mode I;16
    picture = decode_image(encoded(deep, "PNG"))
    assert isinstance(picture, Image.Image) and picture.mode == "L"
    assert np.abs(preprocess(picture) - preprocess(digit_canvas())).mean() < 0.02


def test_transparent_palette_and_grey_alpha_pngs_are_read() -> None:
    ink = 255 - digit_canvas()
    la = Image.fromarray(np.dstack([np.zeros_like(ink), ink]), mode="LA")
    for image in (la, la.convert("RGBA").convert("P")):
        assert preprocess(decode_image(encoded(image, "PNG"))).max() > 0.9


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.fromarray(digit_canvas(120))] + [Image.new("L", (120, 120), 255)] * 50
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    picture = decode_image(data)
    assert isinstance(picture, Image.Image)
    assert np.array_equal(np.asarray(picture.convert("L")), np.asarray(frames[0].convert("P").convert("L")))


def test_big_jpeg_is_decoded_at_a_reduced_size() -> None:
    photo = Image.fromarray(digit_canvas(1024)).resize((4096, 4096))
    picture = decode_image(encoded(photo, "JPEG", quality=80))
    assert isinstance(picture, Image.Image)
    assert picture.size == (1024, 1024)  # 1/4: the largest libjpeg scale within 1 Mpx
    assert np.abs(preprocess(picture) - preprocess(digit_canvas(1024))).mean() < 0.05


def test_big_png_is_refused_with_the_limit_named() -> None:
    data = encoded(Image.new("L", (2048, 2048), 255), "PNG")
    with pytest.raises(TooLargeError, match="1,048,576"):
        decode_image(data)
    assert decode_image(data, budget=Budget(max_decoded_pixels=5_000_000)) is not None


def test_data_url_is_read_within_the_same_budget() -> None:
    data = encoded(Image.new("L", (1500, 1500), 255), "WEBP")
    with pytest.raises(TooLargeError):
        decode_image(base64_bytes("data:image/webp;base64," + base64.b64encode(data).decode()))


@pytest.mark.parametrize(
    ("strokes", "side", "line", "error", "message"),
    [
        ([[[1, 1]] * 5_001], 280, 10, TooLargeError, "5,000"),
        ([[[1, 1]]], 5000, 10, TooLargeError, "4096"),
        ([[[1, 1]]], 280, 71, InputError, "0.25 of the canvas"),
        ([[[1, 1]]], 280, -3, InputError, "line_width"),
        ([[[0, 0], [4096, 4096]] * 100], 4096, 1024, TooLargeError, "rows of pen"),
        ([[[1, "a"]]], 280, 10, InputError, r"\[x, y\]"),
        ([[[1, 2, 3]]], 280, 10, InputError, r"\[x, y\]"),
        ([[], []], 280, 10, EmptyDrawingError, "nothing drawn"),
    ],
)
def test_strokes_over_a_limit_say_which(strokes: list, side: int, line: float, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        render_strokes(strokes, side, side, line)


def test_strokes_on_a_big_canvas_are_drawn_scaled_with_the_same_ink() -> None:
    small = render_strokes(digit_strokes(3, 1024), 1024, 1024, 64)
    big = render_strokes(digit_strokes(3, 4096), 4096, 4096, 256)
    assert stroke_scale(4096, 4096) == 0.25 and big.shape == small.shape == (1024, 1024)
    assert np.abs(preprocess(big) - preprocess(small)).mean() < 0.03


def test_small_canvases_are_drawn_at_full_size() -> None:
    assert render_strokes(digit_strokes(1, 600), 600, 200, 14).shape == (200, 600)


def test_dense_points_cost_what_the_shape_costs() -> None:
    # 5,000 points round a circle with a fat pen: thinned to the ones that move the pen.
    angle = np.linspace(0, 2 * np.pi, 5_000)
    circle = (2048 + 1500 * np.c_[np.cos(angle), np.sin(angle)]).tolist()
    ink = render_strokes([circle], 4096, 4096, 512)
    assert ink.shape == (1024, 1024) and ink.max() == 255
