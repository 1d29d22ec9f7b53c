"""`digitrec evaluate --dataset numbers`: numbers as people write them, and which of the hard
conditions each has, so that the report says what costs the number reader its misreadings."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from digitrec.learning.data import held_out_writers
from digitrec.learning.numbers_eval import CONDITIONS, SMALL, THICK_PEN, evaluate_numbers, written_number
from digitrec.reading.reader import Reader


def test_each_number_says_which_hard_conditions_it_has(pendigits_dir: Path) -> None:
    digits = held_out_writers(pendigits_dir)
    rng = random.Random(3)
    seen: set[str] = set()
    for _ in range(60):
        chosen = [rng.choice(digits) for _ in range(rng.randint(2, 6))]
        written = written_number(chosen, rng)
        drawing, conditions = written.drawing, written.conditions
        seen.update(conditions)
        assert conditions and set(conditions) <= set(CONDITIONS)
        assert ("neat" in conditions) == (len(conditions) == 1 and conditions[0] == "neat")
        # The ink's height, the pen and the margins are the drawing's own: the flags follow them.
        points = np.concatenate([np.asarray(s) for s in drawing.strokes])
        height = float(points[:, 1].max() - points[:, 1].min())
        pen = float(drawing.line_width or 0)
        if "thick pen" not in conditions:
            # The ink spans at least 0.85 of the line's height (each digit drawn 0.85-1.15 of it).
            assert pen <= THICK_PEN * height / 0.85
        if "lifted 4/5" in conditions:
            assert {4, 5} & {d.label for d in chosen}
        if "small" in conditions:
            assert height < SMALL * 1.65  # a digit 1.15 of the line, the wave 0.5 more
    assert seen == set(CONDITIONS), seen  # 60 numbers meet every condition, and some none


def test_the_report_breaks_the_figures_down_by_condition(reader: Reader, pendigits_dir: Path) -> None:
    report = evaluate_numbers(reader, count=12, seed=5, pendigits_dir=pendigits_dir).as_dict()
    parts = report["by_condition"]
    assert isinstance(parts, dict) and list(parts) == list(CONDITIONS)
    neat = parts["neat"]["n"]
    assert 0 <= neat <= 12 and sum(part["n"] for part in parts.values()) >= 12
    for part in parts.values():
        for road in ("strokes_accuracy", "picture_accuracy"):
            assert 0.0 <= part[road] <= 1.0
    # Every number is counted once in the whole and once per condition it has.
    hard = [name for name in CONDITIONS if name != "neat"]
    assert max(parts[name]["n"] for name in hard) <= 12 - neat
