"""A fine-tuned candidate against the served model, on what neither was trained on, and a verdict.

Both models read through the serving road (their ONNX graphs, calibration and verdicts, as
`Reader.read_inputs`), on:
- `corrections`: the newest share of the corrections, held out of the fine-tune by time
  (finetune.split_by_time), so the candidate is measured on drawings made after those it
  learned from, as it will be once served;
- `mnist_test`: MNIST's test set;
- `writers`: the held-out pendigits writers (skipped, and said so, without the pendigits file);
- `non_digits`: the measuring-only kinds of non-digit (nondigits.HELD_OUT_KINDS).
A reading is right when it names the right digit and does not call it "not a digit", or, for a
non-digit (label NOT_A_DIGIT), when it says "not a digit".

The verdict is "better" only when the candidate reads more of the held-out corrections right and
loses at most a set's TOLERANCE on every other set; `digitrec promote` serves nothing else
without --force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitrec.errors import DataError
from digitrec.learning.data import load_split
from digitrec.learning.drawings import NOT_A_DIGIT, to_input
from digitrec.learning.evaluate import WRITERS_TEST_SEED, writers_inputs
from digitrec.learning.nondigits import HELD_OUT_KINDS, drawings_of
from digitrec.learning.rejection import HELD_OUT_KINDS_COUNT, HELD_OUT_KINDS_SEED
from digitrec.reading.inference import Predictor
from digitrec.reading.preprocess import mnist_to_input
from digitrec.reading.reader import Reader

Inputs = tuple[np.ndarray, np.ndarray]  # model inputs (N, 1, 28, 28) and labels
# The most a candidate may lose on a set, as a share of it, about two standard errors of a
# paired difference there: MNIST 10 of 10,000 images, the writers 7 of ~3,500 digits, the
# held-out non-digits 44 of 2,200 drawings (where ~30% are flagged, the error is wider).
TOLERANCE = {"mnist_test": 0.001, "writers": 0.002, "non_digits": 0.02}
BETTER, NOT_BETTER = "better", "not better"


def measuring_sets(
    held_images: np.ndarray, held_labels: np.ndarray, data_dir: Path, pendigits_dir: str | Path | None
) -> tuple[dict[str, Inputs], list[str]]:
    """The sets both models are measured on, and notes on any left out."""
    sets: dict[str, Inputs] = {}
    notes: list[str] = []
    if len(held_labels):
        sets["corrections"] = (mnist_to_input(held_images), held_labels)
    images, labels = load_split(data_dir, "test")
    sets["mnist_test"] = (mnist_to_input(images), labels)
    try:
        sets["writers"] = writers_inputs(pendigits_dir, WRITERS_TEST_SEED)
    except DataError as exc:
        notes.append(f"writers not measured: {exc}")
    drawings, _ = drawings_of(HELD_OUT_KINDS, HELD_OUT_KINDS_COUNT, HELD_OUT_KINDS_SEED)
    sets["non_digits"] = (np.stack([to_input(d) for d in drawings])[:, None], np.full(len(drawings), NOT_A_DIGIT))
    return sets, notes


def share_right(predictor: Predictor, inputs: np.ndarray, labels: np.ndarray) -> float:
    readings = Reader(predictor=predictor).read_inputs(inputs)
    flagged = np.array([r.not_a_digit for r in readings], dtype=bool)
    digits = np.array([r.digit for r in readings])
    right = np.where(labels >= NOT_A_DIGIT, flagged, (digits == labels) & ~flagged)
    return float(right.mean())


def judge(figures: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    reasons = []
    corrections = figures.get("corrections")
    if corrections is None:
        reasons.append("no held-out corrections to measure it on")
    elif corrections["candidate"] <= corrections["served"]:
        reasons.append("it reads no more of the held-out corrections right")
    for name, tolerance in TOLERANCE.items():
        figure = figures.get(name)
        if figure is not None and figure["candidate"] < figure["served"] - tolerance:
            lost = (figure["served"] - figure["candidate"]) * 100
            reasons.append(f"{name}: {lost:.2f} points lost, over the {tolerance * 100:.1f} allowed")
    return (NOT_BETTER if reasons else BETTER), reasons


def compare(candidate: Path, served: Path, sets: dict[str, Inputs], notes: list[str]) -> dict[str, Any]:
    """Both models on every set, and the verdict, as written into the candidate's card."""
    models = {"candidate": Predictor(candidate), "served": Predictor(served)}
    figures = {
        name: {"n": len(labels), **{who: round(share_right(p, inputs, labels), 6) for who, p in models.items()}}
        for name, (inputs, labels) in sets.items()
    }
    verdict, reasons = judge(figures)
    return {
        "served": str(served),
        "served_version": models["served"].version,
        "candidate_version": models["candidate"].version,
        "sets": figures,
        "verdict": verdict,
        "reasons": reasons,
        "notes": notes,
    }


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    """The comparison as a table and its verdict, for a terminal."""
    lines = [f"{'held-out set':<14}{'n':>7}{'served':>10}{'candidate':>11}"]
    for name, figure in comparison["sets"].items():
        lines.append(f"{name:<14}{figure['n']:>7,}{figure['served']:>10.2%}{figure['candidate']:>11.2%}")
    lines += comparison["notes"]
    why = "; ".join(comparison["reasons"])
    lines.append(f"verdict: {comparison['verdict']}" + (f" ({why})" if why else ""))
    return lines
