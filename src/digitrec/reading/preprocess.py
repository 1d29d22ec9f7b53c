"""Pure preprocessing (no I/O): any drawing or photo of a digit -> an MNIST-style 28x28 input.

The road, shared by training, evaluation and serving:
  decode -> ink map (grayscale, auto-inverted, background 0) -> crop to the ink -> stroke width
  brought into MNIST's range -> fit 20x20 keeping the aspect ratio (anti-aliased) -> paste into
  28x28 with the centre of mass at (14, 14), as MNIST itself was made.
MNIST digits go through it nearly unchanged (tests check this), so a model trained on MNIST sees
the same kind of image whether it comes from the test set or from a person's canvas.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from digitrec.errors import EmptyDrawingError, InputError
from digitrec.reading.geometry import marks, union

SIZE = 28
BOX = 20
# Measured on the MNIST test set (index coordinates): mean centre of mass (13.99, 14.01).
CENTER = 14.0
# Stroke width (2 * area / boundary, ink > 0.5) of MNIST digits inside their 20-px box:
# 5th percentile 2.05 px, median 2.66 px, 95th percentile 4.10 px.
# Only clear outliers are changed: with [1.5, 5.5] 98.6% of MNIST test digits pass unchanged
# and the cnn reads the test set through this road at 99.65% (99.68% directly).
STROKE_TARGET = 2.7
STROKE_MIN, STROKE_MAX = 1.5, 5.5
# Work resolution for stroke normalisation: big enough to be precise, small enough to be fast.
WORK_SIDE = 80
NOISE_FLOOR = 0.1
# Scans and photos: paper is never one flat grey. Its grain and the sensor's noise are measured
# on the paper's side of the picture's grey levels (`_noise_level`); ink must stand NOISE_SIGMAS
# of it above the paper, or it is grain (a picture whose darkest pixel does not is blank paper).
# Uneven light (a phone's shadow, a scanner's falloff) is a plane through the paper's level on
# the four sides, taken off when it spans more than GRADIENT grey levels.
NOISE_SIGMAS = 5.0
NOISE_SAMPLE = 4096
GRADIENT = 8
# Specks (dust, a stray dot of the pen, grain the floor missed) outside the digit: marks under
# SPECK_SHARE of the largest mark's area, found on a copy at most SPECK_SIDE pixels across.
SPECK_SHARE = 0.03
SPECK_SIDE = 128
# And a mark of one pixel of that copy is a speck whatever the largest one's area: a 40-px digit
# on a 600x800 scan is 33 such pixels, so 3% of it let single grains of the paper at the far
# corners through, and the crop took the whole page (the digit came out a dot: "not a digit").
SPECK_MIN_AREA = 2
# Printed lines: a form's box round the digit, the ruled line it was written on. A straight run
# of ink across at least LINE_SPAN of the picture, with the rest of the ink clear of the edges,
# is no digit's stroke; it is taken off.
LINE_SPAN = 0.9
MAX_FILTER = 21  # largest dilation/erosion, in work pixels (a quarter of WORK_SIDE)

PREPROCESSING: dict[str, Any] = {
    "input": "float32 (N, 1, 28, 28), ink 1.0 on background 0.0",
    "steps": [
        "grayscale",
        "auto-invert to light-on-dark",
        "crop to ink",
        "stroke width to MNIST range",
        "fit 20x20 keeping aspect",
        "centre of mass at (14, 14) of 28x28",
    ],
    "box": BOX,
    "size": SIZE,
    "stroke_target": STROKE_TARGET,
}


def ink_image(image: Image.Image | np.ndarray) -> Image.Image:
    """An 8-bit image of the ink: 255 where there is ink, 0 on the background, whatever the polarity.

    A transparent background (a canvas exported as PNG, the seed's RGBA bytes) makes opacity the
    ink, whatever its colour. Otherwise the background is the border's median grey: dark digits on
    light paper and light digits on a dark canvas both come out as light-on-dark, like MNIST.
    Full-size work stays in C (numpy reductions, Pillow's conversion and 256-entry lookup table)
    because it runs on every pixel of every request.
    """
    if isinstance(image, np.ndarray):
        pixels = _as_pixels(image)
        if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
            alpha = pixels[..., -1]
            if int(alpha.min()) < 252:
                return Image.fromarray(np.ascontiguousarray(alpha)).point(_ink_table(0, 255))
        picture = Image.fromarray(pixels)
    else:
        picture = _as_picture(image)
        if picture.mode == "P" and "transparency" in picture.info:
            picture = picture.convert("RGBA")
        if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
            alpha_band = picture.getchannel("A")
            if int(alpha_band.getextrema()[0]) < 252:  # type: ignore[arg-type]
                return alpha_band.point(_ink_table(0, 255))
    gray = picture if picture.mode == "L" else picture.convert("L")
    levels = np.asarray(gray)
    border = _border(levels)
    background = _median_level(border)
    # A border of one grey is a clean canvas (the API's own strokes rendering among them): no
    # grain, no shadow to measure, which saves a tenth of a millisecond on every drawing.
    clean = int(border.min()) == int(border.max())
    paper = background >= 128  # dark ink on light paper: a scan, a photo, a form
    darkest, brightest = int(levels.min()), int(levels.max())
    flattened = _without_gradient(levels, background, darkest) if paper and not clean else None
    if flattened is not None:
        gray, levels = Image.fromarray(flattened), flattened
        background = _median_level(_border(levels))
        darkest = int(levels.min())
    noise = 0.0 if clean else _noise_level(levels, paper)
    full_ink = darkest if paper else brightest
    floor = max(NOISE_FLOOR, NOISE_SIGMAS * noise / max(abs(full_ink - background), 1))
    ink = gray.point(_ink_table(background, full_ink, round(floor * 1000)))
    # Printed lines are on paper; light-on-dark pictures are canvases (the API's own strokes
    # rendering among them), where a digit drawn edge to edge must keep its strokes.
    return _without_lines(ink) if paper else ink


def _without_lines(ink: Image.Image) -> Image.Image:
    """The ink with printed lines taken off: runs across LINE_SPAN of the picture's width or
    height, found on a copy at most SPECK_SIDE pixels across (a line a little askew still
    holds one run there), erased over the full picture in the blocks the copy found them in."""
    if min(ink.size) < 32:  # a tiny picture is one digit cropped, not a form
        return ink
    # A printed line is solid ink: its blocks are inked however they are averaged.
    small, factor = _reduced_mask(ink, every_pixel=False)
    rows, cols = small.shape
    if min(rows, cols) < 8:  # a long strip (32 x 4096): no box, and too few pixels across to tell
        return ink
    # Grown one pixel up and down (left and right), so a line that steps a row is one run.
    tall, wide = small.copy(), small.copy()
    tall[1:] |= small[:-1]
    tall[:-1] |= small[1:]
    wide[:, 1:] |= small[:, :-1]
    wide[:, :-1] |= small[:, 1:]
    lines = (_long_runs(tall, int(LINE_SPAN * cols)) | _long_runs(wide.T, int(LINE_SPAN * rows)).T) & small
    # Only when the rest stands clear of the picture's edges: a digit in a box or on a ruled
    # line has a margin; one cropped tight touches the edges, and its own strokes (a 7's bar, a
    # 1) span the picture. And only when the rest is a digit's worth of ink, not what a 1 or an 8
    # left of itself.
    rest = small & ~lines
    if not lines.any() or rest.sum() < 0.25 * lines.sum() or _touches_edges(rest):
        return ink
    full = np.repeat(np.repeat(lines, factor, axis=0), factor, axis=1)[: ink.height, : ink.width]
    pixels = np.array(ink)
    pixels[full] = 0
    return Image.fromarray(pixels)


def _border(levels: np.ndarray) -> np.ndarray:
    return np.concatenate([levels[0], levels[-1], levels[:, 0], levels[:, -1]])


def _noise_level(levels: np.ndarray, paper: bool) -> float:
    """The grain of the paper (or canvas) in grey levels, from the pixels on the far side from
    the ink: for dark ink, the picture's 85th and 95th percentiles, 0.61 standard deviations
    apart in Gaussian grain. Both lie in the paper unless ink covers most of the picture (a
    digit cropped tight covers a third); 0 for a clean canvas. On a sample of NOISE_SAMPLE pixels;
    not measured (0) on pictures under 32 pixels a side, where a stroke may fill most of it (a 1
    cropped tight is 4 x 20)."""
    if min(levels.shape) < 32:
        return 0.0
    step = max(1, int(np.sqrt(levels.size / NOISE_SAMPLE)))
    sample = levels[::step, ::step]
    low, high = _level_at(sample, 0.85, 0.95) if paper else _level_at(sample, 0.05, 0.15)
    return (high - low) / 0.609


def _without_gradient(levels: np.ndarray, background: int, darkest: int) -> np.ndarray | None:
    """The picture with its plane of light taken off, or None when the light is even enough
    (nearly always: a canvas, a scan). The plane runs through the paper's level on each side of
    the border (their 75th percentiles: strokes that reach a side do not darken it), and it is
    believed only when every side is nearer the paper than the ink (a side darker than that is
    a stroke along it, a 7's bar in a tight crop, not a shadow)."""
    rows, cols = levels.shape
    if rows < 32 or cols < 32:
        return None
    (left,), (right,) = _level_at(levels[:, 0], 0.75), _level_at(levels[:, -1], 0.75)
    (top,), (bottom,) = _level_at(levels[0], 0.75), _level_at(levels[-1], 0.75)
    slope_x, slope_y = right - left, bottom - top
    if abs(slope_x) + abs(slope_y) <= GRADIENT or min(left, right, top, bottom) <= (background + darkest) / 2:
        return None
    across = np.rint(slope_x * (np.arange(cols) / max(cols - 1, 1) - 0.5)).astype(np.int16)
    down = np.rint(slope_y * (np.arange(rows) / max(rows - 1, 1) - 0.5)).astype(np.int16)
    flat = levels.astype(np.int16) - across[None, :]
    flat -= down[:, None]
    return np.clip(flat, 0, 255).astype(np.uint8)


def _touches_edges(ink: np.ndarray) -> bool:
    """Whether a mark of the digit's size reaches the picture's edge (specks and grain there do
    not count: SPECK_SHARE of the largest mark); True for no ink at all."""
    labels, count = marks(ink)
    if count == 0:
        return True
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    edges = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return bool((areas[edges[edges > 0]] >= SPECK_SHARE * areas[1:].max()).any())


def _long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    """The pixels of `mask` in runs of at least `length` along its rows (a binary opening by a
    1 x length line, from running sums: 0.1 ms where scipy's opening took 3)."""
    rows, cols = mask.shape
    if length > cols or int(mask.sum(axis=1).max()) < length:  # no row holds that much ink
        return np.zeros_like(mask)
    running = np.concatenate([np.zeros((rows, 1), dtype=np.int32), np.cumsum(mask, axis=1, dtype=np.int32)], axis=1)
    full = (running[:, length:] - running[:, :-length]) == length  # windows starting at each column
    starts = np.concatenate([np.zeros((rows, 1), dtype=np.int32), np.cumsum(full, axis=1, dtype=np.int32)], axis=1)
    # Column x is covered when a full window starts in [x - length + 1, x].
    x = np.arange(cols)
    first, last = np.clip(x - length + 1, 0, full.shape[1]), np.clip(x + 1, 0, full.shape[1])
    return np.asarray(starts[:, last] - starts[:, first] > 0)


def _level_at(levels: np.ndarray, *shares: float) -> list[int]:
    """The grey levels under which each of `shares` of `levels` lie (percentiles of 8-bit
    levels, by counting them once)."""
    counts = np.cumsum(np.bincount(levels.ravel(), minlength=256))
    return [int(level) for level in np.searchsorted(counts, np.asarray(shares) * (levels.size - 1), side="right")]


def _median_level(levels: np.ndarray) -> int:
    """np.median of 8-bit levels (the mean of the two middle ones for an even count), by counting."""
    counts = np.cumsum(np.bincount(levels, minlength=256))
    low = int(np.searchsorted(counts, (levels.size - 1) // 2, side="right"))
    high = int(np.searchsorted(counts, levels.size // 2, side="right"))
    return int((low + high) / 2)


@functools.lru_cache(maxsize=4096)
def _ink_table(background: int, full_ink: int, floor_permille: int = round(NOISE_FLOOR * 1000)) -> list[int]:
    """Lookup table: grey level -> ink 0-255, scaled so `full_ink` is 255, ink under the floor
    (in thousandths of the contrast) removed."""
    span = full_ink - background or 1
    table = []
    for level in range(256):
        ink = min(max((level - background) / span, 0.0), 1.0)
        table.append(0 if ink < floor_permille / 1000 else round(ink * 255))
    return table


def _as_picture(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        array = np.asarray(image.convert("F"), dtype=np.float32)
        return Image.fromarray((array * (255.0 / max(float(array.max()), 1.0))).astype(np.uint8))
    return image


def _as_pixels(image: np.ndarray) -> np.ndarray:
    """(H, W) grey, (H, W, 2) grey + alpha or (H, W, 3|4) colour, as uint8 (no copy if it is)."""
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (2, 3, 4))):
        raise InputError(f"pixels must be (H, W) grayscale or (H, W, 3|4) colour, got shape {list(image.shape)}")
    if image.dtype == np.uint8:
        return image
    return np.clip(image, 0, 255).astype(np.uint8)


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise EmptyDrawingError("nothing drawn: the image has no ink on it")
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: for a stroke of width w and length L, area ~ wL and its
    boundary has ~2L pixels, so w ~ 2 * area / boundary."""
    mask = ink > 0.5
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    # Padded, so that ink touching the edge of a tight crop has a boundary there too.
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    inner = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    boundary = area - int(np.count_nonzero(inner))
    return 2.0 * area / max(boundary, 1)


def _resize(ink: np.ndarray, width: int, height: int) -> np.ndarray:
    # Pillow widens its filter when it shrinks, so BILINEAR here is a proper anti-aliased
    # (triangle) downscale, without the ringing LANCZOS would add around strokes.
    return np.asarray(
        Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32
    )


def normalize_stroke(ink: np.ndarray) -> np.ndarray:
    """Bring the stroke width into MNIST's range, measured as it will be inside the 20-px box.

    A thin pen on a big canvas would otherwise shrink to faint 1-px lines, a fat brush on a small
    digit to a blob; MNIST's own digits (width 2.1-4.1 px) are left alone.
    """
    side = max(ink.shape)
    scale = BOX / side
    width = stroke_width(ink) * scale
    if STROKE_MIN <= width <= STROKE_MAX or width == 0:
        return ink
    # Morphology in the 20-px box's units would be too coarse; work at a finer resolution.
    work = ink
    if side > WORK_SIDE:
        factor = WORK_SIDE / side
        work = _resize(ink, max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
        work = np.clip(work / max(float(work.max()), 1e-6), 0, 1)
    work_scale = BOX / max(work.shape)
    grow = (STROKE_TARGET - width) / work_scale  # in work pixels; negative: thinner
    # Capped: the filter's cost grows with its size, and no real stroke needs more than this.
    size = min(2 * int(round(abs(grow) / 2)) + 1, MAX_FILTER)
    if size < 3:
        return work
    # scipy's square max/min filters are separable (one pass along rows, one along columns), so
    # their cost does not grow with the square of the size as Pillow's rank filter's does (a
    # 31-px window on 80x80: 0.07 ms against 28 ms); the results are the same, edges replicated.
    if grow > 0:
        # Pad first, so the thickened strokes are not cut at the crop's edge.
        padded = np.pad(work, size // 2).astype(np.float32, copy=False)
        return ndimage.maximum_filter(padded, size=size, mode="nearest")
    thinned = ndimage.minimum_filter(work.astype(np.float32, copy=False), size=size, mode="nearest")
    # Never erase a digit: keep the original where thinning would remove most of the ink.
    return thinned if (thinned > 0.5).sum() >= 0.25 * (work > 0.5).sum() else work


def fit_box(ink: np.ndarray, box: tuple[int, int] = (BOX, BOX)) -> np.ndarray:
    """Scale to fit `box` (height, width), keeping the aspect ratio: a digit's longer side to 20 px."""
    height, width = ink.shape
    scale = min(box[0] / height, box[1] / width)
    resized = _resize(ink, max(1, round(width * scale)), max(1, round(height * scale)))
    peak = float(resized.max())
    return np.clip(resized / peak, 0.0, 1.0) if peak > 0 else resized


def center_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so that the centre of mass lands on (14, 14), as in MNIST."""
    height, width = digit.shape
    total = float(digit.sum(dtype=np.float64))
    cy = float(digit.sum(axis=1, dtype=np.float64) @ np.arange(height)) / total
    cx = float(digit.sum(axis=0, dtype=np.float64) @ np.arange(width)) / total
    top = min(max(round(CENTER - cy), 0), SIZE - height)
    left = min(max(round(CENTER - cx), 0), SIZE - width)
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    canvas[top : top + height, left : left + width] = digit
    return canvas


def preprocess(image: Image.Image | np.ndarray) -> np.ndarray:
    """Any picture of one digit -> float32 (28, 28), ink 1 on background 0, MNIST-style."""
    ink = ink_image(image)
    box = ink.getbbox()  # in C: finding the ink of a full-size canvas is most of the work
    if box is None:
        raise EmptyDrawingError("nothing drawn: the image has no ink on it")
    return preprocess_ink(np.asarray(ink.crop(without_specks(ink, box))))


def without_specks(ink: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box of the digit's ink, specks outside it left out: the marks of at least SPECK_SHARE
    of the largest one's area, and any mark that reaches into their box (a 5's bar, a smiley's
    eyes), found on a copy reduced to at most SPECK_SIDE pixels so the cost stays small."""
    small, factor = _reduced_mask(ink.crop(box))
    if small.any(axis=0).all() and small.any(axis=1).all():
        # No empty row or column across the crop: every mark overlaps the others' rows and
        # columns, none lies away from the digit (the usual drawing; 0.2 ms of labelling saved).
        return box
    labels, count = marks(small)
    if count < 2:
        return box
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = [(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels)]
    least = max(SPECK_SHARE * areas.max(), SPECK_MIN_AREA)
    kept = [b for b, area in zip(boxes, areas, strict=True) if area >= least] or boxes
    x0, y0, x1, y1 = union(kept)
    kept = [b for b in boxes if b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0]
    if len(kept) == count:
        return box
    x0, y0, x1, y1 = union(kept)
    left, top, right, bottom = box
    return (
        left + x0 * factor,
        top + y0 * factor,
        min(right, left + x1 * factor),
        min(bottom, top + y1 * factor),
    )


_INKED = [0] + [255] * 255  # lookup table: any ink is full ink


def _reduced_mask(ink: Image.Image, every_pixel: bool = True) -> tuple[np.ndarray, int]:
    """Where `ink` has ink, on a copy at most SPECK_SIDE pixels across, and the side of the block
    of the picture each of its pixels stands for. `every_pixel`: made black and white first, so
    that a faint pixel alone in its block still counts (averaged, it would round to nothing)."""
    factor = -(-max(ink.size) // SPECK_SIDE)
    inked = ink.point(_INKED) if every_pixel else ink
    return np.asarray(inked.reduce(factor) if factor > 1 else inked) > 0, factor


def reduce_to_work(ink: np.ndarray) -> np.ndarray:
    """The one reduction every road takes: crop to the ink, shrink to at most WORK_SIDE px with
    a BOX filter (each work pixel the mean of the pixels it covers), peak scaled to 1.

    uint8 ink (a picture's, 0-255) and float ink (0-1) give the same result up to 8-bit rounding,
    so a digit cut out of a whole number is reduced exactly as the same digit drawn alone."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise EmptyDrawingError("nothing drawn: the image has no ink on it")
    crop = np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    picture = Image.fromarray(crop) if crop.dtype == np.uint8 else Image.fromarray(crop.astype(np.float32), mode="F")
    side = max(picture.size)
    if side > WORK_SIDE:
        factor = WORK_SIDE / side
        size = (max(1, round(picture.width * factor)), max(1, round(picture.height * factor)))
        picture = picture.resize(size, Image.Resampling.BOX)
    array = np.asarray(picture, dtype=np.float32)
    peak = float(array.max())
    if peak == 0:
        raise EmptyDrawingError("nothing drawn: the image has no ink on it")
    return array / peak


def preprocess_ink(ink: np.ndarray) -> np.ndarray:
    """Ink (H, W) of one digit, uint8 0-255 or float 0-1 (a picture's ink, or one digit of a
    segmented number) -> the 28x28 model input."""
    return center_by_mass(fit_box(normalized_crop(ink)))


def normalized_crop(ink: np.ndarray) -> np.ndarray:
    """Ink reduced to the working size, its stroke width normalised, cropped to the ink: what a
    digit's input (and the pair reader's, pairs.py) is fitted from."""
    work = crop_to_ink(reduce_to_work(ink))
    normalized = normalize_stroke(work)
    if normalized is not work:  # most drawings need no change, and then are still cropped
        work = crop_to_ink(normalized)
    return work


def mnist_to_input(images: np.ndarray) -> np.ndarray:
    """uint8 MNIST images (N, 28, 28) -> model input (N, 1, 28, 28) float32 in [0, 1]."""
    return (np.asarray(images, dtype=np.float32) / 255.0).reshape(-1, 1, SIZE, SIZE)
