"""The architectures, each declared once as a config dataclass and a module. No I/O, no paths.
How each is trained (its recipe) lives with the training code, in train.py.

Every model takes a batch of MNIST-style images, float32 (N, 1, 28, 28) with ink = 1.0 and
background = 0.0 (what `preprocess` produces), and returns logits (N, classes): the ten digits,
and for models trained with drawings that are no digit an eleventh class, "not a digit". Softmax
is added at export time, so the ONNX file answers probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

# Mean and std of MNIST training pixels on the [0, 1] scale; the networks standardise inside,
# so callers (and the ONNX file) always feed plain [0, 1] images.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


@dataclass
class SeedAnnConfig:
    hidden: int = 5


class SeedAnn(nn.Module):
    """The seed project's network, unchanged: 784-5-10, sigmoid hidden layer, softmax output.

    The seed puts the softmax inside the network and then trains with CrossEntropyLoss, which
    applies log-softmax again. That double softmax is part of why it reaches only ~88%; the
    recipe is kept exact, so this model alone outputs probabilities, not logits.
    """

    outputs_probabilities = True

    def __init__(self, config: SeedAnnConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, config.hidden)
        self.fc2 = nn.Linear(config.hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.sigmoid(self.fc1(x.flatten(1)))
        return torch.softmax(self.fc2(hidden), dim=1)


@dataclass
class MLPConfig:
    hidden: tuple[int, ...] = (1024, 512)
    dropout: float = 0.2
    classes: int = 10


class MLP(nn.Module):
    """A strong fully connected baseline: wide ReLU layers with batch norm and dropout."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 784
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            width = size
        layers.append(nn.Linear(width, config.classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x.flatten(1) - MNIST_MEAN) / MNIST_STD)


@dataclass
class CNNConfig:
    # Three stages at 28, 14 and 7 pixels; two 3x3 convolutions each.
    channels: tuple[int, int, int] = (32, 64, 128)
    dropout: float = 0.25
    # Convolutions at the full 28x28 resolution, where each costs 4x as much as at 14x14; the
    # fast recipe keeps one.
    full_resolution_convs: int = 2
    classes: int = 10  # 11: the last one is "not a digit"


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class CNN(nn.Module):
    """A compact VGG-style network: small 3x3 convolutions, batch norm, global average pooling.

    Sized for accuracy per CPU millisecond: most of the compute sits at 14x14 and 7x7, and the
    head is a single linear layer on pooled features, so there are few parameters to overfit.
    """

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        c1, c2, c3 = config.channels
        first_stage = [_conv_block(1, c1)] + [_conv_block(c1, c1) for _ in range(config.full_resolution_convs - 1)]
        self.features = nn.Sequential(
            *first_stage,
            nn.MaxPool2d(2),  # 14x14
            _conv_block(c1, c2),
            _conv_block(c2, c2),
            nn.MaxPool2d(2),  # 7x7
            _conv_block(c2, c3),
            _conv_block(c3, c3),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(c3, config.classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - MNIST_MEAN) / MNIST_STD))


@dataclass
class PairCNNConfig:
    # Two stages at 28x56 and 14x28, then a dense layer that keeps where each feature is: the
    # order of the two digits matters ("12" is not "21"), which global pooling would lose.
    channels: tuple[int, int] = (32, 64)
    hidden: int = 256
    dropout: float = 0.3
    classes: int = 101  # "00"-"99", then "not a pair"


class PairCNN(nn.Module):
    """The pair reader (`pairs.py`): a 28x56 picture of one mark -> one of 100 digit pairs or
    "not a pair"."""

    def __init__(self, config: PairCNNConfig) -> None:
        super().__init__()
        c1, c2 = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(inplace=True),
            _conv_block(c1, c1),
            nn.MaxPool2d(2),  # 14x28
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(inplace=True),
            _conv_block(c2, c2),
            nn.MaxPool2d(2),  # 7x14
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * 7 * 14, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class Architecture:
    module: type[nn.Module]
    config: type
    description: str
    # `--fast`: a narrower network, to reach 99% in seconds.
    fast_config: dict[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, int] = (28, 28)  # height, width of the picture it reads


ARCHITECTURES: dict[str, Architecture] = {
    "seed-ann": Architecture(
        SeedAnn, SeedAnnConfig, "the seed project's 784-5-10 sigmoid network, trained by its recipe"
    ),
    "mlp": Architecture(MLP, MLPConfig, "a fully connected baseline (784-1024-512-10, batch norm, dropout)"),
    "cnn": Architecture(
        CNN,
        CNNConfig,
        "the default: a compact convolutional network trained on MNIST and people's pen strokes, "
        "with a class for drawings that are no digit",
        # The shipped recipe: one convolution at 28x28 (where each costs 4x), eleven classes.
        fast_config={"channels": (16, 32, 64), "dropout": 0.0, "full_resolution_convs": 1},
    ),
    "pair-cnn": Architecture(
        PairCNN,
        PairCNNConfig,
        "the pair reader: two touching digits in a 28x56 picture read as one of 100 pairs",
        input_shape=(28, 56),
    ),
}

# The cnn's shipped configuration (the dataclass defaults stay the plain 10-class network).
SHIPPED_CONFIG: dict[str, dict[str, Any]] = {
    "cnn": {"channels": (32, 64, 128), "dropout": 0.1, "full_resolution_convs": 1, "classes": 11},
}


def build_model(name: str, config: dict[str, Any] | None = None) -> nn.Module:
    """Instantiate an architecture by name; `config` overrides its dataclass defaults."""
    arch = ARCHITECTURES[name]
    settings = dict(config or {})
    for key, value in settings.items():
        if isinstance(value, list):
            settings[key] = tuple(value)
    return arch.module(arch.config(**settings))


def default_config(name: str, fast: bool = False) -> dict[str, Any]:
    arch = ARCHITECTURES[name]
    config = asdict(arch.config())
    config.update(arch.fast_config if fast else SHIPPED_CONFIG.get(name, {}))
    return config


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
