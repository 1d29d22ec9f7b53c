"""Whole numbers composed from MNIST test digits, as a person writes them: varied spacing (some
pairs touching or overlapping a little), size and baseline."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image


def crop(digit: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def compose(images: list[np.ndarray], rng: random.Random, touching: bool = False) -> tuple[np.ndarray, float]:
    """Dark-on-white canvas holding the digits left to right; returns it and the smallest gap used."""
    height = rng.randint(60, 110)
    pieces = []
    for image in images:
        piece = crop(image)
        scale = height * rng.uniform(0.85, 1.1) / piece.shape[0]
        size = (max(2, round(piece.shape[1] * scale)), max(2, round(piece.shape[0] * scale)))
        pieces.append(np.asarray(Image.fromarray(piece).resize(size, Image.Resampling.BILINEAR)))
    gaps = [rng.choice([-3, 0, 1]) if touching and i == 0 else rng.randint(6, 30) for i in range(len(pieces) - 1)]
    width = sum(p.shape[1] for p in pieces) + sum(gaps) + 80
    canvas = np.zeros((int(height * 1.6) + 60, width), dtype=np.uint8)
    x = 40
    for index, piece in enumerate(pieces):
        y = 30 + rng.randint(0, int(height * 0.25))
        region = canvas[y : y + piece.shape[0], x : x + piece.shape[1]]
        np.maximum(region, piece, out=region)
        if index < len(gaps):
            x += piece.shape[1] + gaps[index]
    return 255 - canvas, min(gaps) if gaps else 0


# --- Numbers written with people's pen strokes (UCI pendigits writers) ---------------------


def _extent(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(axis=0), points.max(axis=0)


def _dense(strokes: list[np.ndarray], step: float) -> np.ndarray:
    """The strokes' centre lines as points at most `step` apart (for contact distances)."""
    out = []
    for stroke in strokes:
        out.append(stroke[:1])
        for a, b in zip(stroke[:-1], stroke[1:], strict=True):
            n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
            out.append(a + (b - a) * np.linspace(0, 1, n + 1)[1:, None])
    return np.concatenate(out)


def contact_shift(left: np.ndarray, right: np.ndarray, reach: float) -> float:
    """How far right of where it is `right` must stay so that no centre-line point comes within
    `reach` of `left`: sliding it in from the right, the shift of first contact."""
    dy = right[None, :, 1] - left[:, None, 1]
    close = np.abs(dy) < reach
    if not close.any():
        return -np.inf
    dx = left[:, None, 0] - right[None, :, 0] + np.sqrt(np.maximum(reach**2 - dy**2, 0))
    return float(dx[close].max())


def compose_strokes(
    digits: list[np.ndarray] | list[list[np.ndarray]], rng: random.Random, touching: bool = False
) -> tuple[list[list[list[float]]], int, int, float]:
    """Strokes of a number written left to right: each digit a writer's strokes (y down), at a
    size, baseline and spacing that vary as a person's do, with one pen for the number. With
    `touching`, the first two digits touch or overlap by up to half a pen.

    Returns the API's strokes fields: strokes, width, height, line_width."""
    height = rng.uniform(30, 200)
    pen = min(40.0, max(2.0, height * rng.uniform(0.04, 0.15)))
    placed: list[list[np.ndarray]] = []
    right_edge = 0.0
    for index, strokes in enumerate(digits):
        strokes = [np.asarray(s, dtype=np.float64) for s in strokes]
        low, high = _extent(strokes)
        size = height * rng.uniform(0.85, 1.1)
        scale = size / max(high[1] - low[1], 1e-6)
        lift = rng.uniform(0, 0.2) * height  # a wandering baseline
        strokes = [(s - low) * scale + [0.0, lift] for s in strokes]
        if placed:
            previous = _dense(placed[-1], max(1.0, pen / 4))
            here = _dense(strokes, max(1.0, pen / 4))
            if touching and index == 1:
                shift = contact_shift(previous, here, pen * rng.uniform(0.5, 1.0))
            else:
                gap = rng.uniform(0.08, 0.5) * height
                shift = max(right_edge + gap, contact_shift(previous, here, pen * 1.6))
            strokes = [s + [shift, 0.0] for s in strokes]
        placed.append(strokes)
        right_edge = max(right_edge, max(float(s[:, 0].max()) for s in strokes))
    margin = pen + 10
    everything = [s for strokes in placed for s in strokes]
    low, high = _extent(everything)
    moved = [(s - low + margin).round(1).tolist() for s in everything]
    width, tall = int(high[0] - low[0] + 2 * margin), int(high[1] - low[1] + 2 * margin)
    return moved, width, tall, round(pen, 1)
