"""Things people draw that are no digit, to teach "not one of the ten digits" rather than "one of
the shapes I was shown", and a separate set drawn only to measure that.

Two families, kept apart on purpose (a test checks they share no kind and no glyph):
- TRAINING_KINDS: letters printed and cursive, punctuation and symbols, ticks and crosses,
  underlines, shapes, doodles; the Hershey fonts' glyphs (`hershey.py`: Latin, Greek, Cyrillic,
  several hundred symbols, picked under the same rules); and, from the training writers' own
  digits, overlapping digits, two digits in one box and crossed-out digits (`digit_kinds`). Partial digits come from
  `digitrec data pieces` (the reader's own fragments, labelled by whose ink they hold): cut from a
  pen path here, a quarter of a digit looked like a 1, a 7 or a C as often as not.
- HELD_OUT_KINDS: T, ?, Y, P, d, %, $, L, J, u and arrows up, down and slanted, each in
  several styles. Never trained on: they measure whether the concept generalises.

Between them, the held-out kinds' shapes as the fonts draw them (`hershey.shape_glyphs`, the
family `SHAPES`): the shipped cnn learns them, because people write T, ? and arrows to the page,
while the model that measures the held-out kinds leaves them out (`--leave-out shapes`), so that
its shapes are unseen. They are drawn after everything else, with a seed of their own, so a set
without them is the same set, bit for bit, as before they were added.

Left out of both, because a person could still read a digit in them: O o 0-like circles and
ellipses, I l | / \\ (a 1), S s (5), Z z (2), B (8), b G (6), g q a (9), y (4 or 9), Ø (a
European 0), ( and ) (a 1), a 7 with one crossbar, a 1 with a flag or base. Every kind draws in
a unit box, y down; `kind_drawing` varies it as a hand would and puts it on the page's canvas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitrec.errors import DataError
from digitrec.learning.data import PenDigit, load_split, resolve_data_dir, training_writers, write_idx
from digitrec.learning.drawings import (
    NOT_A_DIGIT,
    Drawing,
    Strokes,
    _hand_wobble,
    _line,
    _polyline,
    _warp,
    bounds,
    pen_digit_drawings,
    place_on_canvas,
    render_all,
)
from digitrec.learning.fontglyphs import font_glyph_images
from digitrec.learning.hershey import hershey_kinds, shapes_kind
from digitrec.learning.omniglot import ALPHABETS, MANIFEST, SHAPES_KEY, OmniglotDrawing, load_omniglot

Kind = Callable[[np.random.Generator], Strokes]
Point = tuple[float, float]
# A glyph: strokes, each ("p", points) drawn straight between points or ("s", points) a smooth
# curve through them (Catmull-Rom), or ("d", [point]) a dot.
Glyph = list[tuple[str, list[Point]]]

SHAPES = "shapes"  # a leave-out name beside the Omniglot alphabets: the fonts' held-out shapes
SHAPES_COUNT = 2400


def _smooth(points: Sequence[Point], per_segment: int = 8) -> np.ndarray:
    """A Catmull-Rom curve through `points`: how a hand joins them."""
    p = np.asarray(points, np.float32)
    p = np.concatenate([p[:1], p, p[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False, dtype=np.float32)[:, None]
    parts = []
    for i in range(1, len(p) - 2):
        a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
        parts.append(
            0.5 * ((2 * b) + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t**2 + (-a + 3 * b - 3 * c + d) * t**3)
        )
    return np.concatenate([*parts, p[-2:-1]]).astype(np.float32)


def render_glyph(glyph: Glyph, rng: np.random.Generator, jitter: float = 0.03) -> Strokes:
    """A glyph's strokes, each control point moved a little: no two hands place them alike."""
    strokes = []
    for style, points in glyph:
        moved = [(x + rng.normal(0, jitter), y + rng.normal(0, jitter)) for x, y in points]
        if style == "d":
            strokes.append(np.asarray(moved, np.float32))
        elif style == "s":
            strokes.append(_smooth(moved))
        else:
            strokes.append(_polyline(moved, n=8))
    return strokes


def _circle(cx: float, cy: float, r: float, start: float = 0.0, turn: float = 2 * math.pi, n: int = 10) -> list[Point]:
    return [(cx + r * math.cos(start + turn * k / n), cy + r * math.sin(start + turn * k / n)) for k in range(n + 1)]


def glyph_kind(variants: Sequence[Glyph]) -> Kind:
    """A kind that draws one of its glyph's styles at random."""

    def draw(rng: np.random.Generator) -> Strokes:
        return render_glyph(variants[int(rng.integers(len(variants)))], rng)

    return draw


