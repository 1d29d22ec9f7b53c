"""Two touching digits read as one: the pair reader's input and the pairs it learns from.

A picture of a number has no pen lifts, so where two digits touch or interlock (a 9's tail under
the 8 beside it, a 6 written into a 4) no cut from top to bottom parts them, and the digit model
either calls the merged mark "not a digit" or misreads a slice of it. The classic remedy is a
holistic reader of touching pairs: one network that reads the whole mark as one of the 100 pairs
"00"-"99", or as NOT_A_PAIR (one digit alone). The number reader (`numbers.py`) offers that
reading beside its cuts, and its dynamic programme chooses.

The input is the mark's ink, cropped, its stroke width normalised as a digit's is
(`preprocess.normalized_crop`, as a digit's), scaled to fit PAIR_BOX with its aspect kept and centred in a
PAIR_HEIGHT x PAIR_WIDTH picture (a pair is about twice as wide as a digit). The pairs are the
training writers' digits composed as touching pairs by `pieces.compose_number`, drawn as a
picture and read back through `ink_image`, exactly as `/api/read` reads an upload.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from digitrec.data import PenDigit
from digitrec.decode import render_strokes
from digitrec.preprocess import fit_box, ink_image, normalized_crop

PAIR_HEIGHT, PAIR_WIDTH = 28, 56
PAIR_BOX = (24, 52)  # height, width the ink is fitted into
NOT_A_PAIR = 100
SINGLES = 0.2  # share of the training pictures that are one digit alone (NOT_A_PAIR)


def pair_input(ink: np.ndarray) -> np.ndarray:
    """Ink (H, W) of one mark, uint8 0-255 or float 0-1 -> the pair reader's (28, 56) float32 input."""
    fitted = fit_box(normalized_crop(ink), PAIR_BOX)
    canvas = np.zeros((PAIR_HEIGHT, PAIR_WIDTH), dtype=np.float32)
    top, left = (PAIR_HEIGHT - fitted.shape[0]) // 2, (PAIR_WIDTH - fitted.shape[1]) // 2
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return canvas


def _picture_ink(digits: Sequence[PenDigit], rng: random.Random, touching: bool) -> np.ndarray:
    from digitrec.pieces import compose_number  # pieces reads numbers, which reads pairs: not at import

    strokes, width, height, pen = compose_number([list(d.strokes) for d in digits], rng, touching)
    return np.asarray(ink_image(255 - render_strokes(strokes, width, height, pen)))


def pair_images(digits: Sequence[PenDigit], count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` pictures (uint8 (N, 28, 56)) and labels: touching pairs of `digits` (label 10 a + b)
    and, SINGLES of them, one digit alone (NOT_A_PAIR)."""
    rng = random.Random(seed)
    images = np.zeros((count, PAIR_HEIGHT, PAIR_WIDTH), dtype=np.uint8)
    labels = np.zeros(count, dtype=np.int64)
    for index in range(count):
        if rng.random() < SINGLES:
            chosen = [rng.choice(digits)]
            labels[index] = NOT_A_PAIR
        else:
            chosen = [rng.choice(digits), rng.choice(digits)]
            labels[index] = 10 * chosen[0].label + chosen[1].label
        images[index] = np.round(pair_input(_picture_ink(chosen, rng, touching=True)) * 255)
    return images, labels


def pair_digits(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A pair reading's (101,) probabilities -> each digit's (10,) probabilities, given a pair."""
    grid = probabilities[:NOT_A_PAIR].reshape(10, 10) / max(float(probabilities[:NOT_A_PAIR].sum()), 1e-12)
    return grid.sum(axis=1).astype(np.float32), grid.sum(axis=0).astype(np.float32)
