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
