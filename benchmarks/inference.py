"""Model latency at batch 1 and throughput at batch 64-1,024: ONNX Runtime (what serving runs) vs
PyTorch, for each shipped model; and the cost of preprocessing one drawing on its own."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import drawn_digit_png, record


def timed(function: Callable[[], object], repeat: int, warmup: int = 20) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    import torch

    from digitrec.learning.train import load_torch_model
    from digitrec.reading.card import resolve_model, shipped_models
    from digitrec.reading.decode import decode_image, render_strokes
    from digitrec.reading.inference import Predictor
    from digitrec.reading.preprocess import preprocess

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    lines = [
        "ONNX Runtime and PyTorch both on 1 thread (as one server worker runs); median of repeated calls.",
        "",
        "| model | engine | batch 1 latency ms | batch 64 img/s | batch 256 img/s | batch 1,024 img/s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in shipped_models():
        predictor = Predictor(name, threads=1)
        model, _ = load_torch_model(resolve_model(name))
        engines: dict[str, Callable[[np.ndarray], object]] = {
            "onnxruntime": predictor.raw,
            "pytorch": lambda x, m=model: m(torch.from_numpy(x)),
        }
        for engine, run in engines.items():
            cells = []
            with torch.inference_mode():
                one = rng.random((1, 1, 28, 28), dtype=np.float32)
                cells.append(f"{timed(lambda r=run, x=one: r(x), 300) * 1000:.3f}")
                for batch in (64, 256, 1024):
                    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
                    seconds = timed(lambda r=run, x=x: r(x), 10 if batch == 1024 else 30, warmup=3)
                    cells.append(f"{batch / seconds:,.0f}")
            lines.append(f"| {name} | {engine} | " + " | ".join(cells) + " |")

    from strokes import digit_strokes

    png = drawn_digit_png()
    strokes = digit_strokes(7, 280, seed=1, margin=0.05)
    canvas = render_strokes(strokes, 280, 280, 18)
    lines += [
        "",
        "Preprocessing one 280x280 drawing (median):",
        "",
        "| step | ms |",
        "| --- | --- |",
        f"| decode PNG ({len(png):,} bytes) | {timed(lambda: decode_image(png), 500) * 1000:.3f} |",
        f"| the same with Pillow alone (the fallback) | {timed(lambda: pillow_decode(png), 500) * 1000:.3f} |",
        f"| render strokes | {timed(lambda: render_strokes(strokes, 280, 280, 18), 500) * 1000:.3f} |",
        f"| preprocess to 28x28 | {timed(lambda: preprocess(canvas), 500) * 1000:.3f} |",
        f"| all, from PNG | {timed(lambda: preprocess(decode_image(png)), 500) * 1000:.3f} |",
    ]
    record("Inference and preprocessing", lines)


def pillow_decode(data: bytes) -> np.ndarray:
    """What decode_image does for a PNG fastpng.py does not take: Pillow, then its pixels."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGBA"))


if __name__ == "__main__":
    main()
