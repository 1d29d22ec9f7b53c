"""Digits as a person draws them on a canvas: pen strokes in unit coordinates (x right, y down).

Not from MNIST: these are hand-made templates, smoothed and lightly varied, so tests can draw
digits stroke by stroke in the browser or send them as `strokes` to the API.
"""

from __future__ import annotations

import math
import random

Point = tuple[float, float]

TEMPLATES: dict[int, list[list[Point]]] = {
    0: [
        [(0.5 + 0.24 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.37 * math.cos(t / 24 * 2 * math.pi)) for t in range(25)]
    ],
    1: [[(0.4, 0.24), (0.53, 0.12), (0.53, 0.88)]],
    2: [[(0.28, 0.3), (0.36, 0.16), (0.5, 0.12), (0.65, 0.16), (0.72, 0.3), (0.66, 0.46), (0.28, 0.86), (0.76, 0.86)]],
    3: [
        [
            (0.3, 0.18),
            (0.5, 0.11),
            (0.68, 0.2),
            (0.69, 0.33),
            (0.52, 0.47),
            (0.44, 0.48),
            (0.56, 0.5),
            (0.72, 0.62),
            (0.71, 0.77),
            (0.54, 0.88),
            (0.3, 0.82),
        ]
    ],
    4: [[(0.32, 0.12), (0.27, 0.56), (0.76, 0.56)], [(0.64, 0.14), (0.64, 0.88)]],
    5: [[(0.7, 0.12), (0.36, 0.12), (0.33, 0.45), (0.5, 0.4), (0.68, 0.5), (0.72, 0.68), (0.6, 0.85), (0.3, 0.82)]],
    6: [
        [
            (0.66, 0.12),
            (0.46, 0.28),
            (0.33, 0.52),
            (0.33, 0.74),
            (0.5, 0.88),
            (0.67, 0.78),
            (0.68, 0.6),
            (0.5, 0.5),
            (0.34, 0.6),
        ]
    ],
    7: [[(0.27, 0.15), (0.74, 0.15), (0.46, 0.88)]],
    8: [
        [
            (0.62, 0.2),
            (0.5, 0.12),
            (0.36, 0.18),
            (0.35, 0.34),
            (0.5, 0.48),
            (0.66, 0.62),
            (0.66, 0.8),
            (0.5, 0.88),
            (0.34, 0.8),
            (0.34, 0.62),
            (0.5, 0.48),
            (0.64, 0.34),
            (0.63, 0.2),
        ]
    ],
    9: [
        [
            (0.67, 0.3),
            (0.55, 0.15),
            (0.38, 0.17),
            (0.32, 0.33),
            (0.44, 0.46),
            (0.62, 0.42),
            (0.67, 0.3),
            (0.66, 0.6),
            (0.63, 0.88),
        ]
    ],
}


def smooth(points: list[Point], per_segment: int = 8) -> list[Point]:
    """Catmull-Rom through the template's points: a pen moves in curves, not straight segments."""
    if len(points) < 3:
        return [
            (a[0] + (b[0] - a[0]) * t / per_segment, a[1] + (b[1] - a[1]) * t / per_segment)
            for a, b in zip(points, points[1:], strict=False)
            for t in range(per_segment)
        ] + [points[-1]]
    padded = [points[0], *points, points[-1]]
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        for step in range(per_segment):
            t = step / per_segment
            out.append(
                tuple(
                    0.5
                    * (
                        2 * p1[k]
                        + (-p0[k] + p2[k]) * t
                        + (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t * t
                        + (-p0[k] + 3 * p1[k] - 3 * p2[k] + p3[k]) * t**3
                    )
                    for k in range(2)
                )
            )
    out.append(points[-1])
    return out  # type: ignore[return-value]


def digit_strokes(
    digit: int, size: float, seed: int | None = None, margin: float = 0.0, offset: Point = (0.0, 0.0)
) -> list[list[Point]]:
    """Strokes of `digit` in canvas pixels. With a seed: a random slant, scale, shift and wobble,
    as different people would draw it."""
    rng = random.Random(seed)
    varied = seed is not None
    slant = rng.uniform(-0.18, 0.18) if varied else 0.0
    scale = rng.uniform(0.7, 1.0) if varied else 1.0
    shift = (rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)) if varied else (0.0, 0.0)
    strokes = []
    for template in TEMPLATES[digit]:
        wobbled = [
            (x + rng.gauss(0, 0.012) if varied else x, y + rng.gauss(0, 0.012) if varied else y) for x, y in template
        ]
        stroke = []
        for x, y in smooth(wobbled):
            x = (x - 0.5) * scale + slant * (0.5 - y) + 0.5 + shift[0]
            y = (y - 0.5) * scale + 0.5 + shift[1]
            inner = size * (1 - 2 * margin)
            stroke.append((offset[0] + size * margin + x * inner, offset[1] + size * margin + y * inner))
        strokes.append(stroke)
    return strokes
