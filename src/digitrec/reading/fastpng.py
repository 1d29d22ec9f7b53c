"""Decode plain PNGs fast: the largest single cost of a request is inflating a canvas PNG.

A 280x280 canvas PNG is ~3 kB of deflate that inflates to 314 kB of scanlines; zlib takes
0.45 ms for that, libdeflate 0.04 ms. libspng (pyspng) unfilters quickly but inflates with its
own zlib and takes no raw scanlines, so the scanlines inflated by libdeflate are handed back to
it wrapped as *stored* (uncompressed) deflate blocks, which it copies instead of inflating.
The result is the same pixels as libspng alone, in 0.17 ms instead of 0.45 ms (BENCHMARKS.md).

Only what this decodes exactly is taken: 8-bit, non-interlaced, grey/RGB/RGBA, no palette, no
tRNS or eXIf chunk. Anything else returns None and goes to Pillow.
"""

from __future__ import annotations

import struct

import numpy as np

from digitrec.errors import InputError, TooLargeError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type -> samples per pixel and libspng's output format. Grey + alpha (4) is not here:
# libspng 0.7 refuses to output it, so such PNGs go to Pillow.
CHANNELS = {0: 1, 2: 3, 6: 4}
FORMATS = {0: "L", 2: "RGB", 6: "RGBA"}
STORED_BLOCK = 65_535  # the largest stored deflate block
ZLIB_HEADER = b"\x78\x01"  # deflate, 32 kB window, no dictionary, header check bits valid


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) as a PNG's header declares them, from its first 33 bytes; (0, 0) for
    anything else."""
    if len(data) < 33 or not data.startswith(SIGNATURE) or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return 0, 0
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def decode_plain_png(data: bytes, max_pixels: int) -> np.ndarray | None:
    """(H, W) or (H, W, C) uint8 pixels, or None when the PNG is not one this decodes."""
    width, height = png_size(data)
    if width == 0 or height == 0:  # not a PNG, or an empty one: Pillow says which
        return None
    if width * height > max_pixels:
        raise TooLargeError(f"the image is {width}x{height} pixels; at most {max_pixels:,} pixels are accepted")
    depth, colour, interlace = data[24], data[25], data[28]
    if depth != 8 or colour not in CHANNELS or interlace:
        return None
    try:
        import deflate
        import pyspng
    except ImportError:
        return None
    compressed = _image_data(data)
    if compressed is None:
        return None
    expected = height * (1 + width * CHANNELS[colour])  # each scanline starts with its filter byte
    try:
        scanlines = deflate.zlib_decompress(compressed, expected)
    except deflate.DeflateError:
        return None  # damaged, or an oddity libdeflate refuses: Pillow decides and says which
    if len(scanlines) != expected:
        return None
    try:
        pixels: np.ndarray = pyspng.load(_png_with_stored_data(data[:33], scanlines), FORMATS[colour])
    except RuntimeError as exc:  # libspng reports every decoding failure as a plain RuntimeError
        raise InputError(f"the image is damaged ({exc}); send the whole file") from exc
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels


def _image_data(data: bytes) -> bytes | None:
    """The concatenated IDAT payloads; None for anything unusual (a chunk this decoder must not
    ignore, a truncated file), which Pillow then decodes or reports."""
    parts = []
    position = 33  # after the signature and the IHDR chunk
    end = len(data)
    while position + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, position)
        start = position + 8
        if start + length + 4 > end:
            return None
        if kind == b"IDAT":
            parts.append(data[start : start + length])
        elif kind == b"IEND":
            break
        elif kind in (b"tRNS", b"PLTE", b"eXIf") or not kind[:1].islower():
            # Transparency, a palette, an EXIF rotation or an unknown critical chunk: Pillow's job.
            return None
        position = start + length + 4
    return b"".join(parts) if parts else None


def _png_with_stored_data(header: bytes, raw: bytes | bytearray) -> bytes:
    """A PNG of `header` (signature + IHDR) and one IDAT chunk holding `raw` in stored
    (uncompressed) deflate blocks, built with a single copy of the scanlines."""
    import deflate

    pieces: list[bytes | memoryview] = [ZLIB_HEADER]
    view = memoryview(raw)
    for offset in range(0, len(raw), STORED_BLOCK):
        block = view[offset : offset + STORED_BLOCK]
        last = offset + STORED_BLOCK >= len(raw)
        pieces += [struct.pack("<BHH", last, len(block), len(block) ^ 0xFFFF), block]
    pieces.append(struct.pack(">I", deflate.adler32(raw)))
    crc = deflate.crc32(b"IDAT")
    for piece in pieces:
        crc = deflate.crc32(piece, crc)
    length = sum(len(piece) for piece in pieces)
    return b"".join([header, struct.pack(">I", length), b"IDAT", *pieces, struct.pack(">I", crc), IEND])


IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
