"""The calibration math: ECE, NLL, temperature fitting and the "not sure" threshold."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.reading import calibration


def synthetic(n: int, temperature: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a model that is over-confident by `temperature`, and labels drawn from
    the truly calibrated distribution."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, 10))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = (true.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(max=9)
    sharp = np.exp(logits * temperature)
    return (sharp / sharp.sum(1, keepdims=True)).astype(np.float32), labels


def test_temperature_is_recovered() -> None:
    raw, labels = synthetic(20000, temperature=2.5)
    fitted = calibration.fit_temperature(raw, labels)
    assert fitted == pytest.approx(2.5, rel=0.05)
    before = calibration.expected_calibration_error(raw, labels)
    after = calibration.expected_calibration_error(calibration.digit_probabilities(raw, fitted), labels)
    assert after < 0.015 < before


def test_ece_of_a_perfectly_calibrated_and_a_wrong_model() -> None:
    raw, labels = synthetic(20000, temperature=1.0, seed=1)
    assert calibration.expected_calibration_error(raw, labels) < 0.015
    sure_and_wrong = np.eye(10, dtype=np.float32)[(labels + 1) % 10]
    assert calibration.expected_calibration_error(sure_and_wrong, labels) == pytest.approx(1.0)
    assert calibration.negative_log_likelihood(sure_and_wrong, labels) > 20


def test_uncertain_threshold_gives_the_target_accuracy() -> None:
    raw, labels = synthetic(5000, temperature=1.0, seed=2)
    threshold = calibration.uncertain_threshold(raw, labels, target=0.95)
    confident = raw.max(1) >= threshold
    assert (raw.argmax(1)[confident] == labels[confident]).mean() >= 0.95
    assert 0.05 < confident.mean() < 1.0


def test_digit_probabilities_drop_the_not_a_digit_class() -> None:
    raw = np.array([[0.1] * 10 + [0.0], [0.0] * 10 + [1.0]], dtype=np.float32)
    raw[0, 3] = 0.5
    digits = calibration.digit_probabilities(raw)
    assert digits.shape == (2, 10) and np.allclose(digits.sum(1), 1)
    assert calibration.not_a_digit_probability(raw).tolist() == [0.0, 1.0]
    assert calibration.not_a_digit_probability(raw[:, :10]).tolist() == [0.0, 0.0]
