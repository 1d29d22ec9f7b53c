"""Digits on paper: the shipped cnn's accuracy on MNIST test digits put on synthetic paper (grey
ink on grey paper with grain, saved as JPEG, and one flaw each: a shadow, specks, a ruled line, a
form's box), as tests/test_scans.py makes them, on more digits than the test reads."""

from __future__ import annotations

import numpy as np

from benchmarks.common import record
from digitrec.learning.data import load_split, resolve_data_dir
from digitrec.reading.reader import Reader
from test_scans import on_paper

KINDS = ["grain", "shadow", "specks", "ruled line", "form box"]


def main(digits: int = 1500) -> None:
    images, labels = load_split(resolve_data_dir(None), "test")
    cnn = Reader("cnn", threads=2)
    lines = [
        f"{digits:,} MNIST test digits per row (seed 0), read by the shipped cnn through `/api/predict`'s road.",
        "",
        "| paper | read right | not a digit | not sure |",
        "| --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        rng = np.random.default_rng(0)
        picked = rng.choice(len(images), digits, replace=False)
        readings = cnn.digits([on_paper(images[i], kind, rng) for i in picked])
        right = np.mean([r.digit == labels[i] for r, i in zip(readings, picked, strict=True)])
        flagged = sum(r.not_a_digit for r in readings)
        unsure = sum(r.uncertain for r in readings)
        lines.append(f"| {kind} | {right:.2%} | {flagged} | {unsure} |")
    record("Digits on paper", lines)


if __name__ == "__main__":
    main()
