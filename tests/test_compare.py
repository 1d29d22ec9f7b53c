"""The held-out split of corrections and the verdict rule of `digitrec finetune`'s comparison."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from digitrec.learning.compare import BETTER, NOT_BETTER, judge
from digitrec.learning.finetune import calibrate_candidate, split_by_time
from digitrec.reading.card import METADATA_FILE, ONNX_FILE, WEIGHTS_FILE, ModelCard, resolve_model


def test_the_newest_share_of_each_folder_is_held_out() -> None:
    older = (np.arange(10)[:, None, None] * np.ones((1, 28, 28), np.uint8), np.arange(10))
    newer = (np.zeros((5, 28, 28), np.uint8), np.arange(100, 105))
    fit_x, fit_y, held_x, held_y = split_by_time([older, newer], 0.2)
    assert held_y.tolist() == [8, 9, 104] and fit_y.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 100, 101, 102, 103]
    assert len(fit_x) == 12 and len(held_x) == 3
    assert split_by_time([older], 0.0)[3].tolist() == []


def figures(**changed: tuple[float, float]) -> dict[str, dict[str, float]]:
    base = {
        "corrections": (0.5, 0.8),
        "mnist_test": (0.997, 0.997),
        "writers": (0.998, 0.998),
        "non_digits": (0.3, 0.3),
    }
    return {name: {"served": s, "candidate": c, "n": 100} for name, (s, c) in (base | changed).items()}


def test_better_needs_more_corrections_right_and_no_loss_past_tolerance() -> None:
    assert judge(figures()) == (BETTER, [])
    assert judge(figures(mnist_test=(0.997, 0.9961)))[0] == BETTER  # 0.09 points: within 0.1
    verdict, reasons = judge(figures(mnist_test=(0.997, 0.9955)))
    assert verdict == NOT_BETTER and reasons == ["mnist_test: 0.15 points lost, over the 0.1 allowed"]
    assert judge(figures(corrections=(0.5, 0.5)))[1] == ["it reads no more of the held-out corrections right"]
    assert judge(figures(non_digits=(0.3, 0.25)))[0] == NOT_BETTER
    without = {k: v for k, v in figures().items() if k != "corrections"}
    assert judge(without) == (NOT_BETTER, ["no held-out corrections to measure it on"])


def test_a_ten_class_model_leaves_not_a_digit_out() -> None:
    import pytest

    from digitrec.errors import DataError
    from digitrec.learning.finetune import within_classes
    from digitrec.reading.card import ModelCard

    ten = ModelCard(name="mlp", architecture="mlp", config={"classes": 10})
    images = np.zeros((6, 28, 28), np.uint8)
    kept, left_out = within_classes((images[:4], np.array([1, 10, 2, 10]), images[4:], np.array([10, 3])), ten)
    assert left_out == 3 and kept[1].tolist() == [1, 2] and kept[3].tolist() == [3] and len(kept[0]) == 2
    eleven = ModelCard(name="cnn", architecture="cnn", config={"classes": 11})
    assert within_classes((images[:2], np.array([10, 1]), images[2:3], np.array([10])), eleven)[1] == 0
    with pytest.raises(DataError, match="none of these corrections"):
        within_classes((images[:1], np.array([10]), images[1:1], np.array([], int)), ten)


def test_a_candidate_that_cannot_be_calibrated_says_so(tmp_path: Path, data_dir: Path) -> None:
    """Without the held-out writers to calibrate on, the candidate keeps the tuned model's
    calibration, and a note says so (finetune then refuses to call it better)."""
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    for name in (METADATA_FILE, ONNX_FILE, WEIGHTS_FILE):
        shutil.copy(resolve_model("cnn") / name, candidate / name)
    before = ModelCard.load(candidate).calibration
    (tmp_path / "no-pendigits").mkdir()
    notes = calibrate_candidate(candidate, data_dir, tmp_path / "no-pendigits")
    assert len(notes) == 1 and "calibration kept from the tuned model" in notes[0]
    assert ModelCard.load(candidate).calibration == before
