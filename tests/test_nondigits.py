"""Generated non-digits: the kinds taught and the kinds kept for measuring never meet."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.learning.data import PenDigit
from digitrec.learning.drawings import NOT_A_DIGIT, to_input
from digitrec.learning.nondigits import (
    HELD_OUT_GLYPHS,
    HELD_OUT_KINDS,
    SYMBOLS,
    TRAINING_KINDS,
    TRAINING_LETTERS,
    digit_kinds,
    drawings_of,
    training_set,
)
from digitrec.learning.rejection import auroc


def test_training_and_held_out_kinds_do_not_overlap(pendigits: list[PenDigit]) -> None:
    taught = set(TRAINING_KINDS) | set(digit_kinds(pendigits[:10]))
    assert not taught & set(HELD_OUT_KINDS)
    # Nor do their glyphs: no held-out letter or symbol is among those taught, in any case.
    glyphs = {name.rstrip("~") for name in TRAINING_LETTERS} | set(SYMBOLS)
    assert not {g.lower() for g in glyphs} & {g.lower() for g in HELD_OUT_GLYPHS}
    assert {"T", "?", "Y", "P", "d", "%", "$", "L", "J", "u", "arrow"} <= set(HELD_OUT_KINDS)
    assert all(len(styles) >= 2 for styles in HELD_OUT_GLYPHS.values())  # several styles each


@pytest.mark.parametrize("kinds", [TRAINING_KINDS, HELD_OUT_KINDS], ids=["training", "held-out"])
def test_every_kind_draws_through_the_strokes_road(kinds: dict) -> None:  # type: ignore[type-arg]
    drawings, names = drawings_of(kinds, 3 * len(kinds), seed=3)
    again, _ = drawings_of(kinds, 3 * len(kinds), seed=3)
    assert sorted(set(names)) == sorted(kinds)
    images = np.stack([to_input(d) for d in drawings])
    assert images.shape == (len(names), 28, 28) and np.isfinite(images).all()
    assert (images.reshape(len(names), -1).max(axis=1) > 0.5).all()  # ink in every one
    np.testing.assert_array_equal(images, np.stack([to_input(d) for d in again]))  # seeded


def test_training_set_holds_non_digits_and_digits(pendigits: list[PenDigit]) -> None:
    images, labels = training_set(pendigits[:200], [], seed=0, kinds=40, digits=30)
    assert images.shape == (70, 28, 28) and images.dtype == np.uint8
    assert (labels == NOT_A_DIGIT).sum() == 40
    assert set(labels[labels != NOT_A_DIGIT]) <= set(range(10))


def test_auroc_is_the_chance_a_non_digit_scores_higher() -> None:
    assert auroc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert auroc(np.array([0.3, 0.4]), np.array([0.1, 0.2])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    assert auroc(np.array([0.1, 0.3]), np.array([0.2])) == 0.5
