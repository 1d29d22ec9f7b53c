"""Pure segmentation (no I/O): a drawing of a whole number -> one ink crop per digit, left to right.

Connected components first; the parts of one digit (the two strokes of a 4, the flag of a 5, a
dot) are merged when they share most of their columns; a component far wider than a digit is split
at the columns where the ink is thinnest, so that touching digits are read one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitrec.errors import EmptyDrawingError

INK_THRESHOLD = 0.2
# Digits are taller than wide: a "0" is about 0.7 of its height; wider than this is two digits.
MAX_DIGIT_ASPECT = 1.15
# A column with at most this share of the component's typical column ink is a joint between digits.
VALLEY = 0.6
MIN_PART_AREA = 0.01  # of the largest part: smaller specks are noise


@dataclass
class Segment:
    box: tuple[int, int, int, int]  # x, y, width, height in the drawing's pixels
    ink: np.ndarray  # the digit's ink alone, cropped to its box


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _parts(mask: np.ndarray) -> list[np.ndarray]:
    """Boolean masks of the 8-connected components, specks removed."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return []
    areas = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    keep = [i + 1 for i, area in enumerate(areas) if area >= MIN_PART_AREA * areas.max()]
    return [labels == index for index in keep]


def _columns(part: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(part.any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1


def _rows(part: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(part.any(axis=1))
    return int(rows[0]), int(rows[-1]) + 1


def merge_parts(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Merge parts whose column ranges overlap by half the narrower one: one digit, several strokes."""
    groups = [part.copy() for part in parts]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = _columns(groups[i]), _columns(groups[j])
                narrower = min(a[1] - a[0], b[1] - b[0])
                if _overlap(a, b) >= 0.5 * narrower:
                    groups[i] |= groups.pop(j)
                    merged = True
                    break
            if merged:
                break
    return groups


def attach_fragments(groups: list[np.ndarray]) -> list[np.ndarray]:
    """A part much shorter than the digits around it (a 5's detached flag, a broken stroke) joins
    the nearest group, when it lies close to it."""
    heights = [_rows(g)[1] - _rows(g)[0] for g in groups]
    typical = float(np.median(heights))
    changed = True
    while changed and len(groups) > 1:
        changed = False
        for index, group in enumerate(groups):
            top, bottom = _rows(group)
            if bottom - top >= 0.45 * typical:
                continue
            left, right = _columns(group)
            distances = []
            for other_index, other in enumerate(groups):
                if other_index != index:
                    o_left, o_right = _columns(other)
                    distances.append((max(0, o_left - right, left - o_right), other_index))
            gap, nearest = min(distances)
            if gap <= 0.5 * typical:
                groups[nearest] = groups[nearest] | group
                groups.pop(index)
                changed = True
                break
    return groups


def split_wide(part: np.ndarray, height_hint: int) -> list[np.ndarray]:
    """Split a component wider than one digit where its ink is thinnest (touching digits).

    Only at a real valley: a wide 0 has two strokes at its middle columns, a joint between two
    digits about one; and never into a sliver narrower than a third of the digit's height.
    """
    left, right = _columns(part)
    top, bottom = _rows(part)
    height = max(bottom - top, height_hint)
    width = right - left
    if width <= MAX_DIGIT_ASPECT * height:
        return [part]
    profile = part[:, left:right].sum(axis=0).astype(float)
    typical = float(np.median(profile[profile > 0]))
    margin = int(0.35 * height)
    count = max(2, round(width / (0.75 * height)))
    cuts: list[int] = []
    for k in range(1, count):
        centre = k * width / count
        low = max(int(centre - 0.3 * width / count), margin, (cuts[-1] + margin) if cuts else 0)
        high = min(int(centre + 0.3 * width / count) + 1, width - margin)
        if high <= low:
            continue
        cut = low + int(np.argmin(profile[low:high]))
        if profile[cut] <= VALLEY * typical:
            cuts.append(cut)
    pieces = []
    edges = [0, *cuts, width]
    for start, stop in zip(edges, edges[1:], strict=False):
        piece = np.zeros_like(part)
        piece[:, left + start : left + stop] = part[:, left + start : left + stop]
        if piece.any():
            pieces.append(piece)
    return pieces


def segment(ink: np.ndarray) -> list[Segment]:
    """Ink map (H, W) in [0, 1] -> the digits in it, left to right."""
    mask = ink > INK_THRESHOLD
    parts = _parts(mask)
    if not parts:
        raise EmptyDrawingError("nothing drawn: the image has no ink on it")
    groups = attach_fragments(merge_parts(parts))
    tallest = max(_rows(g)[1] - _rows(g)[0] for g in groups)
    digits = [piece for group in groups for piece in split_wide(group, int(0.6 * tallest))]
    digits.sort(key=lambda piece: _columns(piece)[0])
    segments = []
    for piece in digits:
        (left, right), (top, bottom) = _columns(piece), _rows(piece)
        # Dilate the mask a little so the anti-aliased edge of the strokes stays with the digit.
        region = ndimage.binary_dilation(piece, iterations=2)[top:bottom, left:right]
        segments.append(Segment((left, top, right - left, bottom - top), ink[top:bottom, left:right] * region))
    return segments