# --- Training: letters ------------------------------------------------------------------------
# Printed (straight) and cursive (smooth) letters that read as no digit. Not T Y P d L J u: those
# are held out for measuring.
TRAINING_LETTERS: dict[str, list[Glyph]] = {
    "A": [[("p", [(0, 1), (0.5, 0), (1, 1)]), ("p", [(0.25, 0.6), (0.75, 0.6)])]],
    "C": [[("s", _circle(0.55, 0.5, 0.45, 0.8, 4.7, 8))]],
    "E": [
        [("p", [(0.9, 0), (0.1, 0), (0.1, 1), (0.9, 1)]), ("p", [(0.1, 0.5), (0.7, 0.5)])],
        [("s", [(0.8, 0.1), (0.4, 0.0), (0.2, 0.2), (0.5, 0.45), (0.15, 0.7), (0.4, 1.0), (0.85, 0.9)])],
    ],
    "F": [[("p", [(0.9, 0), (0.1, 0), (0.1, 1)]), ("p", [(0.1, 0.5), (0.7, 0.5)])]],
    "H": [[("p", [(0.1, 0), (0.1, 1)]), ("p", [(0.9, 0), (0.9, 1)]), ("p", [(0.1, 0.5), (0.9, 0.5)])]],
    "K": [[("p", [(0.1, 0), (0.1, 1)]), ("p", [(0.9, 0), (0.1, 0.55), (0.9, 1)])]],
    "M": [[("p", [(0, 1), (0.1, 0), (0.5, 0.7), (0.9, 0), (1, 1)])]],
    "N": [[("p", [(0.1, 1), (0.1, 0), (0.9, 1), (0.9, 0)])]],
    "R": [[("p", [(0.1, 1), (0.1, 0), (0.7, 0), (0.85, 0.25), (0.7, 0.5), (0.1, 0.5)]), ("p", [(0.4, 0.5), (0.9, 1)])]],
    "W": [[("p", [(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)])]],
    "X": [[("p", [(0.1, 0), (0.9, 1)]), ("p", [(0.9, 0), (0.1, 1)])]],
    "c": [[("s", _circle(0.5, 0.65, 0.35, 0.9, 4.5, 8))]],
    "e": [[("s", [(0.15, 0.65), (0.85, 0.6), (0.7, 0.35), (0.4, 0.35), (0.15, 0.65), (0.4, 1.0), (0.85, 0.9)])]],
    "f": [[("s", [(0.85, 0.1), (0.55, 0.0), (0.4, 0.2), (0.4, 1.0)]), ("p", [(0.15, 0.45), (0.75, 0.45)])]],
    "h": [[("p", [(0.2, 0), (0.2, 1)]), ("s", [(0.2, 0.6), (0.5, 0.4), (0.8, 0.55), (0.8, 1.0)])]],
    "k": [[("p", [(0.2, 0), (0.2, 1)]), ("p", [(0.8, 0.4), (0.2, 0.75), (0.85, 1)])]],
    "m": [
        [
            ("s", [(0, 1), (0, 0.45), (0.25, 0.35), (0.5, 0.5), (0.5, 1)]),
            ("s", [(0.5, 0.5), (0.75, 0.35), (1, 0.5), (1, 1)]),
        ]
    ],
    "n": [[("p", [(0.2, 0.35), (0.2, 1)]), ("s", [(0.2, 0.55), (0.5, 0.35), (0.8, 0.5), (0.8, 1)])]],
    "r": [[("p", [(0.3, 0.35), (0.3, 1)]), ("s", [(0.3, 0.6), (0.5, 0.4), (0.8, 0.38)])]],
    "w": [[("p", [(0, 0.3), (0.25, 1), (0.5, 0.5), (0.75, 1), (1, 0.3)])]],
    "x": [[("p", [(0.1, 0.3), (0.9, 1)]), ("p", [(0.9, 0.3), (0.1, 1)])]],
    "k~": [[("s", [(0.1, 1), (0.3, 0.0), (0.3, 1), (0.5, 0.5), (0.7, 0.6), (0.45, 0.75), (0.9, 1)])]],
}
# Letters of other scripts people write, the Latin ones' cousins: no digit among them either.
TRAINING_LETTERS.update(
    {
        "λ": [[("p", [(0.1, 0.0), (0.9, 1.0)]), ("p", [(0.5, 0.45), (0.1, 1.0)])]],
        "π": [
            [
                ("p", [(0.0, 0.2), (1.0, 0.2)]),
                ("p", [(0.3, 0.2), (0.25, 1.0)]),
                ("s", [(0.7, 0.2), (0.7, 0.9), (0.9, 1.0)]),
            ]
        ],
        "Σ": [[("p", [(0.9, 0.0), (0.1, 0.0), (0.6, 0.5), (0.1, 1.0), (0.9, 1.0)])]],
        "Ω": [[("s", [(0.0, 1.0), (0.35, 0.95), (0.1, 0.5), (0.5, 0.0), (0.9, 0.5), (0.65, 0.95), (1.0, 1.0)])]],
        "ψ": [[("s", [(0.0, 0.1), (0.1, 0.5), (0.5, 0.7), (0.9, 0.5), (1.0, 0.1)]), ("p", [(0.5, 0.0), (0.5, 1.0)])]],
        "α": [[("s", [(0.95, 0.35), (0.7, 0.8), (0.4, 1.0), (0.1, 0.75), (0.35, 0.35), (0.65, 0.6), (0.95, 1.0)])]],
        "Ж": [
            [
                ("p", [(0.5, 0.0), (0.5, 1.0)]),
                ("p", [(0.0, 0.0), (0.5, 0.5), (0.0, 1.0)]),
                ("p", [(1.0, 0.0), (0.5, 0.5), (1.0, 1.0)]),
            ]
        ],
        "Я": [
            [
                ("p", [(0.85, 1.0), (0.85, 0.0), (0.3, 0.0), (0.15, 0.25), (0.3, 0.5), (0.85, 0.5)]),
                ("p", [(0.55, 0.5), (0.1, 1.0)]),
            ]
        ],
        "И": [[("p", [(0.1, 0.0), (0.1, 1.0), (0.9, 0.0), (0.9, 1.0)])]],
        "Д": [
            [
                ("p", [(0.0, 1.05), (0.0, 0.8), (1.0, 0.8), (1.0, 1.05)]),
                ("p", [(0.15, 0.8), (0.4, 0.0), (0.8, 0.0), (0.8, 0.8)]),
            ]
        ],
        "Ш": [[("p", [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)]), ("p", [(0.5, 0.0), (0.5, 1.0)])]],
        "Ю": [
            [
                ("p", [(0.0, 0.0), (0.0, 1.0)]),
                ("p", [(0.0, 0.5), (0.35, 0.5)]),
                ("s", _circle(0.68, 0.5, 0.3, 0, 2 * math.pi, 8)),
            ]
        ],
        "Л": [[("s", [(0.0, 1.0), (0.2, 0.8), (0.3, 0.0), (0.9, 0.0), (0.9, 1.0)])]],
    }
)
# Cursive words: joined humps and loops, the way a word (not a number) is written.
_CURSIVE: list[Glyph] = [
    [
        (
            "s",
            [(0, 0.9), (0.1, 0.4), (0.2, 0.9), (0.3, 0.4), (0.4, 0.9), (0.55, 0.5), (0.5, 0.8), (0.7, 0.9), (1.0, 0.6)],
        )
    ],
    [
        (
            "s",
            [
                (0, 0.8),
                (0.15, 0.5),
                (0.1, 0.45),
                (0.1, 0.9),
                (0.3, 0.5),
                (0.25, 0.45),
                (0.3, 0.9),
                (0.55, 0.4),
                (0.6, 0.9),
                (0.8, 0.4),
                (0.85, 0.9),
                (1, 0.7),
            ],
        )
    ],
    [
        (
            "s",
            [
                (0, 0.7),
                (0.2, 0.6),
                (0.15, 0.4),
                (0.1, 0.7),
                (0.3, 0.85),
                (0.5, 0.6),
                (0.45, 0.4),
                (0.4, 0.7),
                (0.6, 0.85),
                (0.8, 0.5),
                (1, 0.8),
            ],
        )
    ],
    [
        (
            "s",
            [
                (0, 0.9),
                (0.12, 0.45),
                (0.22, 0.9),
                (0.32, 0.45),
                (0.42, 0.9),
                (0.52, 0.45),
                (0.62, 0.9),
                (0.72, 0.45),
                (0.82, 0.9),
                (1, 0.6),
            ],
        )
    ],
]


