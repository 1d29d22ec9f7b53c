"""Numbers written with people's pen strokes, and the pieces the number reader makes of them.

`compose_number` lays writers' digits side by side as a person writes a number (varied size,
baseline and spacing, some pairs touching). `reader_pieces` then runs the reader's own
segmentation (`segment.py`, `numbers.hypotheses`) on such numbers, by both roads (strokes and
pixels), and labels every candidate piece by whose ink it holds: one digit's, or a fragment of
one, or parts of two. Fragments and merged pairs are class 10, "not a digit": a model trained on
MNIST's single, whole digits otherwise reads half a 0 as a 1 or "19" as a 9 with confidence, and
the reader cannot tell those readings from right ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from digitrec.learning.data import PenDigit
from digitrec.learning.drawings import NOT_A_DIGIT, bounds
from digitrec.reading.decode import render_strokes
from digitrec.reading.numbers import Hypothesis, hypotheses, page_of
from digitrec.reading.pairs import NOT_A_PAIR, PAIR_HEIGHT, PAIR_WIDTH, pair_input
from digitrec.reading.preprocess import ink_image, preprocess_ink
from digitrec.reading.segment import Page, dense_points

StrokeList = list[list[list[float]]]

# A piece holding this share of one digit's ink, and little ink of others, is that digit.
WHOLE = 0.9
FOREIGN = 0.08
# Parts of two digits: at least this share of the second one's ink.
MERGED = 0.3
# A fragment: under this share of any one digit's ink, nearly all of it from that digit. A bare
# stroke (far narrower than tall) is left unlabelled: alone it is a 1, and the 4's stem is one.
FRAGMENT = 0.4
BARE_STROKE = 0.35  # width / height
# Pen widths against the digits' height. The reader's pieces keep MNIST's range (and with it
# the shipped cnn's recipe). The pair reader learns half of its pictures so, and half with the
# felt pens on small digits that people use too (the 2-40 px pens on 20-300 px numbers
# reach 0.35 of the height): a thick pen is where digits touch most, and a picture has no strokes
# to redraw thinner. Every pen uniform in 0.04-0.35 read numbers of MNIST digits, whose pen is
# thin, worse (docs/models.md).
PIECE_PENS = (0.04, 0.15)
THICK_PENS = (0.15, 0.35)
THICK_SHARE = 0.5  # of the pair reader's pictures


def _contact_shift(left: np.ndarray, right: np.ndarray, reach: float) -> float:
    """How far right of where it is `right` must stay so that no centre-line point comes within
    `reach` of `left`: sliding it in from the right, the shift of first contact."""
    dy = right[None, :, 1] - left[:, None, 1]
    close = np.abs(dy) < reach
    if not close.any():
        return -np.inf
    dx = left[:, None, 0] - right[None, :, 0] + np.sqrt(np.maximum(reach**2 - dy**2, 0))
    return float(dx[close].max())


def compose_number(
    digits: Sequence[Sequence[np.ndarray]],
    rng: random.Random,
    touching: bool = False,
    pens: tuple[float, float] = PIECE_PENS,
) -> tuple[StrokeList, int, int, float]:
    """Strokes of a number written left to right: each digit a writer's strokes (y down), at a
    size, baseline and spacing that vary as a person's do, with one pen for the number (`pens`:
    the range of its width against the height, within 2-40 px, so a number over 114 px tall gets
    less than 0.35 of it). With `touching`, the first two digits touch or overlap by up to half a
    pen.

    Returns the API's strokes fields: strokes, width, height, line_width."""
    height = rng.uniform(30, 200)
    pen = min(40.0, max(2.0, height * rng.uniform(*pens)))
    placed: list[list[np.ndarray]] = []
    right_edge = 0.0
    for index, digit in enumerate(digits):
        strokes = [np.asarray(s, dtype=np.float64) for s in digit]
        low, high = bounds(strokes)
        size = height * rng.uniform(0.85, 1.1)
        scale = size / max(high[1] - low[1], 1e-6)
        lift = rng.uniform(0, 0.2) * height  # a wandering baseline
        strokes = [(s - low) * scale + [0.0, lift] for s in strokes]
        if placed:
            previous = dense_points(placed[-1], max(1.0, pen / 4))
            here = dense_points(strokes, max(1.0, pen / 4))
            if touching and index == 1:
                shift = _contact_shift(previous, here, pen * rng.uniform(0.5, 1.0))
            else:
                gap = rng.uniform(0.08, 0.5) * height
                shift = max(right_edge + gap, _contact_shift(previous, here, pen * 1.6))
            strokes = [s + [shift, 0.0] for s in strokes]
        placed.append(strokes)
        right_edge = max(right_edge, max(float(s[:, 0].max()) for s in strokes))
    margin = pen + 10
    everything = [s for strokes in placed for s in strokes]
    low, high = bounds(everything)
    moved = [(s - low + margin).round(1).tolist() for s in everything]
    width, tall = int(high[0] - low[0] + 2 * margin), int(high[1] - low[1] + 2 * margin)
    return moved, width, tall, round(pen, 1)


def pages(strokes: StrokeList, width: int, height: int, pen: float) -> list[Page]:
    """The reader's two roads to a number, as `/api/read` takes them: its strokes, and a
    picture of it (dark on light, as a photo or a saved canvas is). `compose_number`'s lines are
    under `numbers.LINE_MAX`, so `/api/read` draws them at this size too."""
    picture = render_strokes(strokes, width, height, pen)
    by_strokes, _ = page_of(np.asarray(ink_image(picture)), strokes, (width, height), pen)
    by_pixels, _ = page_of(np.asarray(ink_image(255 - picture)))
    return [by_strokes, by_pixels]


