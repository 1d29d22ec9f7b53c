from __future__ import annotations

import numpy as np
import pytest
import torch

from digitrec.learning.models import ARCHITECTURES, SeedAnn, build_model, count_parameters, default_config
from digitrec.learning.train import RECIPES


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_output_shape_and_finite(name: str) -> None:
    model = build_model(name).eval()
    out = model(torch.rand(7, 1, *ARCHITECTURES[name].input_shape))
    assert out.shape == (7, getattr(ARCHITECTURES[name].config(), "classes", 10))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_parameter_gets_a_gradient(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name).train()
    loss = torch.nn.functional.cross_entropy(
        model(torch.rand(8, 1, *ARCHITECTURES[name].input_shape)), torch.arange(8) % 10
    )
    loss.backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


def test_seed_ann_is_the_seed_network() -> None:
    model = build_model("seed-ann")
    assert isinstance(model, SeedAnn)
    assert count_parameters(model) == 784 * 5 + 5 + 5 * 10 + 10
    probabilities = model(torch.rand(3, 1, 28, 28))
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))  # softmax output, as in the seed
    recipe = RECIPES["seed-ann"]
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.optimizer) == (200, 6000, 0.01, "adam")


def test_fast_config_is_smaller() -> None:
    fast = build_model("cnn", default_config("cnn", fast=True))
    assert count_parameters(fast) < count_parameters(build_model("cnn")) / 2


def test_config_round_trips_through_json_lists() -> None:
    config = {"channels": [8, 16, 32], "dropout": 0.1}
    model = build_model("cnn", config)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert np.isclose(count_parameters(model), count_parameters(build_model("cnn", {"channels": (8, 16, 32)})))


def test_shipped_cnn_has_a_not_a_digit_class() -> None:
    model = build_model("cnn", default_config("cnn")).eval()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 11)