def _letter(rng: np.random.Generator) -> Strokes:
    variants = TRAINING_LETTERS[str(rng.choice(sorted(TRAINING_LETTERS)))]
    return render_glyph(variants[int(rng.integers(len(variants)))], rng)


# --- Training: punctuation and symbols -----------------------------------------------------------
SYMBOLS: dict[str, list[Glyph]] = {
    "!": [[("p", [(0.5, 0), (0.5, 0.7)]), ("d", [(0.5, 0.97)])]],
    "&": [
        [
            (
                "s",
                [
                    (0.9, 1),
                    (0.3, 0.4),
                    (0.3, 0.1),
                    (0.55, 0.05),
                    (0.6, 0.25),
                    (0.15, 0.65),
                    (0.3, 0.95),
                    (0.6, 0.9),
                    (0.85, 0.55),
                ],
            )
        ]
    ],
    "@": [
        [
            (
                "s",
                [
                    (0.65, 0.4),
                    (0.45, 0.35),
                    (0.35, 0.55),
                    (0.5, 0.65),
                    (0.65, 0.4),
                    (0.7, 0.65),
                    (0.9, 0.55),
                    (0.9, 0.3),
                    (0.6, 0.05),
                    (0.2, 0.15),
                    (0.05, 0.5),
                    (0.25, 0.9),
                    (0.7, 0.95),
                ],
            )
        ]
    ],
    "#": [
        [
            ("p", [(0.1, 0.35), (0.9, 0.35)]),
            ("p", [(0.1, 0.65), (0.9, 0.65)]),
            ("p", [(0.4, 0.1), (0.3, 0.9)]),
            ("p", [(0.7, 0.1), (0.6, 0.9)]),
        ]
    ],
    "=": [[("p", [(0.1, 0.35), (0.9, 0.35)]), ("p", [(0.1, 0.65), (0.9, 0.65)])]],
    "+": [[("p", [(0.1, 0.5), (0.9, 0.5)]), ("p", [(0.5, 0.1), (0.5, 0.9)])]],
    "<": [[("p", [(0.9, 0.1), (0.1, 0.5), (0.9, 0.9)])]],
    ">": [[("p", [(0.1, 0.1), (0.9, 0.5), (0.1, 0.9)])]],
    "÷": [[("p", [(0.1, 0.5), (0.9, 0.5)]), ("d", [(0.5, 0.2)]), ("d", [(0.5, 0.8)])]],
    "~": [[("s", [(0, 0.6), (0.25, 0.4), (0.5, 0.55), (0.75, 0.65), (1, 0.4)])]],
    "^": [[("p", [(0.1, 0.8), (0.5, 0.2), (0.9, 0.8)])]],
    "≠": [[("p", [(0.1, 0.35), (0.9, 0.35)]), ("p", [(0.1, 0.65), (0.9, 0.65)]), ("p", [(0.7, 0.05), (0.3, 0.95)])]],
    "≤": [[("p", [(0.9, 0.05), (0.1, 0.4), (0.9, 0.75)]), ("p", [(0.1, 0.95), (0.9, 0.95)])]],
    "€": [
        [("s", _circle(0.6, 0.5, 0.4, 0.9, 4.5, 8)), ("p", [(0.05, 0.4), (0.6, 0.4)]), ("p", [(0.05, 0.6), (0.6, 0.6)])]
    ],
    "*": [[("p", [(0.5, 0.05), (0.5, 0.95)]), ("p", [(0.1, 0.25), (0.9, 0.75)]), ("p", [(0.9, 0.25), (0.1, 0.75)])]],
    "√": [[("p", [(0.0, 0.6), (0.15, 0.5), (0.35, 1.0), (0.6, 0.0), (1.0, 0.0)])]],
    "∞": [
        [
            (
                "s",
                [
                    (0.5, 0.5),
                    (0.75, 0.3),
                    (0.95, 0.5),
                    (0.75, 0.7),
                    (0.5, 0.5),
                    (0.25, 0.3),
                    (0.05, 0.5),
                    (0.25, 0.7),
                    (0.5, 0.5),
                ],
            )
        ]
    ],
    "©": [[("s", _circle(0.5, 0.5, 0.5, 0, 2 * math.pi, 12)), ("s", _circle(0.55, 0.5, 0.22, 0.9, 4.5, 8))]],
    # Horizontal arrows only: up, down and slanted ones are held out.
    "->": [
        [("p", [(0, 0.5), (1, 0.5)]), ("p", [(0.7, 0.25), (1, 0.5), (0.7, 0.75)])],
        [("p", [(0, 0.5), (1, 0.5), (0.7, 0.25)])],
    ],
    "<-": [[("p", [(0, 0.5), (1, 0.5)]), ("p", [(0.3, 0.25), (0, 0.5), (0.3, 0.75)])]],
    "<->": [
        [
            ("p", [(0, 0.5), (1, 0.5)]),
            ("p", [(0.25, 0.25), (0, 0.5), (0.25, 0.75)]),
            ("p", [(0.75, 0.25), (1, 0.5), (0.75, 0.75)]),
        ]
    ],
    "=>": [
        [("p", [(0, 0.4), (0.8, 0.4)]), ("p", [(0, 0.6), (0.8, 0.6)]), ("p", [(0.65, 0.15), (1, 0.5), (0.65, 0.85)])]
    ],
}


