"""ONNX export with a parity check: the served model must answer what the trained one does."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

OPSET = 17


class WithProbabilities(nn.Module):
    """Wraps a logits model so the exported graph outputs probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.already_probabilities = getattr(model, "outputs_probabilities", False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out if self.already_probabilities else torch.softmax(out, dim=1)


def input_shape(metadata: dict[str, Any] | None) -> tuple[int, int]:
    """A model's input height and width: 28x28 unless its model.json says otherwise."""
    height, width = (metadata or {}).get("input_shape", (28, 28))
    return int(height), int(width)


def export_onnx(model: nn.Module, path: Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write `model` as ONNX taking "input" (N, 1, 28, 28) float32 (or metadata's `input_shape`:
    the pair reader's 28x56) and giving "probabilities" (N, classes)."""
    import onnx

    wrapped = WithProbabilities(model).eval()
    example = torch.zeros(2, 1, *input_shape(metadata))
    # The TorchScript exporter: one second instead of the dynamo exporter's six, no onnxscript
    # dependency, and still supported by the pinned torch 2.13 (its deprecation notice is muted).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapped,
            (example,),
            str(path),
            input_names=["input"],
            output_names=["probabilities"],
            dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    graph = onnx.load(str(path))
    if metadata:
        for key in ("name", "architecture", "seed"):
            if key in metadata:
                entry = graph.metadata_props.add()
                entry.key, entry.value = key, str(metadata[key])
    onnx.save(graph, str(path))
    return path


def parity(model: nn.Module, onnx_path: Path, images: np.ndarray) -> float:
    """Largest absolute difference of probabilities between PyTorch and ONNX Runtime."""
    import onnxruntime as ort

    wrapped = WithProbabilities(model).eval()
    side = images.shape[-2:] if images.ndim >= 3 else (28, 28)  # flat rows are 28x28 digits
    batch = images.astype(np.float32).reshape(-1, 1, *side)
    with torch.no_grad():
        expected = wrapped(torch.from_numpy(batch)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {"input": batch})[0]
    return float(np.abs(expected - actual).max())


def quantize_model(folder: Path, out: Path, data_dir: Path, serve: bool = False) -> Path:
    """`digitrec export --quantize`: the model's graph as int8, calibrated on 512 MNIST training
    images; with `serve`, the model serves it from now on (its card names it)."""
    from digitrec.learning.data import load_split
    from digitrec.reading.card import ONNX_FILE, ModelCard
    from digitrec.reading.preprocess import mnist_to_input

    images, _ = load_split(data_dir, "train")
    picked = np.random.default_rng(0).choice(len(images), 512, replace=False)
    quantize(folder / ONNX_FILE, out, mnist_to_input(images[picked]))
    if serve:
        card = ModelCard.load(folder)
        card.serving_graph = out.name
        card.save(folder)
    return out


def quantize(onnx_path: Path, out: Path, calibration: np.ndarray) -> Path:
    """Static int8 quantization (per-channel weights, calibrated activations) of an exported graph.

    On a CPU with AVX-512 VNNI the cnn runs 0.12-0.17 ms instead of 0.24-0.42 ms per image at
    batch 1 (on an AVX2-only Zen 1 both take about 1.35 ms), and its answers differ from the float
    graph's on a few of 10,000 images; the float graph stays beside it. The shipped cnn serves its
    float graph (README, "Models": it read one MNIST test image fewer, and worse on validation).

    Weights are quantized to 7 bits (`reduce_range`): AVX2 CPUs without VNNI multiply uint8 by
    int8 with VPMADDUBSW, which adds pairs of products in int16 and saturates with 8-bit weights.
    The shipped graph quantized to 8 bits answered 23 of 10,000 MNIST test images unlike the
    float graph on a Zen 1 (3 on a VNNI CPU); with 7 bits no sum can saturate, so both kinds of
    kernel compute the same integers (3 answers differ from the float graph on the Zen 1).
    """
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [{"input": calibration[i : i + 32].astype(np.float32)} for i in range(0, len(calibration), 32)]

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.remaining = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.remaining, None)

    import onnx

    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(onnx_path), str(prepared))
        # The classifier head stays in float: it costs nothing, and quantized probabilities would
        # come in steps of 1/255 and not sum to 1.
        head = [node.name for node in onnx.load(str(prepared)).graph.node if node.op_type in ("Gemm", "Softmax")]
        quantize_static(
            str(prepared),
            str(out),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            reduce_range=True,
            nodes_to_exclude=head,
        )
    return out
