"""Input adapters: the forms a drawing arrives in (image bytes, base64, strokes, the seed's RGBA
bytes) turned into a picture that `preprocess` reads. All I/O-shaped work lives here, so that
`preprocess.py` stays pure arrays in, arrays out.

Every adapter works within a `Budget`, checked before the work it bounds: one request must not be
able to take a worker's CPU or memory from everyone else (`python -m benchmarks worst-case`
measures what the costliest accepted request costs).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from digitrec.errors import EmptyDrawingError, InputError, TooLargeError, UnsupportedFormatError
from digitrec.reading.fastpng import decode_plain_png

# What the API documents. Pillow would open about forty formats, some through external programs
# (EPS through Ghostscript), some with decoders nobody needs here; only these plugins are tried.
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
FORMAT_NAMES = "PNG, JPEG, WebP, BMP or GIF"
# One ImageDraw call costs about what painting 16 rows does (1.6 us on the machine measured).
CALL_ROWS = 16


@dataclass(frozen=True)
class Budget:
    """The most one drawing may cost to decode or render; each limit is checked before the work.

    Measured on a 2-core AMD EPYC (BENCHMARKS.md, worst case): decode + preprocess of a 2 Mpx
    lossy WebP of noise took 74 ms, so at most 1 Mpx (1024x1024) is decoded now, about 40 ms at
    worst; 4096x4096 took 440-680 ms and 130 MB.
    """

    # Pixels an image may declare. JPEGs above `max_decoded_pixels` are decoded at 1/2, 1/4 or
    # 1/8 scale (libjpeg's DCT scaling, nearly free), so a phone photo is still read.
    max_pixels: int = 4096 * 4096
    # Pixels actually decoded: every other format decodes at full size, so this bounds the cost.
    max_decoded_pixels: int = 1024 * 1024
    # Each scan of a JPEG is a full pass over the image: 27k tiny scans in 1 MB took 32 s.
    # Progressive JPEGs from cameras and browsers have 10 or fewer.
    max_jpeg_scans: int = 32
    # What a JPEG's decode costs: libjpeg's entropy decoder visits every 8x8 block of each
    # component in each scan, at full size whatever the output scale (`jpeg_cost`), about 33 ns a
    # block here plus ~23 ns a byte of entropy data. 3.5 million keeps libjpeg within ~165 ms for
    # any body under 2 MB: a 4096x4096 progressive photo (4:2:0, 10 scans: 2.1 M) is read, a
    # progressive CMYK one (18 scans: 6.3 M, 200-250 ms) is refused.
    max_jpeg_block_passes: int = 3_500_000
    # PNG chunks: the first filter against a file of thousands of chunks that Pillow reads one
    # by one (2,000 iCCP chunks, each inflating to 1 MB, took 4.3 s). Encoders write one IDAT per
    # 8-64 kB and a handful of ancillary chunks; Pillow inflates iCCP, zTXt and iTXt.
    max_png_chunks: int = 1_000
    max_png_ancillary: int = 64
    max_png_compressed: int = 4
    # Strokes: the canvas side, the points in all strokes, the pen as a fraction of the canvas.
    max_side: int = 4096
    max_points: int = 5_000
    max_line_fraction: float = 0.25
    # Strokes on a bigger canvas are drawn scaled down to this side: preprocessing reduces the
    # ink to 80 px and then 20 px anyway, and the work and memory of drawing grow with the area.
    render_side: int = 1024
    # Rows of pen to paint (segment lengths plus pen widths, at the rendering scale): what the
    # drawing costs (~0.1 us a row). A digit drawn on a 280-px canvas paints about 15,000.
    max_ink_rows: int = 200_000


BUDGET = Budget()

# A JPEG marker in entropy-coded data: 0xFF not followed by a stuffed 0x00 or a restart marker.
JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def decode_image(data: bytes, max_pixels: int | None = None, *, budget: Budget = BUDGET) -> Image.Image | np.ndarray:
    """Decode PNG/JPEG/WebP/BMP/GIF bytes; refuse what is not one of them or is over the budget.

    `max_pixels` overrides `budget.max_pixels` (the size an image may declare). Plain PNGs (what
    canvases export) come back as uint8 arrays from the fast decoder; the rest as Pillow images in
    a mode `preprocess` reads (1, L, LA, P, PA, RGB, RGBA).
    """
    declared_limit = budget.max_pixels if max_pixels is None else max_pixels
    fast = decode_fast(data, declared_limit, budget)
    if fast is not None:
        return fast
    precheck(data, budget)
    image = _open(data)
    try:
        _check_size(image, declared_limit, budget)
        image.load()  # the first frame only: animated GIF/WebP/APNG frames after it are never decoded
    except InputError:  # our own refusals, raised before decoding
        raise
    except Image.DecompressionBombError as exc:
        raise TooLargeError("the image has too many pixels to decode safely; send a smaller one") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"the image is truncated or damaged ({exc}); send the whole file") from exc
    # Photos from phones carry their rotation in EXIF; apply it so the digit is upright.
    return _readable_mode(ImageOps.exif_transpose(image) or image)


def decode_fast(data: bytes, declared_limit: int, budget: Budget = BUDGET) -> np.ndarray | None:
    """The one decode run outside the box: a plain PNG (what canvases export), or None.

    Its cost is bounded by the budget, whatever the bytes: the chunk walk is linear in the body,
    at most max_decoded_pixels (1 Mpx, 4 bytes each) are inflated by libdeflate, which stops at
    the expected size, and libspng unfilters exactly those scanlines (a 1 Mpx RGBA PNG of noise:
    a few ms). Anything else (palette, interlace, 16-bit, odd chunks) goes to the box."""
    if not data:
        raise InputError(f"the image is empty: send the bytes of a {FORMAT_NAMES} file")
    return decode_plain_png(data, min(declared_limit, budget.max_decoded_pixels))


def _open(data: bytes) -> Image.Image:
    """Identify the format (headers only, nothing decoded yet) among the accepted ones."""
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        other = other_format(data)
        if other:
            raise UnsupportedFormatError(
                f"the file is a {other} image, a format not accepted here: send a {FORMAT_NAMES} file"
            ) from exc
        raise InputError(f"this is not an image: send a {FORMAT_NAMES} file") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own check, at twice its 89 Mpx limit
        raise TooLargeError(f"the image has far too many pixels ({exc}); send a smaller one") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"the image header is damaged ({exc}); send the whole file") from exc


def other_format(data: bytes) -> str | None:
    """The name of another format Pillow knows these bytes as, from their first 16 bytes only
    (each plugin's magic-number check, the first step of Image.open): nothing is parsed."""
    Image.init()
    prefix = data[:16].ljust(16, b"\0")  # some checks unpack a fixed-size header: never short
    for name, (_, accept) in Image.OPEN.items():
        try:
            if name not in FORMATS and accept is not None and accept(prefix):
                return str(name)
        except Exception:  # noqa: BLE001 - a plugin's magic check choking on odd bytes means "not it"
            continue
    return None


def _check_size(image: Image.Image, declared_limit: int, budget: Budget) -> None:
    width, height = image.size
    if width * height > declared_limit:
        raise TooLargeError(f"the image is {width}x{height} pixels; at most {declared_limit:,} pixels are accepted")
    if image.format == "JPEG" and width * height > budget.max_decoded_pixels:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale by dropping DCT coefficients: the
        # cheapest reduction there is, and preprocessing works at 80 px anyway.
        factor = next(f for f in (2, 4, 8) if (width // f) * (height // f) <= budget.max_decoded_pixels or f == 8)
        image.draft(image.mode, (width // factor, height // factor))
        width, height = image.size
    if width * height > budget.max_decoded_pixels:
        raise TooLargeError(
            f"the image is {width}x{height} pixels; at most {budget.max_decoded_pixels:,} are decoded "
            "(a JPEG may be larger: it is decoded at a reduced size); send a smaller image"
        )


def precheck(data: bytes, budget: Budget = BUDGET) -> None:
    """The cheap first filter, on the bytes alone (nothing is inflated or decoded): too many PNG
    chunks, a JPEG of too many scans or 8x8 blocks to decode, an RLE-compressed BMP. Its cost is bounded by the caps it
    checks (each walk stops past its cap). The box's hard limits bound the decode whatever this
    lets through."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        png_chunks(data, budget)
    elif data.startswith(b"\xff\xd8"):
        jpeg_within_budget(data, budget)
    elif data.startswith(b"BM") and bmp_compression(data) in (1, 2):
        # Pillow decodes RLE8/RLE4 BMPs in pure Python, a call per run (1-pixel runs: 0.29 s);
        # no canvas or phone writes them.
        raise UnsupportedFormatError(
            "RLE-compressed BMPs are not accepted: save the image as PNG or as an uncompressed BMP"
        )


def bmp_compression(data: bytes) -> int | None:
    """A BMP's compression method (0 none, 1 RLE8, 2 RLE4...), from a Windows info header."""
    if len(data) < 34 or int.from_bytes(data[14:18], "little") < 40:
        return None  # the old OS/2 header holds no compression field
    return int.from_bytes(data[30:34], "little")


def png_chunks(data: bytes, budget: Budget = BUDGET) -> None:
    """Refuse a PNG with more chunks than an encoder writes; walks at most the caps' count."""
    chunks = ancillary = compressed = 0
    position, end = 8, len(data)
    while position + 8 <= end:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        chunks += 1
        if kind[:1].islower():
            ancillary += 1
            compressed += kind in (b"iCCP", b"zTXt", b"iTXt")
        if chunks > budget.max_png_chunks or ancillary > budget.max_png_ancillary:
            raise TooLargeError(
                f"the PNG has more than {budget.max_png_chunks} chunks or {budget.max_png_ancillary} ancillary "
                "ones (metadata); save it again without metadata"
            )
        if compressed > budget.max_png_compressed:
            raise TooLargeError(
                f"the PNG has more than {budget.max_png_compressed} compressed metadata chunks "
                "(iCCP, zTXt, iTXt); save it again without metadata"
            )
        if kind == b"IEND":
            return
        position += 12 + length


def jpeg_within_budget(data: bytes, budget: Budget) -> None:
    cost = jpeg_cost(data, budget.max_jpeg_scans)
    if cost.markers > MAX_JPEG_MARKERS:
        raise TooLargeError(
            f"the JPEG holds more than {MAX_JPEG_MARKERS:,} markers (a photo has a few dozen); send the picture again"
        )
    if cost.scans > budget.max_jpeg_scans:
        raise TooLargeError(
            f"the JPEG has more than {budget.max_jpeg_scans} scans (each one a pass over the whole image); "
            "save it again as a baseline or ordinary progressive JPEG"
        )
    if cost.blocks > budget.max_jpeg_block_passes:
        raise TooLargeError(
            f"the JPEG is too costly to decode: its {cost.scans} scans hold {cost.blocks / 1e6:.1f} million 8x8 "
            f"blocks, at most {budget.max_jpeg_block_passes / 1e6:.1f} million are decoded; send it smaller, "
            "or saved again as a baseline JPEG"
        )


# Start-of-frame markers (every coding process; not DHT 0xC4, JPG 0xC8 or DAC 0xCC); the
# lossless ones code sample by sample, not in 8x8 blocks.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
LOSSLESS_SOF = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
MAX_JPEG_COMPONENTS = 10  # libjpeg's MAX_COMPONENTS: a frame with more is an error there
# Markers walked before the walk gives up: a photo has a few dozen (an ICC profile in 64 kB
# pieces, a few hundred); 2 MB of two-byte markers would otherwise cost the walk 0.15 s.
MAX_JPEG_MARKERS = 4_096
FILL_BYTES = re.compile(rb"\xff+")


class JpegCost(NamedTuple):
    scans: int  # counted up to the walk's limit + 1
    blocks: int  # 8x8 blocks decoded over all scans (a lossless frame: samples / 64)
    markers: int  # markers walked, up to MAX_JPEG_MARKERS + 1


@dataclass(frozen=True)
class JpegFrame:
    """A start-of-frame header: the picture's size and each component's id and sampling."""

    width: int
    height: int
    components: tuple[tuple[int, int, int], ...]  # (id, h, v) in the header's order
    lossless: bool

    @classmethod
    def parse(cls, marker: int, segment: bytes) -> JpegFrame:
        """From the segment after its length: precision, height, width, count, then each
        component's id, sampling factors and table."""
        if len(segment) < 6:
            return cls(0, 0, (), False)
        count = min(segment[5], MAX_JPEG_COMPONENTS)
        fields = [segment[6 + 3 * i : 9 + 3 * i] for i in range(count) if len(segment) >= 9 + 3 * i]
        return cls(
            int.from_bytes(segment[3:5], "big"),
            int.from_bytes(segment[1:3], "big"),
            tuple((f[0], f[1] >> 4, f[1] & 15) for f in fields),
            marker in LOSSLESS_SOF,
        )

    def scan_blocks(self, ids: bytes) -> int:
        """The blocks libjpeg decodes for a scan of these components. Each id is the first
        component of that id, as libjpeg's get_sos finds it. One component is decoded in its
        own blocks; several, in whole MCUs (padded at the right and bottom edges)."""
        chosen = [next((c for c in self.components if c[0] == i), None) for i in ids]
        found = [c for c in chosen if c is not None]
        if not found:
            return 0
        h_max = max(c[1] for c in self.components) or 1
        v_max = max(c[2] for c in self.components) or 1
        if len(found) == 1:
            _, h, v = found[0]
            blocks = _up(_up(self.width * h, h_max), 8) * _up(_up(self.height * v, v_max), 8)
        else:
            blocks = _up(self.width, 8 * h_max) * _up(self.height, 8 * v_max) * sum(h * v for _, h, v in found)
        return blocks * 64 if self.lossless else blocks


def _up(a: int, b: int) -> int:
    """a / b rounded up."""
    return -(-a // b)


def jpeg_cost(data: bytes, limit: int) -> JpegCost:
    """What decoding a JPEG costs, from its markers as libjpeg reads them: no pixel is decoded.
    libjpeg's entropy decoder visits every block of each component a scan holds, at full size
    whatever the scale it outputs (a progressive CMYK 4096x4096 in 18 scans: 6.3 million blocks,
    200 ms). Scans are counted up to `limit + 1`. A damaged file or a second frame header stops
    the walk (libjpeg then reports it), and so do more than MAX_JPEG_MARKERS markers. A first
    filter only: the box's CPU limit bounds a decode whatever this says."""
    scans, blocks, markers, position, end = 0, 0, 0, 2, len(data)
    frame: JpegFrame | None = None
    while position + 4 <= end and scans <= limit and markers <= MAX_JPEG_MARKERS:
        if data[position] != 0xFF:
            # libjpeg's next_marker() skips any bytes up to the next 0xFF (it only warns of
            # "extraneous bytes"): so must the count, or one junk byte hides every scan after it.
            position = data.find(b"\xff", position)
            if position < 0:
                break
            continue
        # Fill bytes before a marker, skipped at once; data[position] is 0xFF, so this matches.
        position = FILL_BYTES.match(data, position).end() - 1  # type: ignore[union-attr]
        if position + 4 > end:
            break
        marker = data[position + 1]
        markers += 1
        if marker == 0xD9:  # end of image
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment_start, position = position + 4, position + 2 + length
        if marker in SOF_MARKERS:
            if frame is not None:
                break  # a second frame header: libjpeg refuses the file
            frame = JpegFrame.parse(marker, data[segment_start:position])
        elif marker == 0xDA:
            scans += 1
            segment = data[segment_start:position]
            ids = segment[1 : 1 + 2 * segment[0] : 2] if segment else b""
            blocks += frame.scan_blocks(ids) if frame is not None else 0
            found = JPEG_MARKER.search(data, position)  # skip the scan's entropy-coded data
            if found is None:
                break
            position = found.start()
    return JpegCost(scans, blocks, markers)


def _readable_mode(image: Image.Image) -> Image.Image:
    """One of the modes `preprocess` reads. Accepted formats give these already, except CMYK
    JPEGs and 16-bit PNGs; the rest is here so that no decoder's output can reach it unread."""
    if image.mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA"):
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Deep greys scaled by their own maximum: a 16-bit scan and a float map alike.
        levels = np.nan_to_num(np.asarray(image.convert("F"), dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        levels = np.clip(levels, 0.0, None)
        peak = float(levels.max()) or 1.0
        return Image.fromarray(np.round(levels * (255.0 / peak)).astype(np.uint8))
    if image.mode == "LAB":
        return image.getchannel("L")  # lightness: what a grey picture of the digit would show
    try:
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (ValueError, OSError) as exc:
        raise UnsupportedFormatError(
            f"images in {image.mode} mode cannot be read; send an RGB or grey {FORMAT_NAMES} image"
        ) from exc


def base64_bytes(text: str) -> bytes:
    """The file in a data URL (data:image/png;base64,...) or in bare base64 text."""
    if text.startswith("data:"):
        header, comma, payload = text.partition(",")
        if not comma:
            raise InputError("`image` is a data URL without a comma: send data:image/png;base64,<base64 of the file>")
    else:
        payload = text
    try:
        # Strict decoding, so that garbage is reported as such rather than silently dropped.
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("`image` is not valid base64 or a data URL") from exc
    return data


def render_strokes(
    strokes: Sequence[Sequence[Sequence[float]]],
    width: int,
    height: int,
    line_width: float | None = None,
    *,
    budget: Budget = BUDGET,
) -> np.ndarray:
    """Draw strokes (lists of [x, y] points, canvas pixels) as a white-on-black uint8 image.

    The image is the canvas at `stroke_scale(width, height)`: full size up to
    `budget.render_side`, scaled down beyond (the same ink shape, fewer pixels).
    """
    _check_canvas(width, height, line_width, budget)
    total = sum(len(stroke) for stroke in strokes)
    if total == 0:
        raise EmptyDrawingError("nothing drawn: `strokes` holds no points")
    if total > budget.max_points:
        raise TooLargeError(f"`strokes` has {total:,} points; at most {budget.max_points:,} are accepted")
    scale = stroke_scale(width, height, budget)
    line = (float(line_width) if line_width else default_pen(width, height)) * scale
    points, starts = _points(strokes)
    # Points closer than a quarter of the pen (or half a pixel) to the last one kept change the
    # ink by less than that: dropped, so that a densely sampled stroke costs what its shape costs.
    with np.errstate(over="ignore", invalid="ignore"):  # points 1e308 apart: `_ink_rows` refuses them
        points, starts = _thinned(points * scale, starts, max(0.5, line / 4))
        rows = _ink_rows(points, starts, line)
    if rows > budget.max_ink_rows:
        raise TooLargeError(
            f"the strokes would paint {rows:,} rows of pen; at most {budget.max_ink_rows:,} are drawn: "
            "send fewer or shorter strokes, or a thinner pen"
        )
    picture = Image.new("L", rendered_size(width, height, budget), 0)
    draw_strokes(picture, np.split(points, starts[1:]), line / 2, 255)
    return np.asarray(picture, dtype=np.uint8)


def draw_strokes(picture: Image.Image, strokes: Sequence[np.ndarray], radius: float, fill: int) -> None:
    """Strokes ((n, 2) points in the picture's pixels) with a pen of `radius`, with round caps and
    joins, as a canvas draws them with lineCap = "round"."""
    draw = ImageDraw.Draw(picture)
    for stroke in strokes:
        points = [tuple(point) for point in stroke.tolist()]
        if len(points) > 1:
            draw.line(points, fill=fill, width=max(1, round(2 * radius)))
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def default_pen(width: float, height: float) -> float:
    """The pen of a drawing that names none: a sixteenth of the canvas's longer side, the
    page's own pen on its 280-px pad (what MNIST's strokes are to its 28 px)."""
    return max(width, height) / 16


def stroke_scale(width: float, height: float, budget: Budget = BUDGET) -> float:
    """The scale `render_strokes` draws a width x height canvas at (1.0 up to `render_side`):
    multiply canvas coordinates by it to find them in the rendered image, divide to go back."""
    return min(1.0, budget.render_side / max(width, height, 1))


def rendered_size(width: float, height: float, budget: Budget = BUDGET) -> tuple[int, int]:
    """The (width, height) of the image `render_strokes` draws a width x height canvas on."""
    scale = stroke_scale(width, height, budget)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_canvas(width: float, height: float, line_width: float | None, budget: Budget) -> None:
    if not (1 <= width <= budget.max_side and 1 <= height <= budget.max_side):
        raise TooLargeError(
            f"the canvas is {width}x{height} pixels; `width` and `height` must be from 1 to {budget.max_side}"
        )
    widest = budget.max_line_fraction * max(width, height)
    if line_width is not None and not (math.isfinite(line_width) and 0 < line_width <= widest):
        raise InputError(
            f"`line_width` is {line_width}; it must be more than 0 and at most {budget.max_line_fraction:g} "
            f"of the canvas ({widest:g} px here)"
        )


def _points(strokes: Sequence[Sequence[Sequence[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """All points as one (N, 2) array, and the index where each non-empty stroke starts."""
    lengths = np.array([len(stroke) for stroke in strokes if len(stroke)], dtype=np.int64)
    try:
        points = np.asarray([point for stroke in strokes for point in stroke], dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError("each stroke point must be [x, y] with finite numbers") from exc
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise InputError("each stroke point must be [x, y] with finite numbers")
    return points, np.concatenate(([0], np.cumsum(lengths)[:-1]))


def _thinned(points: np.ndarray, starts: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Of each stroke, its ends and the points that enter a new cell of a `tolerance` grid."""
    cells = np.floor(points / tolerance)
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.any(cells[1:] != cells[:-1], axis=1)
    keep[starts] = True
    keep[np.append(starts[1:] - 1, len(points) - 1)] = True
    kept_before = np.cumsum(keep) - keep  # the new index of each stroke's first point
    return points[keep], kept_before[starts]


def _ink_rows(points: np.ndarray, starts: np.ndarray, line: float) -> int:
    """Rows of pen Pillow paints: each segment's length plus the pen width (its polygon), each
    point's round cap (its disc), and for each point what a call costs whatever its size."""
    within = np.ones(len(points), dtype=bool)
    within[starts] = False  # a stroke's first point has no segment to the one before
    lengths = float(np.hypot(*(points[1:] - points[:-1]).T)[within[1:]].sum())
    pen = max(1.0, line)
    segments = int(within.sum())
    rows = lengths + pen * segments + (pen + CALL_ROWS) * len(points)
    # Finite points can be infinitely far apart (1e308 from -1e308): that is over any budget.
    return int(rows) if math.isfinite(rows) and rows < 2**62 else 2**62


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