def _symbol(rng: np.random.Generator) -> Strokes:
    variants = SYMBOLS[str(rng.choice(sorted(SYMBOLS)))]
    return render_glyph(variants[int(rng.integers(len(variants)))], rng)


# --- Training: marks, shapes and doodles ---------------------------------------------------------


def _tick(rng: np.random.Generator) -> Strokes:
    knee = (rng.uniform(0.25, 0.45), rng.uniform(0.8, 1.0))
    return render_glyph([("p", [(0.0, rng.uniform(0.45, 0.65)), knee, (1.0, rng.uniform(0.0, 0.15))])], rng)


def _cross_mark(rng: np.random.Generator) -> Strokes:
    return render_glyph([("p", [(0.1, 0.1), (0.9, 0.9)]), ("s", [(0.85, 0.05), (0.5, 0.5), (0.1, 0.95)])], rng, 0.08)


def _underline(rng: np.random.Generator) -> Strokes:
    # Long and flat: the page scales a drawing by its height, so a long line stays thin.
    style = int(rng.integers(4))
    y = 0.5
    if style == 0:
        return [_line((0, y), (rng.uniform(3, 6), y + rng.uniform(-0.2, 0.2)), 30)]
    if style == 1:
        length = rng.uniform(3, 6)
        return [_line((0, y), (length, y), 30), _line((0.1, y + 0.35), (length - 0.1, y + 0.35), 30)]
    if style == 2:
        x = np.linspace(0, rng.uniform(3, 6), 80, dtype=np.float32)
        return [np.stack([x, y + 0.12 * np.sin(x * rng.uniform(3, 6))], axis=1).astype(np.float32)]
    length = rng.uniform(3, 6)
    return [_polyline([(0, y - 0.3), (0.1, y), (length, y), (length + 0.1, y - 0.3)], n=20)]


def _polygon(rng: np.random.Generator) -> Strokes:
    sides = int(rng.integers(3, 8))
    start = rng.uniform(0, 2 * math.pi)
    points = _circle(0.5, 0.5, 0.5, start, 2 * math.pi, sides)
    if rng.random() < 0.3:  # filled in, as people shade a shape
        inner = [(0.5 + 0.4 * math.cos(a), 0.5 + 0.4 * math.sin(a)) for a in rng.uniform(0, 2 * math.pi, 10)]
        return [_polyline(points), _polyline(inner, n=5)]
    return [_polyline(points)]


def _rectangle(rng: np.random.Generator) -> Strokes:
    w, h = rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.0)
    outer = [_polyline([(0, 0), (w, 0), (w, h), (0, h), (0, 0)])]
    if rng.random() < 0.4:
        outer.append(
            _polyline(
                [(0.2 * w, 0.2 * h), (0.8 * w, 0.2 * h), (0.8 * w, 0.8 * h), (0.2 * w, 0.8 * h), (0.2 * w, 0.2 * h)]
            )
        )
    return outer


