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
# Small or black-and-white digits, measured apart (`rejection.SMALL_SCANS_SEED`): a postal code's
# 11-16 px digits, a fax, a thresholded scan. The MNIST square is drawn 20-112 px across (the digit
# 14-80 px tall), log-uniformly, so most are small, and half are binarized. Not learned from: a
# cnn that learned 2,000 such training digits refused one of these 3,000 fewer (docs/models.md).
SMALL_SIDES = (20, 112)
BINARIZED = 0.5  # the share of small scans whose ink is thresholded to black and white


def page_pixels(digit: np.ndarray, rng: np.random.Generator, small: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (800, 600) pixels of a page with `digit` (uint8 28x28, ink high) on it: 40-240 px
    tall (MNIST's digits fill about 20 of their 28 rows), anywhere on the page, ink 10-90 on paper
    215-250, with grain. `small`: the square's sides instead (log-uniform), half of them in black
    and white (`BINARIZED`)."""
    side = int(rng.uniform(56, 336)) if small is None else round(float(np.exp(rng.uniform(*np.log(small)))))
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    if small is not None and rng.random() < BINARIZED:
        ink = (ink > rng.uniform(0.35, 0.65)).astype(np.float32)
    width, height = PAGE
    paper, pen = rng.uniform(215, 250), rng.uniform(10, 90)
    page = np.full((height, width), paper, np.float32)
    top, left = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
    page[top : top + side, left : left + side] -= (paper - pen) * np.clip(ink, 0, 1)
    page += rng.normal(0, rng.uniform(1, 4), page.shape).astype(np.float32)
    return np.clip(page, 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    """A page of `page_pixels` as PNG bytes, as a scan or a photo arrives."""
    encoded = io.BytesIO()
    # The fastest compression: grain does not compress, and the pixels decoded are the same.
    Image.fromarray(pixels).save(encoded, "PNG", compress_level=1)
    return encoded.getvalue()


def scan_inputs(
    digits: Sequence[np.ndarray] | np.ndarray, seed: int, as_png: bool = True, small: tuple[int, int] | None = None
) -> np.ndarray:
    """Each digit on its own page, back through the API's road -> (N, 1, 28, 28). `as_png`: sent
    as PNG and decoded, as the published figures are measured; without it the page's pixels go
    straight to `preprocess`. PNG is lossless, so both give the same inputs (a test checks), and
    the PNG's encoding and decoding are 60% of a scan's cost: what is learned from and calibrated
    on (6,000 scans a recipe) skips them. `small`: small or black-and-white pages (`page_pixels`)."""
    rng = np.random.default_rng(seed)

    def page(digit: np.ndarray) -> Image.Image | np.ndarray:
        pixels = page_pixels(digit, rng, small)
        return decode_image(png_bytes(pixels)) if as_png else pixels

    return np.stack([preprocess(page(d)) for d in digits])[:, None]


def training_scans(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 28, 28) inputs of `count` of these digits as scans, with their labels: digits as
    a page sends them, to learn from beside the pen's. Give it training digits only: the
    validation split and the test set are what calibration and `evaluate --dataset scans` read."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(labels), min(count, len(labels)), replace=False)
    inputs = scan_inputs(images[picked], seed + 1, as_png=False)[:, 0]
    return np.round(inputs * 255).astype(np.uint8), labels[picked].astype(np.int64)
