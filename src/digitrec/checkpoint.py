"""Where models live and how a model reference (a shipped name or a path) becomes a folder.

A checkpoint is a folder: model.safetensors (torch weights), model.onnx (what serving runs) and
model.json (everything needed to rebuild, use and trust it). Shipped models sit in the package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from digitrec.errors import ModelError

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
METADATA_FILE = "model.json"
SHIPPED_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "cnn"


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
