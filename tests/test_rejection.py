"""`digitrec evaluate --dataset omniglot|held-out-kinds|scans`: "not a digit" measured only on what
a model never trained on, with the AUROC beside the operating point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitrec.learning.rejection import rejection_report
from digitrec.learning.scans import PAGE, SMALL_SIDES, page_pixels, png_bytes, scan_inputs
from digitrec.reading.inference import Predictor

pytestmark = pytest.mark.slow  # each reads the MNIST test set through a model


def test_held_out_kinds_through_the_cli(data_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "digitrec",
            "evaluate",
            "--dataset",
            "held-out-kinds",
            "--data-dir",
            str(data_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 2200 and set(report["by_group"]) >= {"T", "?", "arrow"}
    assert 0.0 <= report["not_a_digit_rate"] <= 1.0 and 0.5 < report["auroc_vs_mnist_test"] <= 1.0


def test_held_out_kinds_of_a_model_that_learned_their_shapes_are_recorded_only_with_a_rotation(
    tmp_path: Path, data_dir: Path
) -> None:
    """Else the card would keep figures on shapes the model learned as the unseen shapes' figures."""
    import shutil

    from digitrec.reading.card import resolve_model

    shutil.copytree(resolve_model("cnn"), tmp_path / "cnn")
    before = (tmp_path / "cnn" / "model.json").read_text()
    command = [sys.executable, "-m", "digitrec", "evaluate", "--model", str(tmp_path / "cnn")]
    result = subprocess.run(
        [*command, "--dataset", "held-out-kinds", "--data-dir", str(data_dir), "--record"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )
    assert result.returncode == 1 and "with --rotation DIR" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "cnn" / "model.json").read_text() == before


def test_omniglot_measures_only_alphabets_never_seen(data_dir: Path) -> None:
    report = rejection_report("cnn", "omniglot", data_dir)
    seen = set(report["trained_on_alphabets"])
    assert not seen & set(report.get("by_group", {}))
    assert report["n"] == sum(g["n"] for g in report.get("by_group", {}).values())


def test_a_scan_learned_from_is_the_same_input_as_one_sent_as_png(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    """Training and calibration skip the PNG round trip; a lossless PNG must make no difference."""
    images, _ = mnist_test
    sent = scan_inputs(images[:20], seed=5)
    skipped = scan_inputs(images[:20], seed=5, as_png=False)
    assert np.array_equal(sent, skipped)
    pixels = page_pixels(images[0], np.random.default_rng(9))
    assert pixels.shape == PAGE[::-1] and pixels.dtype == np.uint8 and pixels.min() < 120 < pixels.max()


def test_small_scans_are_small_and_half_of_them_black_and_white(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = mnist_test
    rng = np.random.default_rng(3)
    sides, binarized = [], 0
    for digit in images[:60]:
        page = page_pixels(digit, rng, small=SMALL_SIDES).astype(np.int16)
        paper, pen = int(np.median(page)), int(page.min()) + 12  # the darkest grain of the pen's ink
        ink = page < (paper + pen) // 2
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        sides.append(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)
        # Grain is at most 4 levels (sigma): a black-and-white page has next to no grey between.
        grey = ((page > pen + 15) & (page < paper - 20)).sum()
        binarized += grey < 0.05 * ink.sum()
    # The digit fills about 0.7 of the square (20-112 px); log-uniform, so half are under 40 px.
    assert max(sides) <= 0.8 * SMALL_SIDES[1] and min(sides) < 20 and np.median(sides) < 40
    assert 15 <= binarized <= 45


def test_a_scanned_digit_is_a_page_sent_as_png(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    png = png_bytes(page_pixels(images[0], np.random.default_rng(0)))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    inputs = scan_inputs(images[:50], seed=1)
    assert inputs.shape == (50, 1, 28, 28) and PAGE == (600, 800)
    read = Predictor("cnn", threads=2).raw(inputs)[:, :10].argmax(axis=1)
    assert (read == labels[:50]).mean() >= 0.95
