"""Two touching digits read as one: the pair reader's input and the pairs it learns from.

A picture of a number has no pen lifts, so where two digits touch or interlock (a 9's tail under
the 8 beside it, a 6 written into a 4) no cut from top to bottom parts them, and the digit model
either calls the merged mark "not a digit" or misreads a slice of it. The classic remedy is a
holistic reader of touching pairs: one network that reads the whole mark as one of the 100 pairs
"00"-"99", or as NOT_A_PAIR (one digit alone). The number reader (`numbers.py`) offers that
reading beside its cuts, and its dynamic programme chooses.

The input is the mark's ink, cropped, its stroke width normalised as a digit's is
(`preprocess.normalized_crop`, as a digit's), scaled to fit PAIR_BOX with its aspect kept and centred in a
PAIR_HEIGHT x PAIR_WIDTH picture (a pair is about twice as wide as a digit). What it learns from
is made in `learning/pieces.py` (`pair_images`).
"""

from __future__ import annotations

import numpy as np

from digitrec.reading.preprocess import fit_box, normalized_crop

PAIR_HEIGHT, PAIR_WIDTH = 28, 56
PAIR_BOX = (24, 52)  # height, width the ink is fitted into
NOT_A_PAIR = 100


def pair_input(ink: np.ndarray) -> np.ndarray:
    """Ink (H, W) of one mark, uint8 0-255 or float 0-1 -> the pair reader's (28, 56) float32 input."""
    fitted = fit_box(normalized_crop(ink), PAIR_BOX)
    canvas = np.zeros((PAIR_HEIGHT, PAIR_WIDTH), dtype=np.float32)
    top, left = (PAIR_HEIGHT - fitted.shape[0]) // 2, (PAIR_WIDTH - fitted.shape[1]) // 2
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return canvas


def pair_digits(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A pair reading's (101,) probabilities -> each digit's (10,) probabilities, given a pair."""
    grid = probabilities[:NOT_A_PAIR].reshape(10, 10) / max(float(probabilities[:NOT_A_PAIR].sum()), 1e-12)
    return grid.sum(axis=1).astype(np.float32), grid.sum(axis=0).astype(np.float32)
