"""Training: fit(config) -> checkpoint folder with weights, metadata, history and an ONNX file.

The whole data set lives in memory as one float tensor and augmentation is done per batch with
tensor ops, so there is no per-sample Python in the loop (MNIST is 47 MB as float32).
"""

from __future__ import annotations

import json
import math
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from digitrec import __version__
from digitrec.checkpoint import FORMAT_VERSION, METADATA_FILE, ONNX_FILE, WEIGHTS_FILE
from digitrec.data import checksums, load_split, resolve_data_dir
from digitrec.errors import DigitrecError
from digitrec.models import ARCHITECTURES, Recipe, build_model, count_parameters, default_config
from digitrec.preprocess import PREPROCESSING

RESUME_FILE = "resume.pt"
BEST_FILE = "best.safetensors"


@dataclass
class TrainConfig:
    model: str = "cnn"
    out: Path = Path("runs/cnn")
    data_dir: Path | None = None
    seed: int = 0
    epochs: int | None = None  # None: the architecture's recipe
    batch_size: int | None = None
    lr: float | None = None
    fast: bool = False
    resume: bool = False
    limit: int | None = None  # train on the first N images only (smoke tests, --dry-run)
    extra_data: list[Path] = field(default_factory=list)
    threads: int | None = None
    progress: bool = True
    command: str = ""

    def recipe(self) -> Recipe:
        arch = ARCHITECTURES[self.model]
        base = arch.fast_recipe if self.fast and arch.fast_recipe else arch.recipe
        recipe = Recipe(**asdict(base))
        if self.epochs is not None:
            recipe.epochs = self.epochs
        if self.batch_size is not None:
            recipe.batch_size = self.batch_size
        if self.lr is not None:
            recipe.lr = self.lr
        return recipe


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_training_tensors(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, dict[str, str]]:
    data_dir = resolve_data_dir(config.data_dir)
    images, labels = load_split(data_dir, "train")
    sources = {f"mnist/{k}": v for k, v in checksums(data_dir).items() if not k.startswith("t10k")}
    for extra in config.extra_data:
        extra_images, extra_labels = load_split(Path(extra), "train", verify=False)
        images, labels = np.concatenate([images, extra_images]), np.concatenate([labels, extra_labels])
        sources[f"extra/{extra}"] = f"{len(extra_labels)} images"
    if config.limit:
        images, labels = images[: config.limit], labels[: config.limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels), sources


