"""The pair reader's input and data (pairs.py), and how the number reader takes its readings."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.learning import pieces
from digitrec.learning.data import PenDigit
from digitrec.learning.pieces import pair_images
from digitrec.reading.inference import DigitReading
from digitrec.reading.numbers import Hypothesis, PairHypothesis, choose, pair_marks
from digitrec.reading.pairs import NOT_A_PAIR, PAIR_HEIGHT, PAIR_WIDTH, pair_digits, pair_input
from digitrec.reading.segment import Atom, Page


def test_a_wide_mark_is_fitted_into_the_pair_picture_with_its_aspect_kept() -> None:
    ink = np.zeros((100, 300), dtype=np.uint8)
    ink[20:80, 10:290] = 255  # a bar three times wider than tall
    picture = pair_input(ink)
    assert picture.shape == (PAIR_HEIGHT, PAIR_WIDTH) and picture.dtype == np.float32
    assert picture.min() >= 0.0 and picture.max() == 1.0
    rows, columns = np.flatnonzero(picture.any(axis=1)), np.flatnonzero(picture.any(axis=0))
    assert columns.size >= 50 and rows.size <= 20  # fitted to the width, not stretched to the height


def test_pair_pictures_are_touching_pairs_and_single_digits(pendigits: list[PenDigit]) -> None:
    images, labels = pair_images(pendigits[:200], 60, seed=3)
    assert images.shape == (60, PAIR_HEIGHT, PAIR_WIDTH) and images.dtype == np.uint8
    assert (images.reshape(60, -1).max(axis=1) == 255).all()
    singles = labels == NOT_A_PAIR
    assert 0 < singles.sum() < 30 and ((labels >= 0) & (labels <= NOT_A_PAIR)).all()
    again, same = pair_images(pendigits[:200], 60, seed=3)
    assert (again == images).all() and (same == labels).all()  # the seed decides


def test_pair_pictures_are_drawn_half_with_thin_pens_half_thick_and_singles_wider(
    pendigits: list[PenDigit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pair reader learns people's felt pens too (pieces.THICK_PENS), and wide single digits as
    no pair; the cnn's own pieces keep MNIST's pens."""
    drawn: list[tuple[int, tuple[float, float], float]] = []

    def recording(digits, rng, touching=False, pens=pieces.PIECE_PENS):  # type: ignore[no-untyped-def]
        composed = real(digits, rng, touching, pens)
        widths = [float(np.ptp(np.concatenate([np.asarray(s) for s in d])[:, 0])) for d in digits]
        drawn.append((len(digits), pens, widths[0]))
        return composed

    real = pieces.compose_number
    monkeypatch.setattr(pieces, "compose_number", recording)
    digits = pendigits[:200]
    _, labels = pair_images(digits, 200, seed=4)
    pens = [p for _, p, _ in drawn]
    assert set(pens) == {pieces.PIECE_PENS, pieces.THICK_PENS}
    assert 60 <= pens.count(pieces.THICK_PENS) <= 140
    singles = [width for count, _, width in drawn if count == 1]
    assert len(singles) == (labels == NOT_A_PAIR).sum() and 40 <= len(singles) <= 80
    written = max(float(np.ptp(np.concatenate(d.strokes)[:, 0])) for d in digits)
    assert max(singles) > written  # some singles drawn wider than any was written
    drawn.clear()
    pieces.reader_pieces(digits, 5, seed=0)
    assert {p for _, p, _ in drawn} == {pieces.PIECE_PENS}


def test_a_pair_reading_gives_each_digit_its_own_probabilities() -> None:
    probabilities = np.zeros(NOT_A_PAIR + 1, dtype=np.float32)
    probabilities[98], probabilities[93], probabilities[NOT_A_PAIR] = 0.6, 0.2, 0.2
    left, right = pair_digits(probabilities)
    assert left.argmax() == 9 and right.argmax() == 8
    assert np.isclose(left.sum(), 1) and np.isclose(right[8], 0.75) and np.isclose(right[3], 0.25)


def test_the_reader_takes_a_confident_pair_over_a_merged_mark_it_cannot_read() -> None:
    ink = np.zeros((40, 80), dtype=np.uint8)
    ink[5:35, 5:75] = 255
    labels = (ink > 0).astype(np.int32)
    page = Page(ink, [Atom((5, 5, 75, 35), 0, label=1)], 30.0, labels=labels)
    assert pair_marks(page) == [(0, 1)]
    merged = DigitReading(np.full(10, 0.1, dtype=np.float32), True, True, rejection=0.99)  # "not a digit"
    pair = np.zeros(NOT_A_PAIR + 1, dtype=np.float32)
    pair[47] = 0.97
    pair[NOT_A_PAIR] = 0.03
    found = [Hypothesis(0, 1, (5, 5, 75, 35), ink[5:35, 5:75])]
    reading = choose(page, found, [merged], [PairHypothesis(0, 1, (5, 5, 75, 35), pair)])
    assert reading.text == "47" and not reading.left_out
    assert reading.digits[0].box[2] <= reading.digits[1].box[0]  # left half, then right half
    # Without the pair reader the mark is left out as no digit.
    assert choose(page, found, [merged]).text == ""