_SHAPES: list[Glyph] = [
    [("p", [(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5), (0.5, 0)])],  # diamond
    [
        ("s", [(0.2, 0.7), (0.1, 0.45), (0.3, 0.3), (0.45, 0.1), (0.7, 0.2), (0.9, 0.4), (0.85, 0.7), (0.2, 0.7)])
    ],  # cloud
    [
        ("p", [(0, 0.35), (0.6, 0.35), (0.6, 0.1), (1, 0.5), (0.6, 0.9), (0.6, 0.65), (0, 0.65), (0, 0.35)])
    ],  # block arrow
    [("p", [(0.2, 0), (1, 0), (0.8, 1), (0, 1), (0.2, 0)])],  # parallelogram
    [
        (
            "p",
            [
                (0.35, 0),
                (0.65, 0),
                (0.65, 0.35),
                (1, 0.35),
                (1, 0.65),
                (0.65, 0.65),
                (0.65, 1),
                (0.35, 1),
                (0.35, 0.65),
                (0, 0.65),
                (0, 0.35),
                (0.35, 0.35),
                (0.35, 0),
            ],
        )
    ],  # swiss cross
    [
        (
            "p",
            [
                (0.5, 0),
                (0.62, 0.38),
                (1, 0.38),
                (0.7, 0.62),
                (0.8, 1),
                (0.5, 0.78),
                (0.2, 1),
                (0.3, 0.62),
                (0, 0.38),
                (0.38, 0.38),
                (0.5, 0),
            ],
        )
    ],  # star outline
]
_DOODLES: list[Glyph] = [
    # sun: a small ring with rays
    [("s", _circle(0.5, 0.5, 0.2, 0, 2 * math.pi, 8))]
    + [
        (
            "p",
            [
                (0.5 + 0.28 * math.cos(a), 0.5 + 0.28 * math.sin(a)),
                (0.5 + 0.48 * math.cos(a), 0.5 + 0.48 * math.sin(a)),
            ],
        )
        for a in np.linspace(0, 2 * math.pi, 8, endpoint=False)
    ],
    # house
    [
        ("p", [(0.1, 0.45), (0.1, 1), (0.9, 1), (0.9, 0.45)]),
        ("p", [(0, 0.5), (0.5, 0), (1, 0.5)]),
        ("p", [(0.4, 1), (0.4, 0.7), (0.6, 0.7), (0.6, 1)]),
    ],
    # stick figure
    [
        ("s", _circle(0.5, 0.15, 0.15, 0, 2 * math.pi, 8)),
        ("p", [(0.5, 0.3), (0.5, 0.7)]),
        ("p", [(0.15, 0.45), (0.85, 0.45)]),
        ("p", [(0.2, 1), (0.5, 0.7), (0.8, 1)]),
    ],
    # flower
    [("s", _circle(0.5, 0.35, 0.1, 0, 2 * math.pi, 6))]
    + [
        ("s", _circle(0.5 + 0.2 * math.cos(a), 0.35 + 0.2 * math.sin(a), 0.1, 0, 2 * math.pi, 6))
        for a in np.linspace(0, 2 * math.pi, 5, endpoint=False)
    ]
    + [("p", [(0.5, 0.6), (0.5, 1)])],
    # tree
    [
        (
            "s",
            [
                (0.4, 1),
                (0.42, 0.6),
                (0.2, 0.55),
                (0.1, 0.3),
                (0.3, 0.05),
                (0.6, 0.0),
                (0.9, 0.25),
                (0.8, 0.55),
                (0.58, 0.6),
                (0.6, 1),
            ],
        )
    ],
    # tic-tac-toe with marks
    [
        ("p", [(0.33, 0), (0.33, 1)]),
        ("p", [(0.66, 0), (0.66, 1)]),
        ("p", [(0, 0.33), (1, 0.33)]),
        ("p", [(0, 0.66), (1, 0.66)]),
        ("p", [(0.05, 0.05), (0.28, 0.28)]),
        ("p", [(0.28, 0.05), (0.05, 0.28)]),
    ],
]


def _shape(rng: np.random.Generator) -> Strokes:
    return render_glyph(_SHAPES[int(rng.integers(len(_SHAPES)))], rng)


def _doodle(rng: np.random.Generator) -> Strokes:
    if rng.random() < 0.5:
        return render_glyph(_DOODLES[int(rng.integers(len(_DOODLES)))], rng)
    # Three to five smooth random strokes: more than any digit takes.
    return [
        _smooth([tuple(p) for p in rng.uniform(0, 1, (int(rng.integers(4, 8)), 2))])
        for _ in range(int(rng.integers(3, 6)))
    ]


def _cursive(rng: np.random.Generator) -> Strokes:
    return render_glyph(_CURSIVE[int(rng.integers(len(_CURSIVE)))], rng, jitter=0.04)


TRAINING_KINDS: dict[str, Kind] = {
    "letter": _letter,
    "cursive": _cursive,
    "symbol": _symbol,
    "tick": _tick,
    "cross-mark": _cross_mark,
    "underline": _underline,
    "polygon": _polygon,
    "rectangle": _rectangle,
    "shape": _shape,
    "doodle": _doodle,
}

# --- Training: made of digits --------------------------------------------------------------------


def _unit(strokes: Sequence[np.ndarray]) -> Strokes:
    """A writer's digit scaled to a unit height, top left at the origin."""
    low, high = bounds(list(strokes))
    scale = 1.0 / max(float(high[1] - low[1]), 1e-6)
    return [((s - low) * scale).astype(np.float32) for s in strokes]


