"""Drawings as the page makes them: people's pen strokes replayed on a canvas, and things that are
not digits at all. Both become 28x28 model inputs through the API's own `strokes` road
(`decode.render_strokes`, then `preprocess`), so training sees exactly what serving will see.

A drawing here is (strokes, width, height, line_width), the fields of the API's strokes input:
strokes of (x, y) points in canvas pixels, y down.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from digitrec.learning.data import PenDigit
from digitrec.reading.decode import render_strokes
from digitrec.reading.preprocess import preprocess

NOT_A_DIGIT = 10  # the class index of "not a digit" in models that have it
Strokes = list[np.ndarray]


@dataclass(frozen=True)
class Drawing:
    strokes: Strokes
    width: int
    height: int
    line_width: float


def to_input(drawing: Drawing) -> np.ndarray:
    """The 28x28 model input the API makes of this drawing sent as `strokes` JSON."""
    canvas = render_strokes([s.tolist() for s in drawing.strokes], drawing.width, drawing.height, drawing.line_width)
    return preprocess(canvas)


def render_all(drawings: Sequence[Drawing]) -> np.ndarray:
    """Many drawings -> uint8 (N, 28, 28), the storage format of the training images."""
    images = np.zeros((len(drawings), 28, 28), dtype=np.uint8)
    for index, drawing in enumerate(drawings):
        images[index] = np.round(to_input(drawing) * 255)
    return images


def bounds(strokes: Strokes) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(axis=0), points.max(axis=0)


def _warp(strokes: Strokes, rng: np.random.Generator, slant: float, rotate: float) -> Strokes:
    """A person's variation: slant (shear), a small rotation and an aspect change."""
    angle = math.radians(rng.uniform(-rotate, rotate))
    shear = rng.uniform(-slant, slant)
    aspect = math.exp(rng.uniform(-0.15, 0.15))
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.array([[cos * aspect, -sin + shear], [sin * aspect, cos]], dtype=np.float32)
    return [s @ matrix.T for s in strokes]


def place_on_canvas(strokes: Strokes, rng: np.random.Generator, min_height: float = 0.3) -> Drawing:
    """Scale a drawing to a random size and position on a page-sized canvas, with a random pen.

    Sizes and pens cover what the page sees: a 280-420 px canvas, the drawing 30-85% of its
    height, a pen 4-20% of the drawing's height (the page's default 22 px pen on a 250 px digit
    is 9%).
    """
    side = int(rng.integers(280, 421))
    low, high = bounds(strokes)
    extent = np.maximum(high - low, 1e-3)
    height_px = rng.uniform(min_height, 0.85) * side
    scale = height_px / max(extent[1], extent[0] * 0.6)
    scale = min(scale, 0.9 * side / max(extent[0], extent[1]))
    pen = float(np.clip(rng.uniform(0.04, 0.2) * max(extent) * scale, 3.0, 40.0))
    size = extent * scale
    margin = pen / 2 + 1
    offset = np.array([rng.uniform(margin, max(margin, side - size[i] - margin)) for i in (0, 1)], np.float32)
    placed = [((s - low) * scale + offset).astype(np.float32) for s in strokes]
    return Drawing(placed, side, side, pen)


def pen_digit_drawing(digit: PenDigit, rng: np.random.Generator) -> Drawing:
    """A pendigits digit replayed on the page's canvas, varied like another person's hand."""
    return place_on_canvas(_warp(list(digit.strokes), rng, slant=0.25, rotate=8.0), rng, min_height=0.3)


def pen_digit_drawings(digits: Sequence[PenDigit], copies: int, seed: int) -> tuple[list[Drawing], np.ndarray]:
    """`copies` varied renderings of each digit, with their labels."""
    rng = np.random.default_rng(seed)
    drawings = [pen_digit_drawing(d, rng) for d in digits for _ in range(copies)]
    labels = np.repeat(np.array([d.label for d in digits], dtype=np.int64), copies)
    return drawings, labels


# --- Things that are not digits, drawn as a person would: a unit box, y down ----------------


def _line(a: Sequence[float], b: Sequence[float], n: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


def _polyline(points: Sequence[Sequence[float]], n: int = 10) -> np.ndarray:
    parts = [_line(points[i], points[i + 1], n)[:-1] for i in range(len(points) - 1)]
    return np.concatenate([*parts, np.asarray(points[-1:], np.float32)])


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 40) -> np.ndarray:
    t = np.linspace(start, end, n, dtype=np.float32)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1).astype(np.float32)


