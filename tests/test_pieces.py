"""The number reader's pieces as training data: labelled by whose ink they hold."""

from __future__ import annotations

import random

import numpy as np

from digitrec.learning.data import HELD_OUT_WRITERS, PenDigit
from digitrec.learning.drawings import NOT_A_DIGIT
from digitrec.learning.pieces import compose_number, digit_owners, pages, piece_label, reader_pieces
from digitrec.reading.numbers import Hypothesis, hypotheses


def owners_of_two() -> tuple[np.ndarray, np.ndarray]:
    """A 20x40 digit at columns 0-39 and another at 40-79, on a 20x80 picture."""
    owners = np.zeros((2, 20, 80), dtype=bool)
    owners[0, :, :40] = True
    owners[1, :, 40:] = True
    return owners, owners.reshape(2, -1).sum(axis=1)


def piece(x0: int, x1: int, blank: bool = False) -> Hypothesis:
    return Hypothesis(0, 1, (x0, 0, x1, 20), np.full((20, x1 - x0), 0 if blank else 255, dtype=np.uint8))


def test_a_piece_is_labelled_by_whose_ink_it_holds() -> None:
    owners, totals = owners_of_two()
    assert piece_label(piece(0, 40), owners, totals, [3, 8]) == 3  # one digit, whole
    assert piece_label(piece(40, 80), owners, totals, [3, 8]) == 8
    assert piece_label(piece(0, 42), owners, totals, [3, 8]) == 3  # and a sliver (5%) of the next
    assert piece_label(piece(0, 60), owners, totals, [3, 8]) == NOT_A_DIGIT  # a digit and half the next
    assert piece_label(piece(0, 10), owners, totals, [3, 8]) == NOT_A_DIGIT  # a quarter of a digit
    assert piece_label(piece(0, 4), owners, totals, [3, 8]) is None  # a bare stroke: alone, a 1
    assert piece_label(piece(0, 30), owners, totals, [3, 8]) is None  # most of a digit: neither
    assert piece_label(piece(0, 40, blank=True), owners, totals, [3, 8]) is None  # no ink
    alone = owners[:1, :, :40], totals[:1]  # a number of one digit
    assert piece_label(piece(0, 40), *alone, [5]) == 5
    assert piece_label(piece(0, 10), *alone, [5]) == NOT_A_DIGIT


def test_pieces_are_what_the_reader_reads(pendigits: list[PenDigit]) -> None:
    """The reader's own candidates, by both roads, are labelled: for a touching pair, at least one
    merged piece; every digit is found whole on the strokes road."""
    writers = [d for d in pendigits if d.writer not in HELD_OUT_WRITERS]
    chosen = writers[:3]
    strokes, width, height, pen = compose_number([d.strokes for d in chosen], random.Random(3), touching=True)

    owners = digit_owners(chosen, strokes, width, height, pen)
    totals = owners.reshape(len(owners), -1).sum(axis=1)
    by_strokes, by_pixels = pages(strokes, width, height, pen)
    found = [piece_label(h, owners, totals, [d.label for d in chosen]) for h in hypotheses(by_strokes)]
    assert {d.label for d in chosen} <= set(found)
    assert NOT_A_DIGIT in found
    assert any(piece_label(h, owners, totals, [d.label for d in chosen]) is not None for h in hypotheses(by_pixels))


def test_reader_pieces_are_balanced_model_inputs_and_seeded(pendigits: list[PenDigit]) -> None:
    writers = [d for d in pendigits if d.writer not in HELD_OUT_WRITERS][:200]
    images, labels = reader_pieces(writers, 12, seed=4)
    again, _ = reader_pieces(writers, 12, seed=4)
    np.testing.assert_array_equal(images, again)
    assert images.dtype == np.uint8 and images.shape == (len(labels), 28, 28)
    negatives = int((labels == NOT_A_DIGIT).sum())
    # Every number has fragments and pairs, and its digits whole.
    assert negatives > 12 and len(labels) - negatives > 12
    assert set(labels.tolist()) - {NOT_A_DIGIT} <= set(range(10))
