"""Digits as a scan or a photo of a page sends them: an MNIST digit written in dark ink on a
page-sized sheet of off-white paper, saved as PNG, then read back through the API's image road
(`decode.decode_image`, `preprocess`). The page never sees a digit centred in a 28x28 box."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from digitrec.reading.decode import decode_image
from digitrec.reading.preprocess import preprocess

PAGE = (600, 800)  # width, height: a page at a phone's or a scanner's low resolution


def page_pixels(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (800, 600) pixels of a page with `digit` (uint8 28x28, ink high) on it: 40-240 px
    tall (MNIST's digits fill about 20 of their 28 rows), anywhere on the page, ink 10-90 on paper
    215-250, with grain."""
    side = int(rng.uniform(56, 336))
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    width, height = PAGE
    paper, pen = rng.uniform(215, 250), rng.uniform(10, 90)
    page = np.full((height, width), paper, np.float32)
    top, left = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
    page[top : top + side, left : left + side] -= (paper - pen) * np.clip(ink, 0, 1)
    page += rng.normal(0, rng.uniform(1, 4), page.shape).astype(np.float32)
    return np.clip(page, 0, 255).astype(np.uint8)


def page_with_digit(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """The page of `page_pixels` as PNG bytes, as a scan or a photo arrives."""
    encoded = io.BytesIO()
    # The fastest compression: grain does not compress, and the pixels decoded are the same.
    Image.fromarray(page_pixels(digit, rng)).save(encoded, "PNG", compress_level=1)
    return encoded.getvalue()


def scan_inputs(digits: Sequence[np.ndarray] | np.ndarray, seed: int, as_png: bool = True) -> np.ndarray:
    """Each digit on its own page, back through the API's road -> (N, 1, 28, 28). `as_png`: sent
    as PNG and decoded, as the published figures are measured; without it the page's pixels go
    straight to `preprocess`. PNG is lossless, so both give the same inputs (a test checks), and
    the PNG's encoding and decoding are 60% of a scan's cost: what is learned from and calibrated
    on (6,000 scans a recipe) skips them."""
    rng = np.random.default_rng(seed)

    def page(digit: np.ndarray) -> Image.Image | np.ndarray:
        return decode_image(page_with_digit(digit, rng)) if as_png else page_pixels(digit, rng)

    return np.stack([preprocess(page(d)) for d in digits])[:, None]


def training_scans(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 28, 28) inputs of `count` of these digits as scans, with their labels: digits as
    a page sends them, to learn from beside the pen's. Give it training digits only: the
    validation split and the test set are what calibration and `evaluate --dataset scans` read."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(labels), min(count, len(labels)), replace=False)
    inputs = scan_inputs(images[picked], seed + 1, as_png=False)[:, 0]
    return np.round(inputs * 255).astype(np.uint8), labels[picked].astype(np.int64)