def _dot(rng: np.random.Generator) -> Strokes:
    # A click is one point; a shaky tap a few points within a pixel or two.
    return [rng.normal(0.5, 0.004, (int(rng.integers(1, 4)), 2)).astype(np.float32)]


def _dash(rng: np.random.Generator) -> Strokes:
    # Within 25 degrees of horizontal: a vertical line is a 1.
    angle = math.radians(rng.uniform(-25, 25))
    half = rng.uniform(0.15, 0.5)
    dx, dy = half * math.cos(angle), half * math.sin(angle)
    return [_line((0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy))]


def _equals(rng: np.random.Generator) -> Strokes:
    gap = rng.uniform(0.12, 0.3)
    return [_line((0.2, 0.5 - gap / 2), (0.8, 0.5 - gap / 2)), _line((0.2, 0.5 + gap / 2), (0.8, 0.5 + gap / 2))]


def _scribble(rng: np.random.Generator) -> Strokes:
    turns = int(rng.integers(6, 18))
    return [_polyline(rng.uniform(0.0, 1.0, (turns, 2)).tolist(), n=6)]


def _zigzag(rng: np.random.Generator) -> Strokes:
    teeth = int(rng.integers(3, 7))
    xs = np.linspace(0, 1, 2 * teeth + 1)
    ys = np.where(np.arange(xs.size) % 2 == 0, 0.65, 0.35)
    return [_polyline(np.stack([xs, ys], axis=1).tolist(), n=6)]


def _wave(rng: np.random.Generator) -> Strokes:
    x = np.linspace(0, 1, 60, dtype=np.float32)
    y = 0.5 + rng.uniform(0.08, 0.2) * np.sin(x * math.pi * 2 * rng.uniform(1.5, 3.5))
    return [np.stack([x, y], axis=1).astype(np.float32)]


def _cross(rng: np.random.Generator) -> Strokes:
    return [_line((0.1, 0.1), (0.9, 0.9)), _line((0.9, 0.1), (0.1, 0.9))]


def _plus(rng: np.random.Generator) -> Strokes:
    return [_line((0.1, 0.5), (0.9, 0.5)), _line((0.5, 0.1), (0.5, 0.9))]


def _hash(rng: np.random.Generator) -> Strokes:
    return [
        _line((0.1, 0.35), (0.9, 0.35)),
        _line((0.1, 0.65), (0.9, 0.65)),
        _line((0.35, 0.1), (0.3, 0.9)),
        _line((0.7, 0.1), (0.65, 0.9)),
    ]


def _asterisk(rng: np.random.Generator) -> Strokes:
    return [_line((0.5, 0.05), (0.5, 0.95)), _line((0.1, 0.25), (0.9, 0.75)), _line((0.9, 0.25), (0.1, 0.75))]


def _triangle(rng: np.random.Generator) -> Strokes:
    return [_polyline([(0.5, 0.05), (0.95, 0.9), (0.05, 0.9), (0.5, 0.05)])]


def _square(rng: np.random.Generator) -> Strokes:
    w = rng.uniform(0.5, 1.0)
    return [_polyline([(0, 0), (w, 0), (w, 1), (0, 1), (0, 0)])]


def _star(rng: np.random.Generator) -> Strokes:
    points = [(0.5 + 0.5 * math.sin(k * 4 * math.pi / 5), 0.5 - 0.5 * math.cos(k * 4 * math.pi / 5)) for k in range(6)]
    return [_polyline(points)]


def _spiral(rng: np.random.Generator) -> Strokes:
    t = np.linspace(0, rng.uniform(3, 5) * math.pi, 120, dtype=np.float32)
    r = 0.05 + 0.45 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], axis=1).astype(np.float32)]


def _smiley(rng: np.random.Generator) -> Strokes:
    face = _arc(0.5, 0.5, 0.5, 0.5, 0, 2 * math.pi, 60)
    eyes = [np.array([[0.33, 0.35]], np.float32), np.array([[0.67, 0.35]], np.float32)]
    mouth = _arc(0.5, 0.55, 0.25, 0.18, 0.2, math.pi - 0.2, 20)
    return [face, *eyes, mouth]


def _heart(rng: np.random.Generator) -> Strokes:
    t = np.linspace(0, 2 * math.pi, 80, dtype=np.float32)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([0.5 + x / 34, 0.5 + y / 34], axis=1).astype(np.float32)]


