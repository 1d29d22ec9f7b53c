"""Training: fit(config) -> a checkpoint folder with weights, metadata, history and an ONNX file.

The data (MNIST, people's pen strokes replayed through the API's strokes road, drawings that are
no digit) lives in memory as one float tensor and augmentation is done per batch with tensor ops,
so there is no per-sample Python in the loop. Each architecture's recipe is declared here, once.
"""

from __future__ import annotations

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
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from digitrec import __version__
from digitrec.errors import DigitrecError
from digitrec.learning import checkpoint
from digitrec.learning.data import (
    HELD_OUT_WRITERS,
    PENDIGITS_ATTRIBUTION,
    checksums,
    load_split,
    resolve_data_dir,
    training_writers,
)
from digitrec.learning.drawings import NOT_A_DIGIT, non_digit_drawings, pen_digit_drawings, render_all
from digitrec.learning.models import ARCHITECTURES, build_model, count_parameters, default_config
from digitrec.learning.omniglot import SHAPES_KEY, learned_held_out_shapes, omniglot_alphabets
from digitrec.learning.tensors import VALIDATION_SIZE, split_validation, to_tensor
from digitrec.reading.card import FORMAT_VERSION, WEIGHTS_FILE, ModelCard
from digitrec.reading.preprocess import PREPROCESSING

RESUME_FILE = "resume.pt"
BEST_FILE = "best.safetensors"


