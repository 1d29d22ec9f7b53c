"""Boxes and marks on a picture, shared by the preprocessing (one digit) and the segmentation (a
number): the two stages must agree on what one mark of ink is."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (half-open) in the picture's pixels

# A pen's diagonal step joins pixels at their corners: marks are 8-connected.
_EIGHT = np.ones((3, 3), dtype=bool)


def marks(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The separate marks of ink in a boolean mask: an int32 label image (0 background) and their count."""
    labels, count = ndimage.label(mask, structure=_EIGHT)
    return labels, int(count)


def union(boxes: Iterable[Box]) -> Box:
    listed = list(boxes)
    return (
        min(b[0] for b in listed),
        min(b[1] for b in listed),
        max(b[2] for b in listed),
        max(b[3] for b in listed),
    )
