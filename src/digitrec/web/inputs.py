"""What a schema cannot say of the API's pixel forms: that `pixels` is a rectangular array, and
the seed's JSON of canvas bytes, read by `compact_byte_values` with a JSON parser as the fallback.
"""

from __future__ import annotations

import functools

import numpy as np

from digitrec.errors import InputError, TooLargeError


def parse_pixels(value: list[list[float]], max_pixels: int) -> np.ndarray:
    if len(value) * len(value[0]) > max_pixels:
        raise TooLargeError(f"`pixels` is larger than {max_pixels:,} values")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError("`pixels` must be a rectangular 2-D array of numbers (all rows the same length)") from exc
    if array.ndim != 2:
        raise InputError(f"`pixels` must be 2-D (rows of numbers), got shape {list(array.shape)}")
    return array.astype(np.uint8) if array.max() > 1 else (array * 255).astype(np.uint8)


_DIGIT_ZERO, _COLON, _COMMA = ord("0"), ord(":"), ord(",")


def compact_byte_values(body: bytes) -> np.ndarray | None:
    """The seed page's request without a JSON parser: JSON.stringify(imageData.data), a compact
    object {"0":v0,"1":v1,...} (or an array [v0,v1,...]) of whole numbers 0-255, as uint8.

    A 140x140 canvas makes 78,400 keys and ~1 MB of JSON; building and sorting a dict of them
    took 25 ms a request, these vectorised checks take ~3 ms. JSON's whitespace between tokens
    (`json.dumps` writes ", " and ": ") is dropped first; anything else not in that form (other
    keys, other numbers, escapes) returns None, for a real JSON parser.
    """
    data = _without_whitespace(np.frombuffer(body, dtype=np.uint8))
    if data is None:
        return None
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


_BLANKS = np.frombuffer(b" \t\n\r", dtype=np.uint8)


def _without_whitespace(data: np.ndarray) -> np.ndarray | None:
    """JSON text without the whitespace between its tokens; None where a string holds an escape
    (the skeleton check then could not tell a key's own characters apart)."""
    if np.any(data == ord("\\")):
        return None
    blank = np.isin(data, _BLANKS)
    if not blank.any():  # the browser's compact form
        return data
    quotes = data == ord('"')
    blank &= np.cumsum(quotes) % 2 == 0  # outside strings: an even number of quotes before
    kept = np.flatnonzero(~blank)
    digit = (data[kept] >= _DIGIT_ZERO) & (data[kept] <= _DIGIT_ZERO + 9)
    # "1 2" is not JSON, and must not become 12.
    if np.any((np.diff(kept) > 1) & digit[:-1] & digit[1:]):
        return None
    return data[kept]


@functools.lru_cache(maxsize=4)
def _skeleton(count: int, keyed: bool) -> np.ndarray:
    if keyed:
        text = b"{" + b",".join(b'"%d":' % index for index in range(count)) + b"}"
    else:
        text = b"[" + b"," * (count - 1) + b"]"
    return np.frombuffer(text, dtype=np.uint8)
