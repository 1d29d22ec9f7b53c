"""Reading whole numbers (/api/read) and explaining predictions (explain: true)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import on_white_canvas, png_bytes, probabilities_of
from digitrec.reading.explain import explain
from digitrec.reading.inference import Predictor
from digitrec.reading.preprocess import mnist_to_input
from handwritten_numbers import compose
from strokes import digit_strokes


def read(client: TestClient, canvas: np.ndarray) -> dict:
    response = client.post("/api/read", files={"image": ("n.png", png_bytes(canvas), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_reads_2_to_6_digit_numbers(client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    rng = random.Random(7)
    report = {}
    for length in range(2, 7):
        whole, digits_right, digits_total = 0, 0, 0
        for _ in range(40):
            chosen = [rng.randrange(len(labels)) for _ in range(length)]
            canvas, _ = compose([images[i] for i in chosen], rng)
            truth = "".join(str(labels[i]) for i in chosen)
            text = read(client, canvas)["text"]
            whole += text == truth
            if len(text) == len(truth):
                digits_right += sum(a == b for a, b in zip(text, truth, strict=True))
            digits_total += length
        report[length] = (whole / 40, digits_right / digits_total)
    print("\nlength: whole-number accuracy, per-digit accuracy")
    for length, (whole_acc, digit_acc) in report.items():
        print(f"  {length}: {whole_acc:.3f}, {digit_acc:.3f}")
    # Per digit 0.945-0.994 with the shipped cnn (5 and 6 digits: 0.945 and 0.946; with the cnn
    # before it learned the fonts' held-out shapes, 0.950 and over 0.96; 2026-12-07)
    assert all(digit_acc >= 0.94 for _, digit_acc in report.values()), report
    assert all(whole_acc >= 0.9 for whole_acc, _ in report.values()), report


def test_reads_touching_and_overlapping_pairs(client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    rng = random.Random(11)
    right = 0
    trials = 60
    for _ in range(trials):
        chosen = [rng.randrange(len(labels)) for _ in range(3)]
        canvas, gap = compose([images[i] for i in chosen], rng, touching=True)
        assert gap <= 1
        right += read(client, canvas)["text"] == "".join(str(labels[i]) for i in chosen)
    print(f"\ntouching pairs: {right}/{trials} whole numbers read right")
    # 54 of 60 with the shipped cnn, exactly the floor (55 before its pair reader learned thick pens,
    # 54 before pairs of slices, 56 before its pair reader, 53 before its pieces)
    assert right / trials >= 0.9


def test_multi_stroke_digits_are_merged(client: TestClient) -> None:
    """A 4 and a 5 drawn in two strokes each, then a 7: three digits, not five."""
    strokes = []
    for position, digit in enumerate([4, 5, 7]):
        parts = digit_strokes(digit, 200, offset=(position * 200.0, 0.0))
        if digit == 5:  # the flag of the 5 as its own stroke, as many people write it
            body = parts[0]
            parts = [body[: len(body) // 5], body[len(body) // 5 :]]
        strokes += parts
    response = client.post("/api/read", json={"strokes": strokes, "width": 600, "height": 200, "line_width": 14})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "457"
    boxes = [d["box"] for d in body["digits"]]
    assert [b[0] // 200 for b in boxes] == [0, 1, 2] and all(len(b) == 4 for b in boxes)


def test_empty_drawing_is_422(client: TestClient) -> None:
    response = client.post("/api/read", files={"image": ("n.png", png_bytes(np.full((100, 300), 255, np.uint8)))})
    assert response.status_code == 422
    assert "nothing drawn" in response.json()["detail"]
    assert client.post("/api/read", json={"strokes": [], "width": 10, "height": 10}).status_code == 422


def test_explanation_rests_on_the_ink(cnn: Predictor, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = mnist_test
    inputs = mnist_to_input(images[:50])[:, 0]
    on_ink = []
    for image in inputs:
        heat = explain(cnn, image)
        assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() <= 1
        on_ink.append(heat[image > 0.1].sum() / heat.sum())
    assert np.mean(on_ink) > 0.9, np.mean(on_ink)


def test_explanation_is_faithful(cnn: Predictor, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    """Blanking the hottest ink pixels hurts the answer more than blanking as many random ink pixels."""
    images, _ = mnist_test
    rng = np.random.default_rng(0)
    hot_drops, random_drops = [], []
    for image in mnist_to_input(images[:40])[:, 0]:
        probabilities = probabilities_of(cnn, image[None])[0]
        digit = int(probabilities.argmax())
        heat = explain(cnn, image)
        ink = np.flatnonzero(image.ravel() > 0.1)
        count = max(1, len(ink) // 5)
        hottest = ink[np.argsort(-heat.ravel()[ink])[:count]]
        chosen = rng.choice(ink, size=count, replace=False)
        for picked, drops in ((hottest, hot_drops), (chosen, random_drops)):
            blanked = image.copy().ravel()
            blanked[picked] = 0
            drops.append(probabilities[digit] - probabilities_of(cnn, blanked.reshape(1, 28, 28))[0, digit])
    assert np.mean(hot_drops) > 2 * np.mean(random_drops), (np.mean(hot_drops), np.mean(random_drops))


def test_asking_why_does_not_change_the_answer(client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    for index in range(5):
        png = png_bytes(on_white_canvas(images[index]))
        plain = client.post("/api/predict", files={"image": ("d.png", png)}).json()
        why = client.post("/api/predict", files={"image": ("d.png", png)}, data={"explain": "true"}).json()
        assert why["digit"] == plain["digit"] == labels[index]
        assert why["probabilities"] == plain["probabilities"]
        heatmap = np.array(why["explanation"]["heatmap"])
        assert heatmap.shape == (28, 28) and heatmap.max() == pytest.approx(1.0, abs=1e-3)
        runner_up = why["explanation"]["runner_up"]
        assert runner_up["digit"] == why["top"][1]["digit"] != why["digit"]
