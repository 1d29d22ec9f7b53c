"""Whole numbers as people write them, for measuring the number reader: held-out writers' digits
(never trained on) at sizes from 20 to 300 px, pens from 2 to 40 px whatever the size, a wavy
baseline, gaps from touching to wide, and 4s and 5s whose two strokes are lifted apart. Each is
read through the Reader by both roads, as strokes and as a picture (`/api/read` takes either).

Each number also records which of the hard conditions it has (`CONDITIONS`), and the report gives
the accuracy of each road per condition: what makes these numbers harder than neat ones."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from digitrec.errors import InputError
from digitrec.learning.data import PenDigit, held_out_writers
from digitrec.learning.drawings import bounds
from digitrec.reading.decode import render_strokes
from digitrec.reading.reader import Reader, Strokes

NUMBERS_SEED = 2030  # used for nothing else
# MNIST's strokes are 0.1-0.15 of a digit's height; a felt pen on a small digit is more.
THICK_PEN = 0.15
SMALL = 40  # px: a digit under this is a few pen widths tall with any but the finest pen
CONDITIONS = (
    "touching",  # two neighbours' strokes come within a pen width: their ink touches or overlaps
    "lifted 4/5",  # a 4 or a 5 whose two strokes were lifted apart
    "thick pen",  # the pen is over THICK_PEN of the height
    "small",  # under SMALL px tall
    "neat",  # none of these
)


@dataclass
class WrittenNumber:
    drawing: Strokes  # the API's strokes fields
    conditions: tuple[str, ...]  # which of CONDITIONS it has


def written_number(digits: Sequence[PenDigit], rng: random.Random) -> WrittenNumber:
    """One number, as the module's docstring says."""
    height = math.exp(rng.uniform(math.log(20), math.log(300)))
    pen = min(40.0, math.exp(rng.uniform(math.log(2), math.log(40))), height * 0.35)
    wave, wavelength = rng.uniform(0, 0.25) * height, rng.uniform(2, 8) * height
    placed: list[np.ndarray] = []
    x = 0.0
    touching = lifted = False
    for index, digit in enumerate(digits):
        strokes = [np.asarray(s, dtype=np.float64) for s in digit.strokes]
        low, high = bounds(strokes)
        scale = height * rng.uniform(0.85, 1.15) / max(float(high[1] - low[1]), 1e-6)
        strokes = [(s - low) * scale for s in strokes]
        if digit.label in (4, 5) and len(strokes) >= 2 and rng.random() < 0.5:
            strokes[1] = strokes[1] + [pen * rng.uniform(1.0, 2.5), -pen * rng.uniform(0.5, 2.0)]
            lifted = True
        low, high = bounds(strokes)
        if index:
            gap = rng.choice([rng.uniform(-0.05, 0.05), rng.uniform(0.05, 0.3), rng.uniform(0.3, 1.0)])
            touching |= gap * height < pen  # the boxes of the two digits' strokes, a pen apart at most
            x += gap * height
        lift = wave * math.sin(2 * math.pi * x / wavelength)
        placed += [s - low + [x, lift] for s in strokes]
        x += float(high[0] - low[0])
    margin = pen + 10
    low, high = bounds(placed)
    moved = [(s - low + margin).round(1).tolist() for s in placed]
    width, tall = int(high[0] - low[0] + 2 * margin), int(high[1] - low[1] + 2 * margin)
    flags = {"touching": touching, "lifted 4/5": lifted, "thick pen": pen > THICK_PEN * height, "small": height < SMALL}
    conditions = tuple(name for name, present in flags.items() if present) or ("neat",)
    return WrittenNumber(Strokes(moved, width, tall, round(pen, 1)), conditions)


@dataclass
class NumbersReport:
    count: int
    right: dict[str, int] = field(default_factory=lambda: {"strokes": 0, "picture": 0})
    misread: list[tuple[str, str, str]] = field(default_factory=list)  # truth, as strokes, as a picture
    # Per condition: numbers that have it, and those of them read exactly by each road.
    by_condition: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: {"n": 0, "strokes": 0, "picture": 0} for name in CONDITIONS}
    )

    def add(self, conditions: Sequence[str], exact: dict[str, bool]) -> None:
        for road, right in exact.items():
            self.right[road] += right
        for name in conditions:
            counts = self.by_condition[name]
            counts["n"] += 1
            for road, right in exact.items():
                counts[road] += right

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": "numbers",
            "n": self.count,
            "strokes_accuracy": round(self.right["strokes"] / max(self.count, 1), 4),
            "picture_accuracy": round(self.right["picture"] / max(self.count, 1), 4),
            "by_condition": {
                name: {
                    "n": counts["n"],
                    "strokes_accuracy": round(counts["strokes"] / max(counts["n"], 1), 4),
                    "picture_accuracy": round(counts["picture"] / max(counts["n"], 1), 4),
                }
                for name, counts in self.by_condition.items()
            },
            "misread": [list(m) for m in self.misread[:20]],
        }


def evaluate_numbers(
    reader: Reader, count: int = 200, seed: int = NUMBERS_SEED, pendigits_dir: object = None
) -> NumbersReport:
    """`count` numbers of 2-6 digits of the held-out writers, each read as strokes and as a PNG."""
    digits = held_out_writers(pendigits_dir)  # type: ignore[arg-type]
    rng = random.Random(seed)
    report = NumbersReport(count)
    for _ in range(count):
        chosen = [rng.choice(digits) for _ in range(rng.randint(2, 6))]
        truth = "".join(str(d.label) for d in chosen)
        written = written_number(chosen, rng)
        read = {"strokes": read_text(reader, written.drawing), "picture": read_text(reader, as_png(written.drawing))}
        report.add(written.conditions, {road: text == truth for road, text in read.items()})
        if read["strokes"] != truth or read["picture"] != truth:
            report.misread.append((truth, read["strokes"], read["picture"]))
    return report


def read_text(reader: Reader, drawing: Strokes | bytes) -> str:
    try:
        return reader.number(drawing).text
    except InputError as exc:  # counted as misread, and said
        return f"error: {exc}"


def as_png(drawing: Strokes) -> bytes:
    """The number as a picture: dark ink on white, as a saved canvas or a scan is."""
    picture = 255 - render_strokes(drawing.strokes, drawing.width, drawing.height, drawing.line_width)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()
