"""The number reader's pair reader (reading/pairs.py): touching pairs of the training writers'
digits, 8 epochs; measured on the held-out writers' pairs, never trained on."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from digitrec import __version__
from digitrec.learning import checkpoint
from digitrec.learning.data import HELD_OUT_WRITERS, PENDIGITS_ATTRIBUTION, held_out_writers, training_writers
from digitrec.learning.models import ARCHITECTURES, build_model, count_parameters, default_config
from digitrec.learning.pieces import PIECE_PENS, SINGLE_WIDER, SINGLES, THICK_PENS, THICK_SHARE, pair_images
from digitrec.learning.tensors import to_tensor
from digitrec.learning.train import Recipe, accuracy_and_loss, make_optimizer, make_scheduler, seed_everything
from digitrec.reading.card import FORMAT_VERSION, ModelCard
from digitrec.reading.pairs import PAIR_HEIGHT, PAIR_WIDTH

# The pair reader (pairs.py): touching pairs of the training writers' digits, 8 epochs.
PAIR_RECIPE = Recipe(
    epochs=8, batch_size=128, lr=4e-3, optimizer="adamw", schedule="onecycle", weight_decay=1e-4, label_smoothing=0.05
)
PAIR_IMAGES = 40000
PAIR_VALIDATION = 2000


def fit_pair_reader(
    out: Path, seed: int, command: str, pendigits_dir: str | Path | None = None, images: int = PAIR_IMAGES
) -> Path:
    """Train the pair reader on the training writers' touching pairs and write its checkpoint;
    its accuracy is measured on the held-out writers' pairs (never trained on)."""
    started = time.perf_counter()
    seed_everything(seed)
    writers = training_writers(pendigits_dir)
    x, y = pair_images(writers, images, seed)
    x_val, y_val = pair_images(held_out_writers(pendigits_dir), PAIR_VALIDATION, seed + 1)
    x_train, x_check = to_tensor(x), to_tensor(x_val)
    y_train, y_check = torch.from_numpy(y), torch.from_numpy(y_val)
    model_config = default_config("pair-cnn")
    model = build_model("pair-cnn", model_config)
    recipe = PAIR_RECIPE
    steps = math.ceil(len(x_train) / recipe.batch_size)
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe, steps)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(recipe.epochs):
        loss = pair_epoch(model, x_train, y_train, (optimizer, scheduler), generator)
        accuracy, _ = accuracy_and_loss(model.eval(), x_check, y_check)
        history.append({"epoch": epoch + 1, "train_loss": round(loss, 4), "val_accuracy": round(accuracy, 4)})
    data = {
        "pendigits_writers": sorted({d.writer for d in writers}),
        "pendigits_attribution": PENDIGITS_ATTRIBUTION,
        "training_images": len(x_train),
        "held_out_writers": list(HELD_OUT_WRITERS),
        "validation_images": len(x_check),
        "pens": {"thin": list(PIECE_PENS), "thick": list(THICK_PENS), "share_thick": THICK_SHARE},
        "singles": {"share": SINGLES, "wider_up_to": SINGLE_WIDER},
    }
    card = pair_card(model, model_config, seed, command, data, history, started)
    return checkpoint.save(model.eval(), out, card)


def pair_epoch(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    optimizing: tuple[Any, Any],
    generator: torch.Generator,
) -> float:
    """One pass over the pairs; the last batch's loss."""
    optimizer, scheduler = optimizing
    model.train()
    order = torch.randperm(len(x_train), generator=generator)
    loss = torch.zeros(())
    for start in range(0, len(order), PAIR_RECIPE.batch_size):
        index = order[start : start + PAIR_RECIPE.batch_size]
        # A pixel or two of shift either way: where the mark lands in the picture varies.
        dy = int(torch.randint(-1, 2, (1,), generator=generator))
        dx = int(torch.randint(-2, 3, (1,), generator=generator))
        batch = torch.roll(x_train[index], shifts=(dy, dx), dims=(2, 3))
        loss = F.cross_entropy(model(batch), y_train[index], label_smoothing=PAIR_RECIPE.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return float(loss.item())


def pair_card(
    model: nn.Module,
    model_config: dict[str, Any],
    seed: int,
    command: str,
    data: dict[str, Any],
    history: list[dict[str, Any]],
    started: float,
) -> ModelCard:
    return ModelCard.model_validate(
        {
            "format_version": FORMAT_VERSION,
            "name": "pairs",
            "architecture": "pair-cnn",
            "description": ARCHITECTURES["pair-cnn"].description,
            "config": model_config,
            "input_shape": [PAIR_HEIGHT, PAIR_WIDTH],
            "parameters": count_parameters(model),
            "recipe": asdict(PAIR_RECIPE),
            "seed": seed,
            "command": command,
            "data": data,
            "history": history,
            "metrics": {"held_out_pairs_accuracy": history[-1]["val_accuracy"]},
            "training_seconds": round(time.perf_counter() - started, 1),
            "environment": {"digitrec": __version__, "torch": torch.__version__, "threads": torch.get_num_threads()},
        }
    )
