"""Omniglot's pen strokes, read from the archive as its README describes them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from digitrec.learning.drawings import to_input
from digitrec.learning.omniglot import (
    ALPHABETS,
    LOOKALIKES,
    OmniglotDrawing,
    load_omniglot,
    parse_strokes,
    resolve_omniglot_dir,
)
from digitrec.learning.rejection import omniglot_drawing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def drawings() -> list[OmniglotDrawing]:
    folder = resolve_omniglot_dir()
    if not (folder / "strokes.tar.gz").is_file():
        folder = ROOT.parent / "shared" / "datasets" / "omniglot"
    return load_omniglot(folder)


def test_the_readmes_counts(drawings: list[OmniglotDrawing]) -> None:
    assert len(drawings) == 3060
    characters = {(d.alphabet, d.character) for d in drawings}
    assert len(characters) == 153
    per_alphabet = Counter(alphabet for alphabet, _ in characters)
    assert per_alphabet == {"Balinese": 24, "Korean": 40, "Sanskrit": 42, "Japanese_(katakana)": 47}
    assert tuple(sorted(per_alphabet)) == ALPHABETS
    drawers = Counter((d.alphabet, d.character) for d in drawings)
    assert set(drawers.values()) == {20}
    assert {d.drawer for d in drawings} == set(range(1, 21))


def test_lookalikes_are_the_readmes_and_one_more(drawings: list[OmniglotDrawing]) -> None:
    readme = {
        "Balinese": {5, 14},
        "Korean": {5, 21, 22, 27, 33, 37},
        "Sanskrit": {5, 12, 13, 14, 18, 36, 37},
        "Japanese_(katakana)": {1, 8, 13, 24, 27, 32, 37, 38, 43},
    }
    for alphabet, numbers in readme.items():
        assert set(LOOKALIKES[alphabet]) == numbers | ({46} if alphabet.startswith("Japanese") else set())
    assert sum(d.lookalike for d in drawings) == 25 * 20


def test_y_grows_downwards_as_on_a_page() -> None:
    strokes = parse_strokes("START\n1.0,-2.0,0\n3.0,-4.0,10\nBREAK\n5.0,-6.0,20\n")
    assert [s.tolist() for s in strokes] == [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0]]]


def test_a_circle_renders_as_a_zero_would(drawings: list[OmniglotDrawing]) -> None:
    """Korean 33 is a circle: through the strokes road it is a ring with an empty middle."""
    circle = next(d for d in drawings if d.alphabet == "Korean" and d.character == 33)
    image = to_input(omniglot_drawing(circle, np.random.default_rng(0)))
    assert image.shape == (28, 28)
    assert image[12:16, 12:16].mean() < 0.2 < image.max()
