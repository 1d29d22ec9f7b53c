"""Why the model decided: occlusion sensitivity, computed with the ONNX model (no torch needed).

Each 6x6 patch of the 28x28 input is blanked in turn (set to background) and the drop in the
predicted digit's probability is measured, all patches in one batch. Blanking changes only the
ink pixels under the patch, so each patch's drop is shared among those pixels by their ink: the
map says which strokes the answer rests on.
"""

from __future__ import annotations

import numpy as np

from digitrec.reading.inference import Predictor

PATCH = 6
# Patches 3 px apart overlap by half: 64 model inputs. At 2 px apart (144 inputs) an explanation
# cost 57 ms of CPU, over the 50 ms any one request may cost (BENCHMARKS.md, worst case).
STRIDE = 3


def occlusion_batch(image: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    steps = range(0, 28 - PATCH + 1, STRIDE)
    corners = [(y, x) for y in steps for x in steps]
    batch = np.repeat(image[None], len(corners), axis=0)
    for index, (y, x) in enumerate(corners):
        batch[index, y : y + PATCH, x : x + PATCH] = 0.0
    return batch, corners


def explain(predictor: Predictor, image: np.ndarray, digit: int | None = None) -> np.ndarray:
    """28x28 heatmap in [0, 1] for `digit` (default: the predicted one); 0 where nothing counts."""
    image = np.asarray(image, dtype=np.float32).reshape(28, 28)
    batch, corners = occlusion_batch(image)
    probabilities = predictor.calibrated(predictor.raw(np.concatenate([image[None], batch])))
    target = int(probabilities[0].argmax()) if digit is None else digit
    drops = np.clip(probabilities[0, target] - probabilities[1:, target], 0.0, None)
    heat = np.zeros((28, 28), dtype=np.float64)
    for drop, (y, x) in zip(drops, corners, strict=True):
        ink = image[y : y + PATCH, x : x + PATCH]
        total = float(ink.sum())
        if drop > 0 and total > 0:
            heat[y : y + PATCH, x : x + PATCH] += drop * ink / total
    peak = heat.max()
    return (heat / peak if peak > 0 else heat).astype(np.float32)