def digit_kinds(digits: Sequence[PenDigit]) -> dict[str, Kind]:
    """Non-digits made of the training writers' digits: a person reads none of them as one digit."""

    def pick(rng: np.random.Generator) -> Strokes:
        return _unit(digits[int(rng.integers(len(digits)))].strokes)

    def overlapping(rng: np.random.Generator) -> Strokes:
        first, second = pick(rng), pick(rng)
        shift = np.array([rng.uniform(0.15, 0.45), rng.uniform(-0.25, 0.25)], np.float32)
        return first + [s + shift for s in second]

    def two_in_a_box(rng: np.random.Generator) -> Strokes:
        first, second = pick(rng), pick(rng)
        width = float(bounds(first)[1][0])
        shift = np.array([width + rng.uniform(0.05, 0.35), rng.uniform(-0.1, 0.1)], np.float32)
        return first + [s + shift for s in second]

    def crossed_out(rng: np.random.Generator) -> Strokes:
        digit = pick(rng)
        width = float(bounds(digit)[1][0])
        style = int(rng.integers(3))
        if style == 0:  # an X over it
            return digit + [_line((-0.1, -0.05), (width + 0.1, 1.05)), _line((width + 0.1, -0.05), (-0.1, 1.05))]
        if style == 1:  # scribbled over, back and forth
            ys = np.linspace(0.1, 0.9, int(rng.integers(4, 8)))
            zigzag = [(-0.1 if k % 2 == 0 else width + 0.1, y) for k, y in enumerate(ys)]
            return digit + [_polyline(zigzag, n=6)]
        # struck through three or more times
        return digit + [
            _line((-0.1, y), (width + 0.1, y + rng.uniform(-0.1, 0.1)))
            for y in rng.uniform(0.2, 0.8, int(rng.integers(3, 5)))
        ]

    return {
        "overlapping-digits": overlapping,
        "two-digits": two_in_a_box,
        "crossed-out-digit": crossed_out,
    }


# --- Held out: only for measuring ----------------------------------------------------------------
HELD_OUT_GLYPHS: dict[str, list[Glyph]] = {
    "T": [
        [("p", [(0, 0), (1, 0)]), ("p", [(0.5, 0), (0.5, 1)])],
        [("p", [(0, 0.05), (1, 0)]), ("p", [(0.5, 0), (0.5, 1)]), ("p", [(0.35, 1), (0.65, 1)])],  # serifs
        [
            ("s", [(0, 0.15), (0.3, 0.0), (0.7, 0.05), (1, 0)]),
            ("s", [(0.5, 0.03), (0.45, 0.7), (0.3, 1.0), (0.15, 0.85)]),
        ],  # cursive
    ],
    "?": [
        [("s", [(0.1, 0.25), (0.4, 0.0), (0.85, 0.2), (0.5, 0.5), (0.5, 0.72)]), ("d", [(0.5, 0.97)])],
        [("p", [(0.1, 0.2), (0.3, 0), (0.8, 0), (0.9, 0.25), (0.5, 0.45), (0.5, 0.7)]), ("d", [(0.5, 0.95)])],
        [
            ("s", [(0.15, 0.3), (0.3, 0.05), (0.7, 0.02), (0.85, 0.25), (0.55, 0.45), (0.45, 0.6), (0.5, 0.72)]),
            ("p", [(0.47, 0.9), (0.5, 0.97)]),
        ],
    ],
    "Y": [
        [("p", [(0, 0), (0.5, 0.5)]), ("p", [(1, 0), (0.5, 0.5)]), ("p", [(0.5, 0.5), (0.5, 1)])],
        [("p", [(0, 0), (0.5, 0.5), (1, 0)]), ("p", [(0.5, 0.5), (0.5, 1)])],
        [("p", [(0, 0), (0.5, 0.55)]), ("p", [(1, 0), (0.2, 1)])],
    ],
    "P": [
        [("p", [(0.15, 1), (0.15, 0)]), ("s", [(0.15, 0), (0.75, 0.05), (0.85, 0.28), (0.6, 0.5), (0.15, 0.5)])],
        [("s", [(0.15, 1), (0.15, 0), (0.8, 0.1), (0.75, 0.4), (0.15, 0.45)])],
        [("p", [(0.15, 1), (0.15, 0)]), ("p", [(0.15, 0), (0.8, 0), (0.8, 0.4), (0.15, 0.4)])],
    ],
    "d": [
        [("s", _circle(0.4, 0.7, 0.3, -1.2, 5.8, 10)), ("p", [(0.72, 0), (0.72, 1)])],
        [("s", [(0.7, 0.55), (0.4, 0.45), (0.1, 0.7), (0.35, 1.0), (0.7, 0.7), (0.75, 0.0), (0.7, 0.8), (0.95, 1.0)])],
    ],
    "%": [
        [
            ("s", _circle(0.2, 0.2, 0.15, 0, 2 * math.pi, 8)),
            ("p", [(0.9, 0), (0.1, 1)]),
            ("s", _circle(0.8, 0.8, 0.15, 0, 2 * math.pi, 8)),
        ],
        [("d", [(0.2, 0.15)]), ("p", [(0.85, 0.05), (0.15, 0.95)]), ("d", [(0.8, 0.85)])],
        [
            ("s", _circle(0.25, 0.25, 0.2, 0, 2 * math.pi, 8)),
            ("p", [(0.75, 0), (0.25, 1)]),
            ("s", _circle(0.75, 0.75, 0.2, 0, 2 * math.pi, 8)),
        ],
    ],
    "$": [
        [
            ("s", [(0.85, 0.2), (0.5, 0.1), (0.2, 0.3), (0.5, 0.5), (0.8, 0.7), (0.5, 0.9), (0.15, 0.8)]),
            ("p", [(0.5, 0), (0.5, 1)]),
        ],
        [
            ("s", [(0.85, 0.2), (0.5, 0.1), (0.2, 0.3), (0.5, 0.5), (0.8, 0.7), (0.5, 0.9), (0.15, 0.8)]),
            ("p", [(0.42, 0), (0.42, 1)]),
            ("p", [(0.58, 0), (0.58, 1)]),
        ],
    ],
    "L": [
        [("p", [(0.1, 0), (0.1, 1), (0.9, 1)])],
        [("p", [(0.15, 0), (0.1, 1)]), ("p", [(0.1, 1), (0.9, 0.95)])],
        [("s", [(0.35, 0.1), (0.25, 0.0), (0.3, 0.5), (0.15, 0.95), (0.05, 0.85), (0.3, 0.95), (0.95, 0.95)])],
    ],
    "J": [
        [("p", [(0.2, 0), (0.9, 0)]), ("s", [(0.6, 0), (0.6, 0.8), (0.4, 1), (0.1, 0.8)])],
        [("s", [(0.7, 0), (0.7, 0.8), (0.45, 1), (0.15, 0.85)])],
    ],
    "u": [
        [("s", [(0.1, 0.3), (0.1, 0.8), (0.5, 1), (0.9, 0.8)]), ("p", [(0.9, 0.3), (0.9, 1)])],
        [("s", [(0.1, 0.3), (0.15, 0.85), (0.5, 1), (0.85, 0.8), (0.9, 0.3)])],
        [("s", [(0.0, 0.35), (0.1, 0.3), (0.15, 0.85), (0.45, 1), (0.8, 0.75), (0.85, 0.3), (0.85, 0.9), (1, 1)])],
    ],
    "arrow": [
        [("p", [(0.5, 1), (0.5, 0)]), ("p", [(0.2, 0.3), (0.5, 0), (0.8, 0.3)])],  # up
        [("p", [(0.5, 0), (0.5, 1)]), ("p", [(0.2, 0.7), (0.5, 1), (0.8, 0.7)])],  # down
        [("p", [(0, 1), (1, 0)]), ("p", [(0.55, 0), (1, 0), (1, 0.45)])],  # up and right
        [("p", [(0.5, 1), (0.5, 0.3)]), ("p", [(0.2, 0.35), (0.5, 0), (0.8, 0.35), (0.2, 0.35)])],  # up, closed head
    ],
}
HELD_OUT_KINDS: dict[str, Kind] = {name: glyph_kind(glyphs) for name, glyphs in HELD_OUT_GLYPHS.items()}