@dataclass
class Recipe:
    """How an architecture is trained by default; `digitrec train` flags override these."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"  # "adam" | "adamw" | "sgd"
    schedule: str = "constant"  # "constant" | "onecycle"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False
    elastic: float = 0.0  # share of each batch given an elastic distortion (Simard et al. 2003)
    validation_size: int = VALIDATION_SIZE
    shuffle: bool = True
    grad_clip: float | None = None
    keep_best: bool = False  # keep the epoch with the lowest validation loss, not the last
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none); the average ships
    pen_copies: int = 0  # renderings of each training writer's pendigits digit
    non_digits: int = 0  # generated drawings that are no digit (class 10)
    # A contrast curve on every training input (not validation: serving reads as it always has),
    # x -> (x - low) / (high - low) clipped to 0-1, before augmentation. It sharpens the blurred
    # edges that an enlarged small digit brings from the road, so "not a digit" is learned from
    # crisp shapes and a scanned digit no longer scores as one (docs/models.md, issue 22).
    sharpen: tuple[float, float] | None = None


RECIPES: dict[str, Recipe] = {
    # The seed's notebook exactly: x / 255, a 70/30 train/validation split, batches in a fixed
    # order (no shuffling), Adam lr 0.01, batch 6000, 200 epochs, gradient norm clipped to 1,
    # and the epoch with the best validation loss kept.
    "seed-ann": Recipe(
        epochs=200, batch_size=6000, lr=0.01, validation_size=18000, shuffle=False, grad_clip=1.0, keep_best=True
    ),
    "mlp": Recipe(
        epochs=20,
        batch_size=256,
        lr=2e-3,
        optimizer="adamw",
        schedule="onecycle",
        weight_decay=1e-4,
        label_smoothing=0.05,
        augment=True,
    ),
    # Meant to fit in 10 minutes on 2 cores with the rest of `digitrec recipe cnn` (BENCHMARKS.md).
    # MNIST, 23 writers' strokes twice over at other pens and sizes, 4,000 generated non-digits
    # (and, in the recipe, the reader's pieces and people's characters as extra data); elastic
    # distortion on a third; sharpened; the moving average of the weights is what ships.
    "cnn": Recipe(
        epochs=6,
        batch_size=256,
        lr=4e-3,
        optimizer="adamw",
        schedule="onecycle",
        weight_decay=5e-4,
        label_smoothing=0.05,
        augment=True,
        elastic=0.3,
        ema=0.997,
        pen_copies=2,
        non_digits=4000,
        sharpen=(0.2, 0.7),
    ),
}
# `--fast`: a narrower network (models.py) and a short one-cycle run, to reach 99% in seconds.
FAST_RECIPES: dict[str, Recipe] = {
    "cnn": Recipe(
        epochs=1,
        batch_size=256,
        lr=1.5e-2,
        optimizer="adamw",
        schedule="onecycle",
        weight_decay=5e-4,
        augment=False,
        validation_size=0,
    ),
}


@dataclass
class TrainConfig:
    model: str = "cnn"
    out: Path = Path("runs/cnn")
    data_dir: Path | None = None
    pendigits_dir: Path | None = None  # None: $DIGITREC_PENDIGITS_DIR or beside the MNIST folder
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
        base = FAST_RECIPES.get(self.model) if self.fast else None
        recipe = Recipe(**asdict(base or RECIPES[self.model]))
        for name in ("epochs", "batch_size", "lr"):
            if getattr(self, name) is not None:
                setattr(recipe, name, getattr(self, name))
        return recipe


@dataclass
class TrainingData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    sources: dict[str, str]  # provenance: file checksums and counts
    mix: dict[str, Any]  # how many images of each kind, and the held-out writers


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def handwriting(config: TrainConfig, recipe: Recipe) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """People's strokes (all writers but the held-out ones) and non-digits, as 28x28 uint8 images,
    rendered through the API's strokes road."""
    digits = training_writers(config.pendigits_dir)
    non_digit_count = recipe.non_digits
    if config.limit:  # smoke tests: a handful of each
        digits, non_digit_count = digits[: config.limit // 10], min(non_digit_count, config.limit // 20)
    drawings, labels = pen_digit_drawings(digits, recipe.pen_copies, seed=config.seed)
    others, _ = non_digit_drawings(non_digit_count, seed=config.seed)
    images = render_all(drawings + others)
    labels = np.concatenate([labels, np.full(len(others), NOT_A_DIGIT, dtype=np.int64)])
    mix = {
        "pendigits_images": len(drawings),
        "pendigits_writers": sorted({d.writer for d in digits}),
        "pendigits_copies": recipe.pen_copies,
        "pendigits_attribution": PENDIGITS_ATTRIBUTION,
        "non_digit_images": len(others),
    }
    return images, labels, mix


def load_training_data(config: TrainConfig, recipe: Recipe) -> TrainingData:
    """MNIST's validation split is taken from MNIST alone, so that it does not depend on what
    else is trained on; extra data and handwriting all go to training."""
    data_dir = resolve_data_dir(config.data_dir)
    images, labels = load_split(data_dir, "train")
    sources = {f"mnist/{k}": v for k, v in checksums(data_dir).items() if not k.startswith("t10k")}
    if config.limit:
        images, labels = images[: config.limit], labels[: config.limit]
    x_train, y_train, x_val, y_val = split_validation(
        to_tensor(images), torch.from_numpy(labels), recipe.validation_size, config.seed
    )
    mix: dict[str, Any] = {"mnist_images": len(x_train), "held_out_writers": list(HELD_OUT_WRITERS)}
    more_x, more_y = [], []
    for extra in config.extra_data:
        extra_images, extra_labels = load_split(Path(extra), "train", verify=False)
        more_x.append(extra_images)
        more_y.append(extra_labels)
        sources[f"extra/{extra}"] = f"{len(extra_labels)} images"
    if recipe.pen_copies or recipe.non_digits:
        drawn, drawn_labels, drawn_mix = handwriting(config, recipe)
        more_x.append(drawn)
        more_y.append(drawn_labels)
        mix.update(drawn_mix)
        sources["pendigits/pendigits-orig.tra"] = f"{drawn_mix['pendigits_images']} renderings"
    if more_x:
        x_train = torch.cat([x_train, to_tensor(np.concatenate(more_x))])
        y_train = torch.cat([y_train, torch.from_numpy(np.concatenate(more_y).astype(np.int64))])
    if recipe.sharpen:
        x_train = contrast_curve(x_train, *recipe.sharpen)
        mix["sharpened"] = list(recipe.sharpen)
    return TrainingData(x_train, y_train, x_val, y_val, sources, mix)


def contrast_curve(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return ((x - low) / (high - low)).clamp_(0.0, 1.0)  # a new tensor: the input is left as it was


def _uniform(n: int, low: float, high: float, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(n, *shape, generator=generator) * (high - low) + low


def _vary_thickness(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Partial dilation (thicker) on ~30% of the batch, partial erosion (thinner) on ~15%."""
    n = x.shape[0]
    pick = torch.rand(n, generator=generator)
    thick = (pick < 0.30).view(n, 1, 1, 1)
    thin = ((pick >= 0.30) & (pick < 0.45)).view(n, 1, 1, 1)
    dilated = torch.maximum(x, _uniform(n, 0.4, 1.0, generator, 1, 1, 1) * F.max_pool2d(x, 3, 1, 1))
    eroded = torch.lerp(x, -F.max_pool2d(-x, 3, 1, 1), _uniform(n, 0.3, 0.8, generator, 1, 1, 1))
    x = torch.where(thick, dilated, torch.where(thin, eroded, x))
    # Erosion dims the strokes; a drawing on a canvas has full-strength ink, so restore it.
    return x / x.amax(dim=(2, 3), keepdim=True).clamp(min=1e-3)


def _affine_grid(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rotation, scale, slant (shear) and shift: how people's digits differ from MNIST's."""
    n = x.shape[0]
    angle = _uniform(n, -10.0, 10.0, generator) * math.pi / 180
    scale = _uniform(n, 0.85, 1.12, generator)
    shear = _uniform(n, -0.2, 0.2, generator)
    shift = _uniform(n, -2.5, 2.5, generator, 2) * (2 / 28)  # pixels to the [-1, 1] grid
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[:, 0]], dim=1),
            torch.stack([sin, cos + shear * sin, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    return F.affine_grid(theta, list(x.shape), align_corners=False)


def _elastic_field(n: int, share: float, generator: torch.Generator) -> torch.Tensor:
    """Simard et al. (2003): a random displacement field smoothed by a Gaussian (sigma 4 px), on
    `share` of the batch; its strength is set as the field's standard deviation (up to 0.8 px,
    about what Simard's alpha = 34 gives), (n, 28, 28, 2) in grid units."""
    sigma = 4.0
    strength = _uniform(n, 0.2, 0.8, generator, 1, 1, 1) * (torch.rand(n, 1, 1, 1, generator=generator) < share)
    radius = int(2 * sigma)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = taps / taps.sum()
    noise = torch.rand(n * 2, 1, 28, 28, generator=generator) * 2 - 1
    noise = F.conv2d(noise, taps.view(1, 1, 1, -1), padding=(0, radius))
    noise = F.conv2d(noise, taps.view(1, 1, -1, 1), padding=(radius, 0)).reshape(n, 2, 28, 28)
    noise = noise / noise.std(dim=(1, 2, 3), keepdim=True).clamp(min=1e-6)
    return (strength * noise * (2 / 28)).permute(0, 2, 3, 1)


def augment(x: torch.Tensor, generator: torch.Generator, elastic: float = 0.0) -> torch.Tensor:
    """Random stroke thickness, then one warp: affine, plus an elastic field on part of the batch."""
    x = _vary_thickness(x, generator)
    grid = _affine_grid(x, generator)
    if elastic:
        grid = grid + _elastic_field(x.shape[0], elastic, generator)
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


@dataclass
class Run:
    """Everything one training run carries from epoch to epoch (and through --resume)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    criterion: nn.Module
    recipe: Recipe
    steps_per_epoch: int
    average: AveragedModel | None = None  # the moving average of the weights, when the recipe keeps one
    history: list[dict[str, float | None]] = field(default_factory=list)
    epoch: int = 0
    best: tuple[float, int] = (float("inf"), 0)  # validation loss, epoch

    @property
    def shipped(self) -> nn.Module:
        """The model that is validated and saved: the weights' moving average, else the weights."""
        return self.average.module if self.average is not None else self.model  # type: ignore[return-value]

    def state(self) -> dict[str, Any]:
        return {
            "average": self.average.state_dict() if self.average is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "epoch": self.epoch,
            "best": self.best,
        }

    def restore(self, out: Path) -> None:
        state = torch.load(out / RESUME_FILE, weights_only=False)
        self.model.load_state_dict(load_file(out / WEIGHTS_FILE))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        if self.average is not None and state.get("average"):
            self.average.load_state_dict(state["average"])
        torch.set_rng_state(state["torch_rng"])
        self.history, self.epoch, self.best = state["history"], state["epoch"], tuple(state["best"])


def start_run(config: TrainConfig, recipe: Recipe, model_config: dict[str, Any], train_size: int) -> Run:
    model = build_model(config.model, model_config).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = make_optimizer(model, recipe)
    steps_per_epoch = math.ceil(train_size / recipe.batch_size)
    average = None
    if recipe.ema:
        from torch.optim.swa_utils import get_ema_multi_avg_fn

        # Batch-norm statistics are averaged too (use_buffers), so the average is usable as is.
        average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True)
    return Run(
        model=model,
        average=average,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, recipe, steps_per_epoch),
        generator=torch.Generator().manual_seed(config.seed),
        criterion=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        recipe=recipe,
        steps_per_epoch=steps_per_epoch,
    )


def train_one_epoch(run: Run, x: torch.Tensor, y: torch.Tensor, progress: bool) -> tuple[float, float]:
    """One pass over the training data; returns (mean loss, accuracy) on the augmented batches."""
    recipe, model = run.recipe, run.model
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(x), generator=run.generator) if recipe.shuffle else torch.arange(len(x))
    seen, correct, total_loss = 0, 0, 0.0
    batches = tqdm(
        range(run.steps_per_epoch),
        desc=f"epoch {run.epoch + 1}/{recipe.epochs}",
        unit="batch",
        leave=False,
        disable=not progress,
        file=sys.stderr,
    )
    for step in batches:
        index = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
        inputs, target = x[index], y[index]
        if recipe.augment:
            inputs = augment(inputs, run.generator, recipe.elastic)
        logits = model(inputs.contiguous(memory_format=torch.channels_last))
        loss = run.criterion(logits, target)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        run.optimizer.step()
        run.scheduler.step()
        if run.average is not None:
            run.average.update_parameters(model)
        seen += len(target)
        correct += (logits.argmax(1) == target).sum().item()
        total_loss += loss.item() * len(target)
        if step % 10 == 0 or step == run.steps_per_epoch - 1:
            rate = seen / (time.perf_counter() - started)
            batches.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}", img_s=f"{rate:.0f}")
    return total_loss / seen, correct / seen


