"""Input adapters: the forms a drawing arrives in (image bytes, base64, strokes, the seed's RGBA
bytes) turned into a picture that `preprocess` reads. All I/O-shaped work lives here, so that
`preprocess.py` stays pure arrays in, arrays out.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from digitrec.errors import EmptyDrawingError, InputError, TooLargeError
from digitrec.fastpng import decode_plain_png

MAX_PIXELS = 25_000_000  # decoded pixels; more is refused before decoding (decompression bombs)


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image | np.ndarray:
    """Decode PNG/JPEG/WebP/BMP/GIF bytes; refuse what is not an image or is too large to open.

    Plain PNGs (what canvases export) come back as uint8 arrays from the fast decoder; the rest
    as Pillow images. `preprocess` and `ink_map` take either.
    """
    if not data:
        raise InputError("the image is empty: send the bytes of a PNG, JPEG, WebP, BMP or GIF file")
    fast = decode_plain_png(data, max_pixels)
    if fast is not None:
        return fast
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise TooLargeError(f"the image is {width}x{height} pixels; at most {max_pixels:,} pixels are accepted")
        image.load()
    except InputError:  # our own TooLargeError, raised before decoding
        raise
    except Image.DecompressionBombError as exc:
        raise TooLargeError("the image has too many pixels to decode safely; send a smaller one") from exc
    except UnidentifiedImageError as exc:
        raise InputError("this is not an image Pillow can read: send PNG, JPEG, WebP, BMP or GIF") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"the image is truncated or damaged ({exc}); send the whole file") from exc
    # Photos from phones carry their rotation in EXIF; apply it so the digit is upright.
    return ImageOps.exif_transpose(image) or image


def decode_base64_image(text: str, max_pixels: int = MAX_PIXELS) -> Image.Image | np.ndarray:
    """Decode a data URL (data:image/png;base64,...) or bare base64 text into an image."""
    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        # Strict decoding, so that garbage is reported as such rather than silently dropped.
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("`image` is not valid base64 or a data URL") from exc
    return decode_image(data, max_pixels)


def render_strokes(
    strokes: Sequence[Sequence[Sequence[float]]],
    width: int,
    height: int,
    line_width: float | None = None,
) -> np.ndarray:
    """Draw strokes (lists of [x, y] points, canvas pixels) as a white-on-black uint8 image."""
    if not strokes or not any(len(s) for s in strokes):
        raise EmptyDrawingError("nothing drawn: `strokes` holds no points")
    line = float(line_width) if line_width else max(width, height) / 16
    picture = Image.new("L", (int(width), int(height)), 0)
    pen = ImageDraw.Draw(picture)
    radius = line / 2
    for stroke in strokes:
        points = [(float(p[0]), float(p[1])) for p in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(line)))
        # Round caps and joins, as a canvas draws them with lineCap = "round".
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(picture, dtype=np.uint8)


def rgba_bytes_to_image(values: Sequence[float] | np.ndarray, width: int | None = None) -> np.ndarray:
    """The seed's request: a flat list of a square canvas's RGBA bytes -> (H, W, 4) uint8."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0 or array.size % 4:
        raise InputError("expected a flat list of RGBA values (4 per pixel)")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise InputError("RGBA values must be numbers from 0 to 255")
    pixels = array.size // 4
    side = width or int(round(pixels**0.5))
    if side * (pixels // side) != pixels or (width is None and side * side != pixels):
        raise InputError(f"{pixels} pixels do not make a square canvas; send width and height")
    return array.astype(np.uint8).reshape(pixels // side, side, 4)