def _check(rng: np.random.Generator) -> Strokes:
    return [_polyline([(0.0, 0.55), (0.3, 0.9), (1.0, 0.1)])]


def _arrow(rng: np.random.Generator) -> Strokes:
    return [_line((0.0, 0.5), (1.0, 0.5)), _polyline([(0.7, 0.25), (1.0, 0.5), (0.7, 0.75)])]


# Letters that do not look like digits (O, I, l, S, Z, B, g, q need not be flagged, and T, V, Y,
# L are left out too: a 7, a 1 with a base and an open 4 come too close to them).
_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "F": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "H": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.9, 1.0)], [(0.1, 0.5), (0.9, 0.5)]],
    "K": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.1, 0.55), (0.9, 1.0)]],
    "M": [[(0.0, 1.0), (0.1, 0.0), (0.5, 0.7), (0.9, 0.0), (1.0, 1.0)]],
    "N": [[(0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "R": [[(0.1, 1.0), (0.1, 0.0), (0.7, 0.0), (0.85, 0.25), (0.7, 0.5), (0.1, 0.5)], [(0.4, 0.5), (0.9, 1.0)]],
    "k": [[(0.2, 0.0), (0.2, 1.0)], [(0.8, 0.4), (0.2, 0.75), (0.85, 1.0)]],
    "m": [
        [(0.0, 1.0), (0.0, 0.4), (0.3, 0.35), (0.5, 0.5), (0.5, 1.0)],
        [(0.5, 0.5), (0.75, 0.35), (1.0, 0.5), (1.0, 1.0)],
    ],
    "w": [[(0.0, 0.3), (0.25, 1.0), (0.5, 0.5), (0.75, 1.0), (1.0, 0.3)]],
    "x": [[(0.1, 0.3), (0.9, 1.0)], [(0.9, 0.3), (0.1, 1.0)]],
}


def _letter(rng: np.random.Generator) -> Strokes:
    shapes = _LETTERS[str(rng.choice(sorted(_LETTERS)))]
    return [_polyline(points, n=8) for points in shapes]


NON_DIGIT_KINDS: dict[str, Callable[[np.random.Generator], Strokes]] = {
    "dot": _dot,
    "dash": _dash,
    "equals": _equals,
    "scribble": _scribble,
    "zigzag": _zigzag,
    "wave": _wave,
    "cross": _cross,
    "plus": _plus,
    "hash": _hash,
    "asterisk": _asterisk,
    "triangle": _triangle,
    "square": _square,
    "star": _star,
    "spiral": _spiral,
    "smiley": _smiley,
    "heart": _heart,
    "check": _check,
    "arrow": _arrow,
    "letter": _letter,
}


def _hand_wobble(strokes: Strokes, rng: np.random.Generator, amount: float) -> Strokes:
    """A hand is not a ruler: smooth random drift along each stroke, plus jitter."""
    wobbly = []
    for stroke in strokes:
        drift = np.cumsum(rng.normal(0, amount, stroke.shape), axis=0).astype(np.float32)
        drift -= np.linspace(0, 1, len(stroke), dtype=np.float32)[:, None] * drift[-1]  # ends stay put
        wobbly.append(stroke + drift + rng.normal(0, amount / 3, stroke.shape).astype(np.float32))
    return wobbly


def non_digit_drawing(kind: str, rng: np.random.Generator) -> Drawing:
    strokes = _hand_wobble(NON_DIGIT_KINDS[kind](rng), rng, amount=0.006)
    strokes = _warp(strokes, rng, slant=0.2, rotate=12.0 if kind not in ("dash", "equals") else 4.0)
    if kind == "dot":  # a click keeps its size whatever the canvas: no scaling up
        side = int(rng.integers(280, 421))
        centre = rng.uniform(0.2 * side, 0.8 * side, 2).astype(np.float32)
        pen = float(rng.uniform(6, 30))
        return Drawing([s - s.mean(axis=0) + centre for s in strokes], side, side, pen)
    return place_on_canvas(strokes, rng, min_height=0.25)


def non_digit_drawings(count: int, seed: int) -> tuple[list[Drawing], list[str]]:
    """`count` non-digit drawings, the kinds in turn, each varied by `seed`."""
    rng = np.random.default_rng(seed)
    kinds = [list(NON_DIGIT_KINDS)[i % len(NON_DIGIT_KINDS)] for i in range(count)]
    return [non_digit_drawing(kind, rng) for kind in kinds], kinds