def end_epoch(run: Run, data: TrainingData, out: Path, train: tuple[float, float], seconds: float) -> None:
    """Validate, record the epoch, keep the best weights and what --resume needs."""
    val_acc, val_loss = accuracy_and_loss(run.shipped, data.x_val, data.y_val)
    run.epoch += 1
    run.history.append(
        {
            "epoch": run.epoch,
            "train_loss": train[0],
            "train_accuracy": train[1],
            "val_loss": _or_none(val_loss),
            "val_accuracy": _or_none(val_acc),
            "lr": float(run.scheduler.get_last_lr()[0]),
            "seconds": seconds,
        }
    )
    if run.recipe.keep_best and val_loss < run.best[0]:  # NaN (no validation) never compares less
        run.best = (val_loss, run.epoch)
        save_file(contiguous_state(run.shipped), out / BEST_FILE)
    save_file(contiguous_state(run.model), out / WEIGHTS_FILE)
    torch.save(run.state(), out / RESUME_FILE)


def training_metadata(
    config: TrainConfig, run: Run, data: TrainingData, model_config: dict[str, Any], started: float
) -> dict[str, Any]:
    kept = run.best[1] or len(run.history)
    return {
        "format_version": FORMAT_VERSION,
        "name": config.model,
        "architecture": config.model,
        "description": ARCHITECTURES[config.model].description,
        "config": model_config,
        "parameters": count_parameters(run.shipped),
        "preprocessing": PREPROCESSING,
        "recipe": asdict(run.recipe),
        "seed": config.seed,
        "fast": config.fast,
        "command": config.command,
        "data": data.sources,
        "data_mix": data.mix,
        "omniglot_alphabets": omniglot_alphabets(config.extra_data, []),
        SHAPES_KEY: learned_held_out_shapes(config.extra_data, False),
        "training_images": len(data.x_train),
        "validation_images": len(data.x_val),
        "history": run.history,
        "metrics": {"val_accuracy": run.history[kept - 1]["val_accuracy"] if run.history else None},
        "kept_epoch": kept,
        "training_seconds": round(time.perf_counter() - started, 1),
        "environment": {
            "digitrec": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        },
    }


