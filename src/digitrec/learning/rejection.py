"""How well a model knows what is not a digit, measured only on what it never trained on.

- `omniglot`: real people's characters of the alphabets a model was trained without (its
  model.json says which it saw; lookalikes left out), each alphabet on its own;
- `held-out-kinds`: the measuring-only generators of `nondigits.HELD_OUT_KINDS`; for a model that
  learned the fonts' drawings of their shapes (`nondigits.SHAPES`), measured by a model made
  without them (`--rotation`), its own figures beside them (then only the generators' styles are
  unseen);
- `scans`: MNIST test digits on a page-sized sheet, sent as PNG through the image road, and
  other test digits as small or black-and-white scans (`small_or_binary`);
and beside the share flagged at the model's operating point (`not_a_digit_above`), the AUROC of
P(not a digit) separating those non-digits from the MNIST test set's digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from digitrec.errors import DataError
from digitrec.learning.data import load_split, resolve_data_dir
from digitrec.learning.drawings import Drawing, _warp, place_on_canvas, to_input
from digitrec.learning.nondigits import HELD_OUT_KINDS, drawings_of
from digitrec.learning.omniglot import ALPHABETS, SHAPES_KEY, OmniglotDrawing, card_learned_shapes, load_omniglot
from digitrec.learning.scans import SMALL_SIDES, scan_inputs
from digitrec.reading.inference import Predictor
from digitrec.reading.preprocess import mnist_to_input

OMNIGLOT_TEST_SEED, HELD_OUT_KINDS_SEED, SCANS_SEED, SMALL_SCANS_SEED = 2028, 2029, 2030, 2031
HELD_OUT_KINDS_COUNT = 2200  # 200 of each of the 11 kinds
SCANS_COUNT = 3000  # of MNIST's test set: 70 ms each through the PNG road
SMALL_SCANS_COUNT = 3000  # the next 3,000 of the test set, small or black and white (scans.SMALL_SIDES)


def omniglot_drawing(drawing: OmniglotDrawing, rng: np.random.Generator) -> Drawing:
    """A person's character on the page's canvas, varied as `pen_digit_drawing` varies a digit."""
    return place_on_canvas(_warp(list(drawing.strokes), rng, slant=0.2, rotate=8.0), rng, min_height=0.3)


def omniglot_inputs(drawings: list[OmniglotDrawing], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([to_input(omniglot_drawing(d, rng)) for d in drawings])[:, None]


def auroc(digits: np.ndarray, others: np.ndarray) -> float:
    """P(a non-digit scores above a digit), ties counting half: the Mann-Whitney statistic."""
    ranks = rankdata(np.concatenate([digits, others]))
    others_ranks = ranks[len(digits) :].sum() - len(others) * (len(others) + 1) / 2
    return float(others_ranks / (len(digits) * len(others)))


def trained_alphabets(predictor: Predictor) -> list[str]:
    """The Omniglot alphabets a model learned from (model.json's data mix), none if it never saw any."""
    return list(getattr(predictor.card, "omniglot_alphabets", None) or [])


def _flagged(predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
    """Each input's not-a-digit score, which the model's one verdict rule thresholds."""
    return np.array([reading.rejection for reading in predictor.read(inputs)], dtype=np.float32)


def _figures(scores: np.ndarray, mnist: np.ndarray, threshold: float) -> dict[str, Any]:
    return {
        "n": int(len(scores)),
        "not_a_digit_rate": round(float((scores > threshold).mean()), 6),
        "auroc_vs_mnist_test": round(auroc(mnist, scores), 6),
        "mnist_test_flagged": round(float((mnist > threshold).mean()), 6),
        "threshold": threshold,
    }


def held_out_alphabets(predictor: Predictor, mnist_images: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per alphabet the model never saw (lookalikes left out), its figures against MNIST test."""
    held = [a for a in ALPHABETS if a not in set(trained_alphabets(predictor))]
    drawings = [d for d in load_omniglot() if d.alphabet in held and not d.lookalike]
    if not drawings:
        return {}
    scores = _flagged(predictor, omniglot_inputs(drawings, OMNIGLOT_TEST_SEED))
    mnist = _flagged(predictor, mnist_to_input(mnist_images))
    names = np.array([d.alphabet for d in drawings])
    figures = {a: _figures(scores[names == a], mnist, predictor.calibration.not_a_digit_above) for a in held}
    return {a: {**f, "model": predictor.version} for a, f in figures.items()}


def held_out_kinds(predictor: Predictor, mnist_images: np.ndarray) -> dict[str, Any]:
    """The held-out kinds' figures against MNIST test, in all and kind by kind."""
    drawings, kinds = drawings_of(HELD_OUT_KINDS, HELD_OUT_KINDS_COUNT, HELD_OUT_KINDS_SEED)
    scores = _flagged(predictor, np.stack([to_input(d) for d in drawings])[:, None])
    mnist = _flagged(predictor, mnist_to_input(mnist_images))
    threshold = predictor.calibration.not_a_digit_above
    names = np.array(kinds)
    by_kind = {k: _figures(scores[names == k], mnist, threshold) for k in HELD_OUT_KINDS}
    return {**_figures(scores, mnist, threshold), "by_group": by_kind, "measured_by": predictor.version}


def held_out_kinds_report(predictor: Predictor, mnist_images: np.ndarray, rotations: list[Predictor]) -> dict[str, Any]:
    """The figures of a model that never saw the held-out kinds' shapes: this one, if it never
    learned them, else the one rotation made without them, with this model's own beside them
    (`this_model`). A model that learned them, measured alone, says so (`SHAPES_KEY`)."""
    learned = card_learned_shapes(predictor.card)
    if learned and len(rotations) > 1:
        raise DataError("held-out-kinds takes one --rotation: the model made without the held-out shapes")
    if learned and rotations and card_learned_shapes(rotations[0].card):
        raise DataError("that --rotation learned the held-out shapes: make one with --leave-out shapes")
    own = {**held_out_kinds(predictor, mnist_images), SHAPES_KEY: learned}
    if not learned or not rotations:  # unlearned, its own figures are the unseen shapes' already
        return own
    return {**held_out_kinds(rotations[0], mnist_images), SHAPES_KEY: False, "this_model": own}


def scans_report(predictor: Predictor, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Digits on paper, sent as PNG: how many are refused, and how many read right (a refusal is
    an error); the small or black-and-white ones apart."""
    small = slice(SCANS_COUNT, SCANS_COUNT + SMALL_SCANS_COUNT)
    return {
        **_scans_figures(predictor, scan_inputs(images[:SCANS_COUNT], SCANS_SEED), labels[:SCANS_COUNT]),
        "small_or_binary": _scans_figures(
            predictor, scan_inputs(images[small], SMALL_SCANS_SEED, small=SMALL_SIDES), labels[small]
        ),
    }


def _scans_figures(predictor: Predictor, inputs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    readings = predictor.read(inputs)
    flagged = np.array([r.not_a_digit for r in readings])
    right = (np.array([r.digit for r in readings]) == labels) & ~flagged
    return {
        "n": len(readings),
        "not_a_digit_rate": round(float(flagged.mean()), 6),
        "accuracy": round(float(right.mean()), 6),
    }


def rejection_report(
    model: str | Path | None,
    dataset: str,
    data_dir: str | Path | None = None,
    threads: int = 2,
    rotations: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """`omniglot`, `held-out-kinds` or `scans`: the share flagged "not a digit" and the AUROC.

    For `omniglot`, the alphabets the model never saw; with `rotations` (models made by the same
    recipe, each without one alphabet), each of those on the alphabets it never saw instead: the
    figures for a model that saw them all. Then the overall AUROC is the lowest alphabet's. For
    `held-out-kinds`, a rotation made without the held-out shapes measures them likewise."""
    predictor = Predictor(model, threads=threads)
    images, labels = load_split(resolve_data_dir(data_dir), "test")
    head: dict[str, Any] = {"model": predictor.name, "version": predictor.version, "dataset": dataset}
    if dataset == "scans":
        return {**head, **scans_report(predictor, images, labels)}
    if dataset == "held-out-kinds":
        return {**head, **held_out_kinds_report(predictor, images, [Predictor(r, threads=threads) for r in rotations])}
    groups: dict[str, dict[str, Any]] = {}
    for source in [Predictor(r, threads=threads) for r in rotations] or [predictor]:
        groups.update(held_out_alphabets(source, images))
    if not groups:
        return {**head, "n": 0, "trained_on_alphabets": trained_alphabets(predictor)}
    total = sum(g["n"] for g in groups.values())
    return {
        **head,
        "n": total,
        "not_a_digit_rate": round(sum(g["not_a_digit_rate"] * g["n"] for g in groups.values()) / total, 6),
        "auroc_vs_mnist_test": min(g["auroc_vs_mnist_test"] for g in groups.values()),
        "trained_on_alphabets": trained_alphabets(predictor),
        "by_group": groups,
    }
