"""Turn the API's input forms into pictures for `preprocess`; reject bad input with clear words.

Forms: multipart field `image` (an image file); JSON `image` (data URL or base64); JSON `pixels`
(2-D grayscale 0-255); JSON `strokes` with `width` and `height` (rendered here); the seed's
JSON of canvas bytes (`compact_byte_values`, with a JSON parser as the fallback).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
from PIL import Image

from digitrec.decode import decode_base64_image, decode_image, render_strokes
from digitrec.errors import InputError, TooLargeError

MAX_SIDE = 4096
MAX_STROKE_POINTS = 100_000


@dataclass
class Options:
    model: str | None = None
    top_k: int = 3
    include_input: bool = False
    explain: bool = False
    label: int | None = None  # /api/feedback: the digit it really is
    predicted: int | None = None  # /api/feedback: what the model said


def parse_options(source: dict[str, Any]) -> Options:
    top_k = source.get("top_k", 3)
    if isinstance(top_k, str) and top_k.strip().isdigit():
        top_k = int(top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 10:
        raise InputError("`top_k` must be a whole number from 1 to 10")
    model = source.get("model")
    if model is not None and not isinstance(model, str):
        raise InputError('`model` must be a model name such as "cnn"')
    label, predicted = _digit_or_none(source, "label"), _digit_or_none(source, "predicted")
    return Options(
        model=model or None,
        top_k=top_k,
        include_input=_flag(source.get("include_input")),
        explain=_flag(source.get("explain")),
        label=label,
        predicted=predicted,
    )


def _digit_or_none(source: dict[str, Any], key: str) -> int | None:
    value = source.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise InputError(f"`{key}` must be a digit from 0 to 9")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def picture_from_json(item: Any, max_pixels: int) -> Image.Image | np.ndarray:
    if not isinstance(item, dict):
        raise InputError("the JSON body must be an object with `image`, `pixels` or `strokes`")
    present = [key for key in ("image", "pixels", "strokes") if key in item]
    if len(present) != 1:
        raise InputError(
            "send exactly one of `image` (data URL or base64), `pixels` (2-D array) "
            "or `strokes` (with `width` and `height`)"
        )
    if present[0] == "image":
        if not isinstance(item["image"], str):
            raise InputError("`image` must be a string: a data URL or base64 of an image file")
        return decode_base64_image(item["image"], max_pixels)
    if present[0] == "pixels":
        return parse_pixels(item["pixels"], max_pixels)
    return parse_strokes(item, max_pixels)


def picture_from_bytes(data: bytes, max_pixels: int) -> Image.Image | np.ndarray:
    return decode_image(data, max_pixels)


def parse_pixels(value: Any, max_pixels: int) -> np.ndarray:
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        raise InputError("`pixels` must be a non-empty 2-D array (a list of rows of numbers 0-255)")
    if len(value) * len(value[0]) > max_pixels:
        raise TooLargeError(f"`pixels` is larger than {max_pixels:,} values")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError("`pixels` must be a rectangular 2-D array of numbers (all rows the same length)") from exc
    if array.ndim != 2 or min(array.shape) < 1:
        raise InputError(f"`pixels` must be 2-D (rows of numbers), got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise InputError("`pixels` holds NaN or infinite values; use numbers from 0 to 255")
    if array.min() < 0 or array.max() > 255:
        raise InputError("`pixels` values must be from 0 to 255")
    return array.astype(np.uint8) if array.max() > 1 else (array * 255).astype(np.uint8)


def parse_strokes(item: dict[str, Any], max_pixels: int) -> np.ndarray:
    width, height = item.get("width"), item.get("height")
    if not (_is_number(width) and _is_number(height) and 1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise InputError(f"`strokes` needs `width` and `height`, the canvas size in pixels (1-{MAX_SIDE})")
    if width * height > max_pixels:
        raise TooLargeError(f"a {width}x{height} canvas is larger than {max_pixels:,} pixels")
    line_width = item.get("line_width")
    if line_width is not None and not (_is_number(line_width) and 0.5 <= line_width <= max(width, height)):
        raise InputError("`line_width` must be a number of pixels, from 0.5 to the canvas size")
    strokes = item["strokes"]
    if not isinstance(strokes, list) or not all(isinstance(s, list) for s in strokes):
        raise InputError("`strokes` must be a list of strokes, each a list of [x, y] points")
    total = 0
    for stroke in strokes:
        total += len(stroke)
        for point in stroke:
            if not (isinstance(point, list | tuple) and len(point) == 2 and all(_is_number(v) for v in point)):
                raise InputError("each stroke point must be [x, y] with finite numbers")
    if total > MAX_STROKE_POINTS:
        raise TooLargeError(f"`strokes` has {total:,} points; at most {MAX_STROKE_POINTS:,} are accepted")
    return render_strokes(strokes, int(width), int(height), line_width)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_DIGIT_ZERO, _COLON, _COMMA = ord("0"), ord(":"), ord(",")


def compact_byte_values(body: bytes) -> np.ndarray | None:
    """The seed page's request without a JSON parser: JSON.stringify(imageData.data), a compact
    object {"0":v0,"1":v1,...} (or an array [v0,v1,...]) of whole numbers 0-255, as uint8.

    A 140x140 canvas makes 78,400 keys and ~1 MB of JSON; building and sorting a dict of them
    took 25 ms a request, these vectorised checks take ~3 ms. Anything not in exactly that
    compact form (spaces, other keys, other numbers) returns None, for a real JSON parser.
    """
    data = np.frombuffer(body.strip(), dtype=np.uint8)
    if data.size < 2:
        return None
    brackets = bytes(data[[0, -1]])
    commas = np.flatnonzero(data == _COMMA)
    if brackets == b"{}":
        starts = np.flatnonzero(data == _COLON) + 1
    elif brackets == b"[]":
        starts = np.concatenate(([1], commas + 1))
    else:
        return None
    ends = np.append(commas, data.size - 1)  # each value runs up to the next comma or the closer
    if starts.size != ends.size or not np.all(ends > starts):
        return None
    lengths = ends - starts
    if lengths.max() > 3:
        return None
    values = np.zeros(starts.size, dtype=np.int32)
    inside = np.zeros(data.size, dtype=bool)  # the bytes of the values
    for place in range(3):
        present = lengths > place
        digits = data[np.minimum(starts + place, data.size - 1)].astype(np.int32) - _DIGIT_ZERO
        if np.any(present & ((digits < 0) | (digits > 9))):
            return None
        values = np.where(present, values * 10 + digits, values)
        inside[starts[present] + place] = True
    leading_zero = (lengths > 1) & (data[starts] == _DIGIT_ZERO)
    if values.max() > 255 or leading_zero.any():
        return None
    # Everything outside the values must be exactly the keys "0", "1", ... in order (or, for an
    # array, the commas): compare it with the same text written out once.
    outside = data[~inside]
    if not np.array_equal(outside, _skeleton(starts.size, keyed=brackets == b"{}")):
        return None
    return values.astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _skeleton(count: int, keyed: bool) -> np.ndarray:
    if keyed:
        text = b"{" + b",".join(b'"%d":' % index for index in range(count)) + b"}"
    else:
        text = b"[" + b"," * (count - 1) + b"]"
    return np.frombuffer(text, dtype=np.uint8)
