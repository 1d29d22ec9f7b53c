"""The model card: where models live, how a reference (a shipped name, a folder or an .onnx file)
becomes a folder, and model.json read and written through one typed class.

A checkpoint is a folder: model.safetensors (torch weights, for learning), model.onnx (what
serving runs) and model.json (everything needed to rebuild, use and trust it). Serving reads the
fields typed here; the record of how the model was made (history, data, recipe, steps) rides
along as extra fields, kept as they are. `ModelCard.save` is the one writer of model.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from digitrec.errors import ModelError

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
METADATA_FILE = "model.json"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "cnn"
PAIRS_FOLDER = "pairs"  # a model's reader of touching pairs, a checkpoint inside its folder (pairs.py)


class Calibration(BaseModel):
    """What turns the graph's answer into calibrated probabilities and the two verdicts
    (calibration.py says how each is fitted); absent, a model answers plain softmax and never
    says "not sure" or "not a digit"."""

    model_config = ConfigDict(extra="allow")

    temperature: float = 1.0
    confidence_map: list[list[float]] | None = None
    uncertain_below: float = 0.0
    not_a_digit_above: float = 1.0


class ModelCard(BaseModel):
    """model.json, typed where the library reads it; every other field is kept as written."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    format_version: int = FORMAT_VERSION
    name: str
    architecture: str
    description: str = ""
    config: dict[str, Any] = {}
    parameters: int | None = None
    preprocessing: dict[str, Any] = {}
    recipe: dict[str, Any] = {}
    seed: int = 0
    command: str = ""
    metrics: dict[str, Any] = {}
    calibration: Calibration | None = None
    steps: list[str] = []
    parity_max_difference: float | None = None  # ONNX Runtime against PyTorch, when exported
    serving_graph: str | None = None  # a graph in the folder to serve instead of model.onnx (`export --serve`)
    # A fine-tuned candidate against the model served when it was made (learning/compare.py):
    # the figures on each held-out set and the verdict that `digitrec promote` checks.
    comparison: dict[str, Any] | None = None

    @classmethod
    def load(cls, folder: Path) -> ModelCard:
        path = folder / METADATA_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(f"{path} is missing: a model needs its model.json beside model.onnx") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path} cannot be read ({exc})") from exc
        if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
            found = raw.get("format_version") if isinstance(raw, dict) else None
            raise ModelError(f"{folder} has checkpoint format {found}, expected {FORMAT_VERSION}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ModelError(f"{path} is not a model card: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from exc

    def save(self, folder: Path) -> None:
        """The one writer of model.json."""
        folder.mkdir(parents=True, exist_ok=True)
        data = self.model_dump(mode="json", exclude_none=True)
        (folder / METADATA_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @property
    def accuracy(self) -> float | None:
        value = self.metrics.get("test_accuracy")
        return float(value) if value is not None else None

    @property
    def classes(self) -> int:
        return int(self.config.get("classes", 10))


def version_of(card: ModelCard, graph: bytes) -> str:
    """A model's version, as answers name it: its card's name and its graph's hash."""
    return f"{card.name}-{hashlib.sha256(graph).hexdigest()[:12]}"


def shipped_models() -> list[str]:
    """Names of the models inside the package, the default first."""
    names = sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / ONNX_FILE).is_file()) if SHIPPED_DIR.is_dir() else []
    return sorted(names, key=lambda name: (name != DEFAULT_MODEL, name))


def resolve_model(reference: str | Path | None) -> Path:
    """A shipped model's name, or a checkpoint folder, or an .onnx file with its model.json beside it."""
    reference = reference or DEFAULT_MODEL
    if isinstance(reference, str) and (SHIPPED_DIR / reference / ONNX_FILE).is_file():
        return SHIPPED_DIR / reference
    path = Path(reference).expanduser()
    if path.is_file() and path.suffix == ".onnx":
        if not (path.parent / METADATA_FILE).is_file():
            raise ModelError(f"{path} has no {METADATA_FILE} beside it: copy the checkpoint's model.json there")
        return path.parent
    if (path / ONNX_FILE).is_file():
        return path
    if path.is_dir():
        raise ModelError(f"{path} has no {ONNX_FILE}: write one with `digitrec export --model {path}`")
    raise ModelError(
        f"unknown model {str(reference)!r}: use one of {', '.join(shipped_models()) or '(none shipped)'} "
        "or a folder written by `digitrec train`"
    )


def resolve_graph(reference: str | Path | None) -> Path:
    """The ONNX file a reference serves: the .onnx file named, or its folder's model.onnx."""
    path = Path(reference).expanduser() if reference is not None else None
    if path is not None and path.is_file() and path.suffix == ".onnx":
        resolve_model(reference)  # checks that its model.json is beside it
        return path
    folder = resolve_model(reference)
    return folder / (ModelCard.load(folder).serving_graph or ONNX_FILE)
