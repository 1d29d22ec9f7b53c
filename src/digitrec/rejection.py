"""How well a model knows what is not a digit, measured only on what it never trained on.

- `omniglot`: real people's characters of the alphabets a model was trained without (its
  model.json says which it saw; lookalikes left out), each alphabet on its own;
- `held-out-kinds`: the measuring-only generators of `nondigits.HELD_OUT_KINDS`;
- `scans`: MNIST test digits on a page-sized sheet, sent as PNG through the image road;
and beside the share flagged at the model's operating point (`not_a_digit_above`), the AUROC of
P(not a digit) separating those non-digits from the MNIST test set's digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from digitrec import calibration
from digitrec.data import load_split, resolve_data_dir
from digitrec.drawings import Drawing, _warp, place_on_canvas, to_input
from digitrec.inference import Predictor
from digitrec.nondigits import HELD_OUT_KINDS, drawings_of
from digitrec.omniglot import ALPHABETS, OmniglotDrawing, load_omniglot
from digitrec.preprocess import mnist_to_input
from digitrec.scans import scan_inputs

OMNIGLOT_TEST_SEED, HELD_OUT_KINDS_SEED, SCANS_SEED = 2028, 2029, 2030
HELD_OUT_KINDS_COUNT = 2200  # 200 of each of the 11 kinds
SCANS_COUNT = 3000  # of MNIST's test set: 70 ms each through the PNG road


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
    return list(predictor.metadata.get("omniglot_alphabets", []))


def _flagged(predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
    return calibration.not_a_digit_probability(predictor.raw_proba(inputs))


def rejection_report(
    model: str | Path | None, dataset: str, data_dir: str | Path | None = None, threads: int = 2
) -> dict[str, Any]:
    """`omniglot`, `held-out-kinds` or `scans`: the share flagged "not a digit" and the AUROC."""
    predictor = Predictor(model, threads=threads)
    threshold = predictor.not_a_digit_above
    images, labels = load_split(resolve_data_dir(data_dir), "test")
    mnist = _flagged(predictor, mnist_to_input(images))
    head: dict[str, Any] = {"model": predictor.name, "version": predictor.version, "dataset": dataset}
    head["threshold"] = threshold
    if dataset == "scans":
        inputs = scan_inputs(images[:SCANS_COUNT], SCANS_SEED)
        raw = predictor.raw_proba(inputs)
        flagged = raw[:, 10] > threshold if raw.shape[1] > 10 else np.zeros(len(raw), bool)
        right = (raw[:, :10].argmax(axis=1) == labels[:SCANS_COUNT]) & ~flagged
        return {
            **head,
            "n": len(inputs),
            "not_a_digit_rate": round(float(flagged.mean()), 6),
            "accuracy": round(float(right.mean()), 6),
        }
    if dataset == "held-out-kinds":
        drawings, kinds = drawings_of(HELD_OUT_KINDS, HELD_OUT_KINDS_COUNT, HELD_OUT_KINDS_SEED)
        scores = _flagged(predictor, np.stack([to_input(d) for d in drawings])[:, None])
        groups = {kind: scores[np.array(kinds) == kind] for kind in HELD_OUT_KINDS}
    else:
        seen = set(trained_alphabets(predictor))
        held = [a for a in ALPHABETS if a not in seen]
        drawings = [d for d in load_omniglot() if d.alphabet in held and not d.lookalike]
        scores = _flagged(predictor, omniglot_inputs(drawings, OMNIGLOT_TEST_SEED)) if drawings else np.zeros(0)
        names = np.array([d.alphabet for d in drawings])
        groups = {alphabet: scores[names == alphabet] for alphabet in held}
        head["trained_on_alphabets"] = sorted(seen)
    return {
        **head,
        "n": int(len(scores)),
        "not_a_digit_rate": round(float((scores > threshold).mean()), 6) if len(scores) else None,
        "auroc_vs_mnist_test": round(auroc(mnist, scores), 6) if len(scores) else None,
        "mnist_test_flagged": round(float((mnist > threshold).mean()), 6),
        "by_group": {
            name: {
                "n": int(len(s)),
                "not_a_digit_rate": round(float((s > threshold).mean()), 6),
                "auroc_vs_mnist_test": round(auroc(mnist, s), 6),
            }
            for name, s in groups.items()
            if len(s)
        },
    }