def kind_drawing(kind: Kind, rng: np.random.Generator) -> Drawing:
    """One drawing of a kind, varied as a hand varies it, on the page's canvas."""
    strokes = _hand_wobble(kind(rng), rng, amount=0.006)
    return place_on_canvas(_warp(strokes, rng, slant=0.2, rotate=12.0), rng, min_height=0.25)


def drawings_of(kinds: dict[str, Kind], count: int, seed: int) -> tuple[list[Drawing], list[str]]:
    """`count` drawings, the kinds in turn, varied by `seed`."""
    rng = np.random.default_rng(seed)
    names = [list(kinds)[i % len(kinds)] for i in range(count)]
    return [kind_drawing(kinds[name], rng) for name in names], names


def training_set(
    writers: Sequence[PenDigit],
    characters: Sequence[OmniglotDrawing],
    seed: int,
    kinds: int = 10000,
    copies: int = 2,
    digits: int = 4000,
    shapes: int = SHAPES_COUNT,
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 28, 28) inputs and labels for `train` or `finetune --extra-data`: `copies` renderings of each
    Omniglot character given (lookalikes are dropped here), `kinds` drawings of TRAINING_KINDS, of
    the Hershey fonts' glyphs and of the kinds made of digits, and `shapes` of the fonts' held-out
    shapes, all NOT_A_DIGIT; and `digits` of the training writers' digits as themselves, so that
    what is learned is "none of the ten", not "drawn with a pen"."""
    rng = np.random.default_rng(seed)
    shown = [c for c in characters if not c.lookalike]
    drawings = [
        place_on_canvas(_warp(list(c.strokes), rng, slant=0.2, rotate=8.0), rng, min_height=0.3)
        for c in shown
        for _ in range(copies)
    ]
    made, _ = drawings_of({**TRAINING_KINDS, **hershey_kinds(), **digit_kinds(writers)}, kinds, seed + 1)
    picked = rng.choice(len(writers), min(digits, len(writers)), replace=False)
    positives, positive_labels = pen_digit_drawings([writers[i] for i in picked], 1, seed + 2)
    made += drawings_of({SHAPES: shapes_kind()}, shapes, seed + 5)[0] if shapes else []
    images = render_all(drawings + made + positives)
    labels = np.concatenate([np.full(len(drawings) + len(made), NOT_A_DIGIT, np.int64), positive_labels])
    return images, labels


def scanned_training_digits(
    count: int, seed: int, split_seed: int, data_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`count` MNIST training digits as scans (`scans.training_scans`), never one of the test set
    nor of the validation split that `digitrec train --seed split_seed` keeps back, which
    calibration reads too."""
    import torch

    from digitrec.learning.scans import training_scans
    from digitrec.learning.tensors import VALIDATION_SIZE, split_validation

    images, labels = load_split(resolve_data_dir(data_dir), "train")
    order = torch.arange(len(labels))
    kept, _, _, _ = split_validation(order, order, VALIDATION_SIZE, split_seed)
    return training_scans(images[kept.numpy()], labels[kept.numpy()], count, seed)


