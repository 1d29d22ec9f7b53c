"""The fast PNG decoder gives exactly Pillow's pixels, or steps aside for Pillow."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from digitrec.errors import InputError
from digitrec.reading.decode import decode_image
from digitrec.reading.fastpng import decode_plain_png

COLOUR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}
LIMIT = 25_000_000


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def filtered(pixels: np.ndarray, kind: int) -> bytes:
    """Scanlines with one PNG filter type applied to every row, written out by the book."""
    rows = pixels.reshape(pixels.shape[0], -1).astype(int)
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    out = bytearray()
    for y, row in enumerate(rows):
        up = rows[y - 1] if y else np.zeros_like(row)
        out.append(kind)
        for x, value in enumerate(row):
            left = row[x - bpp] if x >= bpp else 0
            upper_left = up[x - bpp] if x >= bpp and y else 0
            predictor = [0, left, up[x], (left + up[x]) // 2, paeth(left, up[x], upper_left)][kind]
            out.append((value - predictor) % 256)
    return bytes(out)


def handmade_png(pixels: np.ndarray, mode: str, filter_type: int, idat_parts: int = 1, extra: bytes = b"") -> bytes:
    height, width = pixels.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[mode], 0, 0, 0)
    data = zlib.compress(filtered(pixels, filter_type), 9)
    step = -(-len(data) // idat_parts)
    idats = b"".join(chunk(b"IDAT", data[i : i + step]) for i in range(0, len(data), step))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + idats + chunk(b"IEND", b"")


def pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def sample(mode: str, height: int = 23, width: int = 37) -> np.ndarray:
    rng = np.random.default_rng(len(mode))
    shape = (height, width) if mode == "L" else (height, width, len(mode))
    smooth = np.linspace(0, 255, height * width).reshape(height, width)
    noise = rng.integers(0, 256, shape)
    return ((noise + (smooth if mode == "L" else smooth[..., None])) % 256).astype(np.uint8)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4], ids=["none", "sub", "up", "average", "paeth"])
def test_every_filter_and_colour_type_decodes_exactly(mode: str, filter_type: int) -> None:
    pixels = sample(mode)
    data = handmade_png(pixels, mode, filter_type)
    decoded = decode_plain_png(data, LIMIT)
    assert decoded is not None
    assert np.array_equal(decoded, pixels)
    assert np.array_equal(decoded, pillow_pixels(data))


@pytest.mark.parametrize("mode", ["RGBA", "L"])
def test_pillow_written_canvas_pngs_decode_exactly(mode: str) -> None:
    # 300x300 RGBA is 360 kB of scanlines: several stored blocks, several IDAT chunks from Pillow.
    pixels = sample(mode, 300, 300)
    for level in (1, 6, 9):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
        decoded = decode_plain_png(buffer.getvalue(), LIMIT)
        assert decoded is not None
        assert np.array_equal(decoded, pillow_pixels(buffer.getvalue()))


def test_split_image_data_and_ancillary_chunks_are_handled() -> None:
    pixels = sample("RGB")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "a drawing app")
    extra = chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)) + chunk(b"tEXt", b"Comment\x00hello")
    data = handmade_png(pixels, "RGB", 4, idat_parts=5, extra=extra)
    decoded = decode_plain_png(data, LIMIT)
    assert decoded is not None and np.array_equal(decoded, pixels)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("P", (20, 20), 3),  # palette
        Image.new("I;16", (20, 20), 300),  # 16-bit
        Image.new("1", (20, 20), 1),  # 1-bit
        Image.new("LA", (20, 20), (9, 200)),  # grey + alpha: libspng cannot output it
    ],
    ids=["palette", "16-bit", "1-bit", "grey+alpha"],
)
def test_what_it_does_not_decode_exactly_is_left_to_pillow(image: Image.Image) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert decode_plain_png(buffer.getvalue(), LIMIT) is None
    assert np.asarray(decode_image(buffer.getvalue())).shape[:2] == (20, 20)


def test_transparency_exif_and_interlacing_are_left_to_pillow() -> None:
    pixels = sample("RGB")
    with_trns = handmade_png(pixels, "RGB", 0, extra=chunk(b"tRNS", b"\x00\x00\x00\x00\x00\x00"))
    assert decode_plain_png(with_trns, LIMIT) is None
    with_exif = handmade_png(pixels, "RGB", 0, extra=chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00"))
    assert decode_plain_png(with_exif, LIMIT) is None
    interlaced = bytearray(handmade_png(pixels, "RGB", 0))
    interlaced[28] = 1
    assert decode_plain_png(bytes(interlaced), LIMIT) is None


def test_damaged_pixel_data_is_refused_clearly() -> None:
    pixels = sample("RGBA", 64, 64)
    data = bytearray(handmade_png(pixels, "RGBA", 1))
    start = data.index(b"IDAT") + 4
    data[start + 40 : start + 60] = bytes(20)  # garbage in the deflate stream, chunk CRC left stale
    with pytest.raises(InputError, match="truncated or damaged|damaged"):
        decode_image(bytes(data))
    short = handmade_png(pixels[:10], "RGBA", 1)
    header_says_more = short[:20] + struct.pack(">I", 64) + short[24:]  # IHDR claims 64 rows
    with pytest.raises(InputError):
        decode_image(header_says_more)
