"""MNIST as tensors, and the seeded validation split that training, fine-tuning and calibration
all take the same way (so that each knows which images the model never trained on)."""

from __future__ import annotations

import numpy as np
import torch

VALIDATION_SIZE = 5000  # MNIST training images kept back, unless a recipe says otherwise


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def split_validation(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    size = min(size, int(len(x) * 0.3))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = order[:size], order[size:]
    return x[train], y[train], x[val], y[val]