def piece_label(piece: Hypothesis, owners: np.ndarray, totals: np.ndarray, labels: Sequence[int]) -> int | None:
    """A digit, NOT_A_DIGIT (a fragment, or parts of two digits), or None (neither clearly).
    `owners` is (digits, H, W): each digit's own ink; `totals` its pixel counts."""
    x0, y0, x1, y1 = piece.box
    own = piece.ink > 0
    size = int(own.sum())
    if size == 0:
        return None
    held = (owners[:, y0:y1, x0:x1] & own).reshape(len(owners), -1).sum(axis=1)
    coverage = held / np.maximum(totals, 1)
    order = np.argsort(-coverage)
    first = int(order[0])
    second = int(order[1]) if len(order) > 1 else None
    foreign = 1.0 - held[first] / size
    if coverage[first] >= WHOLE and foreign <= FOREIGN:
        return int(labels[first])
    if second is not None and coverage[second] >= MERGED:
        return NOT_A_DIGIT
    if coverage[first] < FRAGMENT and foreign <= 2 * FOREIGN and (x1 - x0) >= BARE_STROKE * (y1 - y0):
        return NOT_A_DIGIT
    return None


def digit_owners(digits: Sequence[PenDigit], strokes: StrokeList, width: int, height: int, pen: float) -> np.ndarray:
    """Each digit's ink in the picture the number is drawn on, (digits, H, W) bool."""
    masks, start = [], 0
    for digit in digits:
        own = strokes[start : start + len(digit.strokes)]
        start += len(digit.strokes)
        masks.append(render_strokes(own, width, height, pen) > 0)
    return np.stack(masks)


def reader_pieces(digits: Sequence[PenDigit], numbers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (uint8 (N, 28, 28)) and labels of the pieces the reader makes of `numbers`
    numbers of 2-4 of these digits (half of them with a touching pair): every fragment and merged
    pair, and whole digits picked at random, at most as many."""
    rng = random.Random(seed)
    negatives: list[np.ndarray] = []
    positives: list[tuple[np.ndarray, int]] = []
    for _ in range(numbers):
        chosen = [rng.choice(digits) for _ in range(rng.randint(2, 4))]
        drawn = compose_number([d.strokes for d in chosen], rng, touching=rng.random() < 0.5)
        owners = digit_owners(chosen, *drawn)
        totals = owners.reshape(len(owners), -1).sum(axis=1)
        labels = [d.label for d in chosen]
        for page in pages(*drawn):
            # Cut from the page's ink, as the shipped cnn learned them (2026-12-07): the stroke
            # road has read its digits redrawn with MNIST's pen since (`Page.digit_ink`), and
            # the recipe's next model should learn them so (redraw=True).
            for piece in hypotheses(page, redraw=False):
                label = piece_label(piece, owners, totals, labels)
                if label == NOT_A_DIGIT:
                    negatives.append(preprocess_ink(piece.ink))
                elif label is not None:
                    positives.append((piece.ink, label))
    kept = rng.sample(positives, min(len(positives), len(negatives)))
    inputs = negatives + [preprocess_ink(ink) for ink, _ in kept]
    images = np.stack(inputs) if inputs else np.zeros((0, 28, 28))
    labels_out = np.array([NOT_A_DIGIT] * len(negatives) + [label for _, label in kept], dtype=np.int64)
    return np.round(images * 255).astype(np.uint8), labels_out


# The pair reader (reading/pairs.py) learns from the training writers' digits composed as
# touching pairs, drawn as a picture and read back through `ink_image`, as /api/read reads an upload.
SINGLES = 0.3  # share of the training pictures that are one digit alone (NOT_A_PAIR)
# A single digit may be written wide (MNIST has 5s and 0s 1.4 times as wide as tall), and a pair
# reader that learned thick pens read such a 5 as "55" unless it also saw singles drawn wider.
SINGLE_WIDER = 1.7


def _picture_ink(
    digits_strokes: Sequence[Sequence[np.ndarray]], rng: random.Random, touching: bool, pens: tuple[float, float]
) -> np.ndarray:
    strokes, width, height, pen = compose_number(digits_strokes, rng, touching, pens)
    return np.asarray(ink_image(255 - render_strokes(strokes, width, height, pen)))


def pair_images(digits: Sequence[PenDigit], count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` pictures (uint8 (N, 28, 56)) and labels: touching pairs of `digits` (label 10 a + b)
    and, SINGLES of them, one digit alone (NOT_A_PAIR), drawn up to SINGLE_WIDER times wider than
    written; THICK_SHARE of them with a thick pen (THICK_PENS), the rest a thin one (PIECE_PENS)."""
    rng = random.Random(seed)
    images = np.zeros((count, PAIR_HEIGHT, PAIR_WIDTH), dtype=np.uint8)
    labels = np.zeros(count, dtype=np.int64)
    for index in range(count):
        if rng.random() < SINGLES:
            wider = np.array([rng.uniform(1.0, SINGLE_WIDER), 1.0])
            strokes = [[np.asarray(s) * wider for s in rng.choice(digits).strokes]]
            labels[index] = NOT_A_PAIR
        else:
            chosen = [rng.choice(digits), rng.choice(digits)]
            strokes = [list(d.strokes) for d in chosen]
            labels[index] = 10 * chosen[0].label + chosen[1].label
        pens = PIECE_PENS if rng.random() < 1 - THICK_SHARE else THICK_PENS
        images[index] = np.round(pair_input(_picture_ink(strokes, rng, True, pens)) * 255)
    return images, labels
