"""The seed's canvas bytes read without a JSON parser agree with one, or step aside for it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitrec.web.inputs import compact_byte_values

RGBA = np.random.default_rng(0).integers(0, 256, 140 * 140 * 4).astype(np.uint8)
VALUES = RGBA.tolist()
KEYED = json.dumps({str(i): v for i, v in enumerate(VALUES)}, separators=(",", ":")).encode()
ARRAY = json.dumps(VALUES, separators=(",", ":")).encode()


SPACED = json.dumps({str(i): v for i, v in enumerate(VALUES)}).encode()  # json.dumps: ", " and ": "
INDENTED = json.dumps(VALUES, indent=2).encode()


@pytest.mark.parametrize(
    "body",
    [KEYED, ARRAY, b"  " + KEYED + b"\n", SPACED, INDENTED],
    ids=["object", "array", "surrounding space", "spaced object", "indented array"],
)
def test_compact_canvas_bytes_are_read_exactly(body: bytes) -> None:
    values = compact_byte_values(body)
    assert values is not None
    assert np.array_equal(values, RGBA)
    assert np.array_equal(
        values, np.asarray(list(json.loads(body).values()) if body.strip()[:1] == b"{" else json.loads(body))
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"0":1," 1":2}',  # a space inside a key is the key's own
        b'{"0":1,"1 ":2}',
        b'{"\\u0030":1}',  # an escape: left to the parser
        b"[1 2]",  # not JSON, and not 12
        b'{"0":1 2}',
        KEYED.replace(b'"5":', b'"6":', 1),  # keys out of order
        b'{"1":3,"0":4}',
        b'{"a":1}',
        KEYED.replace(b":0,", b":00,", 1),  # a leading zero is not JSON
        b'{"0":256}',
        b"[1.5]",
        b"[-1]",
        b"[1,2,]",
        b"[,1]",
        b"[1,,2]",
        b"[]",
        b"{}",
        b'{"0":1,"1":2',
        b'{"0":1,"1":2}x',
        b'{"0":1,"1":,"2":3}',
        b"",
        b"null",
    ],
)
def test_anything_else_is_left_to_the_json_parser(body: bytes) -> None:
    assert compact_byte_values(body) is None