def set_output_classes(model: str, model_config: dict[str, Any], data: TrainingData) -> None:
    """Ten outputs, or eleven where anything it learns from (its recipe's drawings, or extra data
    such as `digitrec data nondigits`) is labelled "not a digit"."""
    highest = int(data.y_train.max())
    if highest > NOT_A_DIGIT:
        raise DigitrecError(f"a label over {NOT_A_DIGIT} in the training data: extra data must hold digits 0-9 and 10")
    non_digits = highest == NOT_A_DIGIT
    if "classes" in model_config:
        model_config["classes"] = NOT_A_DIGIT + 1 if non_digits else 10
    elif non_digits:
        raise DigitrecError(f"{model} has no class for 'not a digit': train it without non-digit data")


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
    data = load_training_data(config, recipe)
    model_config = default_config(config.model, fast=config.fast)
    set_output_classes(config.model, model_config, data)
    run = start_run(config, recipe, model_config, len(data.x_train))
    if config.resume and (out / RESUME_FILE).is_file():
        run.restore(out)
    epochs = tqdm(
        range(run.epoch, recipe.epochs),
        desc=config.model,
        unit="epoch",
        initial=run.epoch,
        total=recipe.epochs,
        disable=not config.progress,
        file=sys.stderr,
    )
    for _ in epochs:
        epoch_start = time.perf_counter()
        result = train_one_epoch(run, data.x_train, data.y_train, config.progress)
        end_epoch(run, data, out, result, time.perf_counter() - epoch_start)
        validation = run.history[-1]["val_accuracy"]
        # No validation split (--limit, --dry-run): say so, rather than a validation accuracy of 0.
        epochs.set_postfix(train_acc=f"{result[1]:.4f}", val_acc="n/a" if validation is None else f"{validation:.4f}")
    if recipe.keep_best and (out / BEST_FILE).is_file():
        run.shipped.load_state_dict(load_file(out / BEST_FILE))
        (out / BEST_FILE).unlink()
    checkpoint.save(
        run.shipped, out, ModelCard.model_validate(training_metadata(config, run, data, model_config, started))
    )
    (out / RESUME_FILE).unlink(missing_ok=True)
    if recipe.validation_size and not config.limit:
        # Needs the held-out writers: a run on a machine without them stays uncalibrated (T = 1).
        from digitrec.learning.evaluate import fit_calibration

        fit_calibration(out, config.data_dir, config.pendigits_dir, threads=config.threads or 2)
    return out


def load_torch_model(folder: Path) -> tuple[nn.Module, ModelCard]:
    """Rebuild a trained torch model from a checkpoint folder (needs the training extra)."""
    card = ModelCard.load(folder)
    model = build_model(card.architecture, card.config)
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return model.eval(), card