def split_validation(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    size = min(size, int(len(x) * 0.3))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = order[:size], order[size:]
    return x[train], y[train], x[val], y[val]


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random stroke thickness, then a random affine warp, for a whole batch at once.

    People draw with brushes thicker or thinner than MNIST's pen, slant and rotate their digits,
    and preprocessing centres them only approximately; these are the variations that matter.
    """
    n = x.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand(n, *shape, generator=generator) * (high - low) + low

    # Thickness: partial dilation (thicker) on ~30%, partial erosion (thinner) on ~15%.
    pick = torch.rand(n, generator=generator)
    thick = (pick < 0.30).view(n, 1, 1, 1)
    thin = ((pick >= 0.30) & (pick < 0.45)).view(n, 1, 1, 1)
    dilated = torch.maximum(x, uniform(0.4, 1.0, 1, 1, 1) * F.max_pool2d(x, 3, 1, 1))
    eroded = torch.lerp(x, -F.max_pool2d(-x, 3, 1, 1), uniform(0.3, 0.8, 1, 1, 1))
    x = torch.where(thick, dilated, torch.where(thin, eroded, x))
    # Erosion dims the strokes; a drawing on a canvas has full-strength ink, so restore it.
    x = x / x.amax(dim=(2, 3), keepdim=True).clamp(min=1e-3)

    angle = uniform(-12.0, 12.0) * math.pi / 180
    scale = uniform(0.85, 1.12)
    shear = uniform(-0.2, 0.2)
    shift = uniform(-2.5, 2.5, 2) * (2 / 28)  # pixels to the [-1, 1] grid
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[:, 0]], dim=1),
            torch.stack([sin, cos + shear * sin, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def contiguous_state(model: nn.Module) -> dict[str, torch.Tensor]:
    # channels_last weights are strided views; safetensors stores plain contiguous tensors.
    return {name: tensor.contiguous() for name, tensor in model.state_dict().items()}


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay
        )
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)


def make_scheduler(
    optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch, pct_start=0.25
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


@torch.no_grad()
def accuracy_and_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> tuple[float, float]:
    if len(x) == 0:  # no validation split (the fast recipe): nothing to measure
        return float("nan"), float("nan")
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(x), batch):
        logits = model(x[start : start + batch].contiguous(memory_format=torch.channels_last))
        target = y[start : start + batch]
        loss += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(1) == target).sum().item()
    return correct / len(x), loss / len(x)


def _or_none(value: float) -> float | None:
    # JSON has no NaN: an unmeasured number is recorded as null.
    return None if math.isnan(value) else value


def fit(config: TrainConfig) -> Path:
    """Train `config.model` and write a self-describing checkpoint folder; return that folder."""
    if config.model not in ARCHITECTURES:
        raise DigitrecError(f"unknown model {config.model!r}: choose one of {', '.join(ARCHITECTURES)}")
    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    recipe = config.recipe()
    seed_everything(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    x, y, sources = load_training_tensors(config)
    x_train, y_train, x_val, y_val = split_validation(x, y, recipe.validation_size, config.seed)
    model_config = default_config(config.model, fast=config.fast)
    model = build_model(config.model, model_config).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = make_optimizer(model, recipe)
    steps_per_epoch = math.ceil(len(x_train) / recipe.batch_size)
    scheduler = make_scheduler(optimizer, recipe, steps_per_epoch)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float | None]] = []
    first_epoch = 0
    best_val_loss, best_epoch = float("inf"), 0

    if config.resume and (out / RESUME_FILE).is_file():
        state = torch.load(out / RESUME_FILE, weights_only=False)
        model.load_state_dict(load_file(out / WEIGHTS_FILE))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, first_epoch = state["history"], state["epoch"]
        best_val_loss, best_epoch = state["best"]

    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    epochs = tqdm(
        range(first_epoch, recipe.epochs),
        desc=config.model,
        unit="epoch",
        initial=first_epoch,
        total=recipe.epochs,
        disable=not config.progress,
        file=sys.stderr,
    )
    for epoch in epochs:
        model.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(len(x_train), generator=generator) if recipe.shuffle else torch.arange(len(x_train))
        seen, correct, total_loss = 0, 0, 0.0
        batches = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{recipe.epochs}",
            unit="batch",
            leave=False,
            disable=not config.progress,
            file=sys.stderr,
        )
        for step in batches:
            index = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            inputs, target = x_train[index], y_train[index]
            if recipe.augment:
                inputs = augment(inputs, generator)
            logits = model(inputs.contiguous(memory_format=torch.channels_last))
            loss = criterion(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            scheduler.step()
            seen += len(target)
            correct += (logits.argmax(1) == target).sum().item()
            total_loss += loss.item() * len(target)
            if step % 10 == 0 or step == steps_per_epoch - 1:
                rate = seen / (time.perf_counter() - epoch_start)
                batches.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}", img_s=f"{rate:.0f}")
        val_acc, val_loss = accuracy_and_loss(model, x_val, y_val)
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": total_loss / seen,
                "train_accuracy": correct / seen,
                "val_loss": _or_none(val_loss),
                "val_accuracy": _or_none(val_acc),
                "lr": float(scheduler.get_last_lr()[0]),
                "seconds": time.perf_counter() - epoch_start,
            }
        )
        epochs.set_postfix(train_acc=f"{correct / seen:.4f}", val_acc=f"{val_acc:.4f}")
        if recipe.keep_best and val_loss < best_val_loss:  # NaN (no validation) never compares less
            best_val_loss, best_epoch = val_loss, epoch + 1
            save_file(contiguous_state(model), out / BEST_FILE)
        save_file(contiguous_state(model), out / WEIGHTS_FILE)
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "history": history,
                "epoch": epoch + 1,
                "best": (best_val_loss, best_epoch),
            },
            out / RESUME_FILE,
        )

    if recipe.keep_best and (out / BEST_FILE).is_file():
        model.load_state_dict(load_file(out / BEST_FILE))
        (out / BEST_FILE).replace(out / WEIGHTS_FILE)

    metadata = {
        "format_version": FORMAT_VERSION,
        "name": config.model,
        "architecture": config.model,
        "description": ARCHITECTURES[config.model].description,
        "config": model_config,
        "parameters": count_parameters(model),
        "preprocessing": PREPROCESSING,
        "recipe": asdict(recipe),
        "seed": config.seed,
        "fast": config.fast,
        "command": config.command,
        "data": sources,
        "training_images": len(x_train),
        "validation_images": len(x_val),
        "history": history,
        "metrics": {"val_accuracy": history[best_epoch - 1 if best_epoch else -1]["val_accuracy"] if history else None},
        "kept_epoch": best_epoch or len(history),
        "training_seconds": round(time.perf_counter() - started, 1),
        "environment": {
            "digitrec": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        },
    }
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    from digitrec.export import export_onnx

    export_onnx(model, out / ONNX_FILE, metadata=metadata)
    (out / RESUME_FILE).unlink(missing_ok=True)
    return out


def load_torch_model(folder: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained torch model from a checkpoint folder (needs the training extra)."""
    metadata = json.loads((folder / METADATA_FILE).read_text())
    model = build_model(metadata["architecture"], metadata["config"])
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return model.eval(), metadata
