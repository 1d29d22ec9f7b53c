"""The page reads on the device with the server's answers: the browser-side road (TypeScript, run
in Node with onnxruntime-web's WebAssembly backend) and the Python road on the same drawings.

Targets (issue 25): 28x28 inputs within 2/255 per pixel, the same digit and verdict on >= 99.9%,
probabilities within 0.01. The drawings: held-out pendigits writers, the non-digit kinds, tiny and
huge drawings, thin and thick pens, one stroke or many.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from digitrec.errors import DigitrecError
from digitrec.learning.data import held_out_writers
from digitrec.learning.drawings import Drawing, non_digit_drawings, pen_digit_drawings
from digitrec.reading.decode import render_strokes
from digitrec.reading.device import device_card, graph_path
from digitrec.reading.inference import Predictor
from digitrec.reading.preprocess import preprocess

ROOT = Path(__file__).resolve().parent.parent
PARITY_TOOL = ROOT / "frontend" / "dist-node" / "parity.mjs"


def _scaled(drawing: Drawing, factor: float, side: int, pen: float, rng: np.random.Generator) -> Drawing:
    """The drawing's strokes scaled by `factor` and placed at random on a side x side canvas."""
    points = np.concatenate(drawing.strokes)
    low = points.min(axis=0)
    size = (points.max(axis=0) - low) * factor
    room = np.maximum(side - size - pen, 1)
    offset = rng.uniform(pen / 2, pen / 2 + room, 2)
    strokes = [((s - low) * factor + offset).astype(np.float32) for s in drawing.strokes]
    return Drawing(strokes, side, side, pen)


def parity_drawings(pendigits: Path | None = None, seed: int = 25) -> tuple[list[Drawing], list[str]]:
    """1,050 drawings and the kind of each."""
    rng = np.random.default_rng(seed)
    digits = held_out_writers(pendigits)
    picked = [digits[i] for i in rng.choice(len(digits), 900, replace=False)]
    pen, _ = pen_digit_drawings(picked, copies=1, seed=seed)
    others, _ = non_digit_drawings(150, seed=seed)
    drawings: list[Drawing] = []
    kinds: list[str] = []

    def add(kind: str, items: list[Drawing]) -> None:
        drawings.extend(items)
        kinds.extend([kind] * len(items))

    add("writers", pen[:500])
    add("non-digits", others)
    # Tiny: 8-40 px tall on the page's canvas, a pen to match.
    add("tiny", [_scaled(d, rng.uniform(0.05, 0.15), d.width, float(rng.uniform(1.5, 5)), rng) for d in pen[500:600]])
    # Huge: canvases the server draws scaled down (over 1,024 px), the digit filling them.
    add(
        "huge",
        [
            _scaled(d, rng.uniform(3.0, 8.0), int(rng.integers(1100, 4000)), float(rng.uniform(20, 200)), rng)
            for d in pen[600:700]
        ],
    )
    add("thin", [Drawing(d.strokes, d.width, d.height, float(rng.uniform(0.5, 3.0))) for d in pen[700:775]])
    add("thick", [Drawing(d.strokes, d.width, d.height, float(rng.uniform(35, 70))) for d in pen[775:850]])
    # One stroke: a writer's strokes joined; many strokes: cut into pieces of 2-4 points.
    add("one-stroke", [Drawing([np.concatenate(d.strokes)], d.width, d.height, d.line_width) for d in pen[850:875]])
    add(
        "many-strokes",
        [
            Drawing(
                [p for s in d.strokes for p in np.array_split(s, max(1, len(s) // 3))], d.width, d.height, d.line_width
            )
            for d in pen[875:900]
        ],
    )
    return drawings, kinds


def _as_request(drawing: Drawing) -> dict[str, object]:
    return {
        "strokes": [s.tolist() for s in drawing.strokes],
        "width": drawing.width,
        "height": drawing.height,
        "line_width": drawing.line_width,
    }


def run_device_road(card: dict[str, object], graph: Path, requests: list[dict[str, object]], tmp: Path) -> list[dict]:
    node = shutil.which("node")
    if node is None or not PARITY_TOOL.is_file():
        pytest.fail("the browser-side road is not built: run scripts/setup.sh (npm ci and the build)")
    job = tmp / "job.json"
    job.write_text(json.dumps({"card": card, "graph_path": str(graph), "drawings": requests}))
    done = subprocess.run([node, str(PARITY_TOOL), str(job)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line]


@pytest.mark.slow
def test_device_reads_as_the_server(cnn: Predictor, pendigits_dir: Path, tmp_path: Path) -> None:
    drawings, kinds = parity_drawings(pendigits_dir)
    requests = [_as_request(d) for d in drawings]
    device = run_device_road(device_card(cnn, "cnn"), graph_path(cnn), requests, tmp_path)
    assert len(device) == len(drawings) >= 1000

    same, compared, refused, worst_pixel, worst_probability = 0, 0, 0, 0.0, 0.0
    mismatches = []
    for index, (request, answer, kind) in enumerate(zip(requests, device, kinds, strict=True)):
        try:
            server_input = preprocess(render_strokes(**request))  # type: ignore[arg-type]
        except DigitrecError:
            server_input = None
        if "refused" in answer:
            # The page hands these to the server, which answers them itself.
            refused += 1
            continue
        assert server_input is not None, f"{kind} #{index}: the device read what the server refuses"
        reading = cnn.read(server_input[None])[0]
        compared += 1
        pixel = float(np.abs(np.asarray(answer["input"], np.float32).reshape(28, 28) - server_input).max())
        probability = float(np.abs(np.asarray(answer["probabilities"]) - reading.probabilities).max())
        worst_pixel, worst_probability = max(worst_pixel, pixel), max(worst_probability, probability)
        agrees = (answer["digit"], answer["uncertain"], answer["not_a_digit"]) == (
            reading.digit,
            reading.uncertain,
            reading.not_a_digit,
        )
        same += agrees
        if not agrees or pixel > 2 / 255 or probability > 0.01:
            mismatches.append((kind, index, round(pixel * 255, 2), round(probability, 4), agrees))
    print(
        f"\n{compared} drawings compared, {refused} handed to the server; same answer and verdict on "
        f"{same}/{compared}; worst pixel {worst_pixel * 255:.3f}/255, worst probability {worst_probability:.5f}"
    )
    assert refused <= 0.01 * len(drawings), f"{refused} drawings the device would not read"
    assert same >= 0.999 * compared, mismatches[:20]
    assert worst_pixel <= 2 / 255, mismatches[:20]
    assert worst_probability <= 0.01, mismatches[:20]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "seed-ann"])
def test_the_other_shipped_models_read_alike(
    name: str, predictors: dict[str, Predictor], pendigits_dir: Path, tmp_path: Path
) -> None:
    """The page offers every shipped model: seed-ann's calibration has a confidence map too."""
    predictor = predictors[name]
    drawings, _ = parity_drawings(pendigits_dir)
    requests = [_as_request(d) for d in drawings[::5]]
    device = run_device_road(device_card(predictor, name), graph_path(predictor), requests, tmp_path)
    for request, answer in zip(requests, device, strict=True):
        reading = predictor.read(preprocess(render_strokes(**request))[None])[0]  # type: ignore[arg-type]
        assert (answer["digit"], answer["uncertain"], answer["not_a_digit"]) == (
            reading.digit,
            reading.uncertain,
            reading.not_a_digit,
        )
        assert np.abs(np.asarray(answer["probabilities"]) - reading.probabilities).max() <= 0.01