def write_training_set(
    out: Path,
    seed: int,
    leave_out: Sequence[str] = (),
    scans: int = 4000,
    data_dir: Path | None = None,
    limit: int | None = None,
    fonts: int = 0,
) -> str:
    """`digitrec data nondigits`: the training set, as MNIST's gzip IDX files (what --extra-data
    reads), and a manifest that `train` and `finetune` copy into the model's card, so that a model's
    evaluation knows which alphabets it never saw. With `scans` MNIST training digits as a page
    sends them, as themselves: without them, a model taught many non-digits refuses scanned 1s.
    With `fonts` drawings of the outline fonts' glyphs (`fontglyphs.py`), many writing systems'
    letters: an option of experiments, not of the recipe (docs/models.md says why).
    `limit`: about that many images in all, to check a set-up quickly (`recipe --dry-run`).
    The drawings and the scans are independent parts (the recipe makes them side by side)."""
    drawn = training_drawings(seed, leave_out, limit)
    glyphs = font_glyph_part(seed, fonts, data_dir, limit)
    return save_training_set(out, seed, drawn, training_scan_part(seed, scans, data_dir, limit), glyphs)


@dataclass
class DrawnPart:
    images: np.ndarray
    labels: np.ndarray
    alphabets: list[str]  # the Omniglot alphabets drawn from
    shapes: bool  # whether it holds the fonts' held-out shapes (SHAPES)


def training_drawings(seed: int, leave_out: Sequence[str] = (), limit: int | None = None) -> DrawnPart:
    """The drawn part of `write_training_set`: `training_set` of the alphabets not left out, and
    of the fonts' held-out shapes unless SHAPES is left out."""
    unknown = sorted(set(leave_out) - set(ALPHABETS) - {SHAPES})
    if unknown:
        choices = ", ".join([*ALPHABETS, SHAPES])
        raise DataError(f"nothing named {', '.join(unknown)} to leave out: choose among {choices}")
    alphabets = [a for a in ALPHABETS if a not in leave_out]
    characters = [c for c in load_omniglot() if c.alphabet in alphabets]
    shapes = SHAPES not in leave_out
    sizes = {"shapes": SHAPES_COUNT if shapes else 0}
    if limit is not None:
        characters = characters[: limit // 4]
        sizes = {"kinds": limit // 4, "digits": limit // 4, "shapes": max(1, limit // 8) if shapes else 0}
    images, labels = training_set(training_writers(), characters, seed, **sizes)
    return DrawnPart(images, labels, alphabets, shapes)


def training_scan_part(
    seed: int, scans: int = 4000, data_dir: Path | None = None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The scanned part of `write_training_set` (None without scans)."""
    if limit is not None:
        scans = min(scans, limit // 4)
    return scanned_training_digits(scans, seed + 3, seed, data_dir) if scans else None


def font_glyph_part(seed: int, count: int, data_dir: Path | None = None, limit: int | None = None) -> np.ndarray:
    """The fonts' glyphs of `write_training_set`, all NOT_A_DIGIT (uint8 (N, 28, 28))."""
    if limit is not None:
        count = min(count, limit // 8)
    return font_glyph_images(count, seed + 6, data_dir) if count else np.zeros((0, 28, 28), np.uint8)


def save_training_set(
    out: Path,
    seed: int,
    drawn: DrawnPart,
    scanned: tuple[np.ndarray, np.ndarray] | None,
    glyphs: np.ndarray | None = None,
) -> str:
    """The parts together, shuffled, as gzip IDX files and the manifest. Without `glyphs` (the
    recipe's), the set is bit for bit the one made before they were an option."""
    images, labels = drawn.images, drawn.labels
    glyphs = np.zeros((0, 28, 28), np.uint8) if glyphs is None else glyphs
    images = np.concatenate([images, glyphs])
    labels = np.concatenate([labels, np.full(len(glyphs), NOT_A_DIGIT, np.int64)])
    if scanned is not None:
        images, labels = np.concatenate([images, scanned[0]]), np.concatenate([labels, scanned[1]])
    # Shuffled: `finetune` holds out the last rows of a folder (its newest corrections), which
    # must be a sample of every part, not the scans alone.
    order = np.random.default_rng(seed + 4).permutation(len(labels))
    images, labels = images[order], labels[order]
    out.mkdir(parents=True, exist_ok=True)
    write_idx(out / "train-images-idx3-ubyte.gz", images)
    write_idx(out / "train-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    manifest = {
        "omniglot_alphabets": drawn.alphabets,
        SHAPES_KEY: drawn.shapes,
        "font_glyphs": len(glyphs),
        "seed": seed,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    flagged = int((labels == NOT_A_DIGIT).sum())
    return f"wrote {len(labels)} images to {out}: {flagged} not a digit, {len(labels) - flagged} digits"
