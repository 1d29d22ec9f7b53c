"""Writing a checkpoint: the torch weights, the ONNX graph checked against them, and the model
card (reading/card.py says what a checkpoint folder holds)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from digitrec.errors import ModelError
from digitrec.reading.card import ONNX_FILE, WEIGHTS_FILE, ModelCard

if TYPE_CHECKING:
    from torch import nn

PARITY_TOLERANCE = 1e-4  # largest difference of probabilities between PyTorch and ONNX Runtime


def save(model: nn.Module, folder: Path, card: ModelCard) -> Path:
    """The one place a checkpoint is written (train, finetune): the weights, model.json and the
    ONNX graph, which must answer what the PyTorch model does (else ModelError)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    save_file({name: t.contiguous() for name, t in model.state_dict().items()}, folder / WEIGHTS_FILE)
    card.parity_max_difference = write_graph(model, folder / ONNX_FILE, card)
    card.save(folder)
    return folder


def write_graph(model: nn.Module, path: Path, card: ModelCard) -> float:
    """Export `model` to ONNX at `path` (checkpoints and `digitrec export`) and check that ONNX
    Runtime answers what PyTorch does; returns the largest difference, or raises ModelError
    (and removes the graph) beyond PARITY_TOLERANCE."""
    import torch

    from digitrec.learning.export import export_onnx, input_shape, parity

    metadata = card.model_dump()
    export_onnx(model.eval(), path, metadata=metadata)
    # Digit-like inputs for the check: sparse ink on a dark background, fixed seed.
    shape = (64, 1, *input_shape(metadata))
    probe = (torch.rand(*shape, generator=torch.Generator().manual_seed(0)) > 0.8).float().numpy()
    difference = parity(model, path, probe)
    if difference > PARITY_TOLERANCE:
        path.unlink(missing_ok=True)
        raise ModelError(f"the ONNX graph differs from the PyTorch model by {difference:.2e}: not saved")
    return difference
