"""Where models live and how a model reference (a shipped name or a path) becomes a folder.

A checkpoint is a folder: model.safetensors (torch weights), model.onnx (what serving runs) and
model.json (everything needed to rebuild, use and trust it). Shipped models sit in the package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitrec.errors import ModelError

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
METADATA_FILE = "model.json"
SHIPPED_DIR = Path(__file__).parent / "weights"
PARITY_TOLERANCE = 1e-4  # largest difference of probabilities between PyTorch and ONNX Runtime
DEFAULT_MODEL = "cnn"
PAIRS_FOLDER = "pairs"  # a model's reader of touching pairs, a checkpoint inside its folder (pairs.py)


def shipped_models() -> list[str]:
    """Names of the models inside the package, the default first."""
    names = sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / ONNX_FILE).is_file()) if SHIPPED_DIR.is_dir() else []
    return sorted(names, key=lambda name: (name != DEFAULT_MODEL, name))


def resolve_model(reference: str | Path | None) -> Path:
    """A shipped model's name, or a checkpoint folder, or an .onnx file beside its model.json."""
    reference = reference or DEFAULT_MODEL
    if isinstance(reference, str) and (SHIPPED_DIR / reference / ONNX_FILE).is_file():
        return SHIPPED_DIR / reference
    path = Path(reference).expanduser()
    if path.is_file() and path.suffix == ".onnx":
        path = path.parent
    if (path / ONNX_FILE).is_file():
        return path
    raise ModelError(
        f"unknown model {str(reference)!r}: use one of {', '.join(shipped_models()) or '(none shipped)'} "
        "or a folder written by `digitrec train`"
    )


def read_metadata(folder: Path) -> dict[str, Any]:
    try:
        metadata: dict[str, Any] = json.loads((folder / METADATA_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / METADATA_FILE} cannot be read ({exc})") from exc
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{folder} has checkpoint format {metadata.get('format_version')}, expected {FORMAT_VERSION}")
    return metadata


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def save(model: nn.Module, folder: Path, metadata: dict[str, Any]) -> Path:
    """The one place a checkpoint is written (train, finetune): the weights, model.json and the
    ONNX graph, which must answer what the PyTorch model does (else ModelError)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    save_file({name: t.contiguous() for name, t in model.state_dict().items()}, folder / WEIGHTS_FILE)
    metadata["parity_max_difference"] = write_graph(model, folder / ONNX_FILE, metadata)
    write_metadata(folder, metadata)
    return folder


def write_graph(model: nn.Module, path: Path, metadata: dict[str, Any]) -> float:
    """Export `model` to ONNX at `path` (checkpoints and `digitrec export`) and check that ONNX
    Runtime answers what PyTorch does; returns the largest difference, or raises ModelError
    (and removes the graph) beyond PARITY_TOLERANCE."""
    import torch

    from digitrec.export import export_onnx, input_shape, parity

    export_onnx(model.eval(), path, metadata=metadata)
    # Digit-like inputs for the check: sparse ink on a dark background, fixed seed.
    shape = (64, 1, *input_shape(metadata))
    probe = (torch.rand(*shape, generator=torch.Generator().manual_seed(0)) > 0.8).float().numpy()
    difference = parity(model, path, probe)
    if difference > PARITY_TOLERANCE:
        path.unlink(missing_ok=True)
        raise ModelError(f"the ONNX graph differs from the PyTorch model by {difference:.2e}: not saved")
    return difference
