"""Honest probabilities: a temperature fitted on validation data, and the two verdicts built on it.

A network's softmax is not a probability one can trust: label smoothing caps it (not one MNIST
test image got above 99%), a double softmax squashes it (seed-ann), and a model never trained on
non-digits is sure of them anyway. So every model carries, in model.json:
- `temperature` T: digit probabilities are softmax(log p / T), fitted by minimising the negative
  log-likelihood on validation data (MNIST's validation split and held-out pendigits writers,
  never the test set); where one temperature leaves the validation ECE over 1%, also a monotone
  map of the top probability (`confidence_map`, isotonic regression on the same data);
- `uncertain_below`: the calibrated top probability under which an answer is "not sure", chosen
  on the held-out writers so that the answers above it are >= 99.5% right;
- `not_a_digit_above`: for models with an eleventh class, its probability over which a drawing is
  "not a digit", chosen so that few validation digits are flagged.
The math here is numpy only: serving applies it without torch.
"""

from __future__ import annotations

import math

import numpy as np

BINS = 15  # equal-width bins of the top probability, for the expected calibration error
FLOOR = 1e-12  # log(0) guard


def digit_probabilities(
    raw: np.ndarray, temperature: float = 1.0, knots: list[list[float]] | None = None
) -> np.ndarray:
    """The graph's probabilities (N, 10 or 11) -> calibrated digit probabilities (N, 10).

    log p is the logits up to a constant per row, so softmax(log p / T) is temperature scaling
    of the logits, whatever the graph's last layer (seed-ann's double softmax included)."""
    logits = np.log(np.maximum(raw[:, :10].astype(np.float64), FLOOR)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    probabilities = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return apply_confidence_map(probabilities, knots) if knots else probabilities


def isotonic_knots(confidence: np.ndarray, correct: np.ndarray, knots: int = 100) -> list[list[float]]:
    """A monotone map from top probability to the chance of being right (pool-adjacent-violators),
    as at most `knots` (x, y) points for np.interp: for models whose miscalibration one
    temperature cannot fix (seed-ann: over-confident when sure, under-confident when not)."""
    order = np.argsort(confidence, kind="stable")
    x, y = confidence[order].astype(np.float64), correct[order].astype(np.float64)
    # Blocks of (sum of x, sum of y, count); a block's knot is its mean confidence and accuracy,
    # so that the map passes through (confidence, accuracy) of every block: calibrated there.
    blocks: list[list[float]] = []
    for xi, yi in zip(x, y, strict=True):
        blocks.append([xi, yi, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] > blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [blocks[-1][0] + last[0], blocks[-1][1] + last[1], blocks[-1][2] + last[2]]
    points = [(b[0] / b[2], b[1] / b[2]) for b in blocks]
    picks = np.unique(np.linspace(0, len(points) - 1, min(knots, len(points))).round().astype(int))
    return [[round(points[i][0], 6), round(points[i][1], 6)] for i in picks]


def knots_by_halves(probabilities: np.ndarray, labels: np.ndarray, choices: tuple[int, ...] = (20, 40, 100)) -> int:
    """How detailed the map may be without fitting noise: two-fold cross-validation of the ECE."""
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    halves = (np.arange(len(labels)) % 2 == 0, np.arange(len(labels)) % 2 == 1)

    def held_out_ece(knots: int) -> float:
        total = 0.0
        for fit, check in (halves, halves[::-1]):
            mapped = apply_confidence_map(probabilities[check], isotonic_knots(confidence[fit], correct[fit], knots))
            total += expected_calibration_error(mapped, labels[check])
        return total

    return min(choices, key=held_out_ece)


def apply_confidence_map(probabilities: np.ndarray, knots: list[list[float]]) -> np.ndarray:
    """Replace each top probability by the map's value, the others scaled to keep the sum 1;
    the answer never changes (the top stays at least the runner-up)."""
    xs, ys = np.array([k[0] for k in knots]), np.array([k[1] for k in knots])
    rows = np.arange(len(probabilities))
    top = probabilities.argmax(axis=1)
    old = probabilities[rows, top].astype(np.float64)
    rest = np.maximum(1.0 - old, FLOOR)
    runner_up = np.partition(probabilities, -2, axis=1)[:, -2] / rest
    # new top t and runner-up (1 - t) * r: t >= (1 - t) r  <=>  t >= r / (1 + r)
    new = np.maximum(np.interp(old, xs, ys), runner_up / (1 + runner_up) + 1e-5)
    scaled = probabilities * ((1.0 - new) / rest)[:, None]
    scaled[rows, top] = new
    return scaled.astype(np.float32)


def not_a_digit_probability(raw: np.ndarray) -> np.ndarray:
    """P(not a digit) for models with the eleventh class; zeros for ten-class models."""
    return raw[:, 10].astype(np.float32) if raw.shape[1] > 10 else np.zeros(len(raw), np.float32)


def verdicts(
    probabilities: np.ndarray, rejection: np.ndarray, uncertain_below: float, not_a_digit_above: float
) -> tuple[np.ndarray, np.ndarray]:
    """The verdict rule, the only place it is written: (uncertain, not_a_digit) per row of
    calibrated digit probabilities (N, 10) and not-a-digit scores (N,). A drawing is "not a
    digit" when its score is over the model's threshold, and "not sure" when its calibrated top
    probability is under the model's threshold; where both hold, "not a digit" is what is shown
    (`DigitReading.verdict`)."""
    uncertain = probabilities.max(axis=1) < uncertain_below
    not_a_digit = rejection > not_a_digit_above
    return uncertain, not_a_digit


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    return float(-np.log(np.maximum(picked, FLOOR)).mean())


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Weighted mean |accuracy - confidence| over equal-width bins of the top probability."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """Per bin: its range, how many answers, their mean confidence and accuracy (for a diagram)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        if members.any():
            rows.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "count": int(members.sum()),
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                }
            )
    return rows


def fit_temperature(raw: np.ndarray, labels: np.ndarray) -> float:
    """The T that minimises validation NLL: golden-section search on log T in [-4, 4]."""
    low, high = -4.0, 4.0
    ratio = (math.sqrt(5) - 1) / 2

    def loss(log_t: float) -> float:
        return negative_log_likelihood(digit_probabilities(raw, math.exp(log_t)), labels)

    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(60):
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return round(math.exp((low + high) / 2), 5)


def uncertain_threshold(probabilities: np.ndarray, labels: np.ndarray, target: float = 0.995) -> float:
    """The lowest top-probability threshold whose confident answers are >= `target` right.

    Answers are sorted by confidence; the threshold is the confidence of the last answer at which
    the running accuracy of everything more confident still meets the target."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    meets = np.flatnonzero(running >= target)
    if meets.size == 0:
        return 1.0
    # The longest prefix that meets the target; its last confidence is the threshold.
    return float(confidence[order][meets[-1]])


def not_a_digit_threshold(digit_scores: list[np.ndarray], max_rates: list[float], floor: float = 0.5) -> float:
    """The lowest P(not a digit) threshold that flags at most `max_rates[i]` of `digit_scores[i]`."""
    threshold = floor
    for scores, rate in zip(digit_scores, max_rates, strict=True):
        if len(scores):
            threshold = max(threshold, float(np.quantile(scores, 1.0 - rate)))
    return round(min(threshold, 0.999), 4)
