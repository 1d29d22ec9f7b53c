from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from digitrec.errors import DigitrecError
from digitrec.learning.data import write_idx
from digitrec.learning.export import parity
from digitrec.learning.train import (
    RECIPES,
    TrainConfig,
    augment,
    contrast_curve,
    fit,
    load_torch_model,
    load_training_data,
)
from digitrec.reading.card import FORMAT_VERSION
from digitrec.reading.inference import Predictor
from digitrec.reading.preprocess import mnist_to_input


def tiny(data_dir: Path, out: Path, **overrides: object) -> TrainConfig:
    settings: dict[str, object] = {
        "model": "cnn",
        "out": out,
        "data_dir": data_dir,
        "epochs": 1,
        "limit": 1200,
        "fast": True,
        "progress": False,
        "threads": 2,
        "seed": 3,
    }
    settings.update(overrides)
    return TrainConfig(**settings)  # type: ignore[arg-type]


@pytest.mark.slow
def test_checkpoint_describes_itself(tmp_path: Path, data_dir: Path) -> None:
    folder = fit(tiny(data_dir, tmp_path / "run", command="digitrec train --fast"))
    assert {p.name for p in folder.iterdir()} == {"model.json", "model.onnx", "model.safetensors"}
    metadata = json.loads((folder / "model.json").read_text())
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["architecture"] == "cnn" and metadata["config"]["channels"] == [16, 32, 64]
    assert metadata["seed"] == 3 and metadata["command"] == "digitrec train --fast"
    assert metadata["data"]["mnist/train-labels-idx1-ubyte.gz"].startswith("3552534a")
    assert metadata["preprocessing"]["size"] == 28
    assert len(metadata["history"]) == 1 and metadata["metrics"]["val_accuracy"] is None  # --fast: no validation
    assert metadata["training_images"] + metadata["validation_images"] == 1200
    model, _ = load_torch_model(folder)
    assert Predictor(folder).calibrated(Predictor(folder).raw(np.zeros((2, 28, 28), np.float32))).shape == (2, 10)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.slow
def test_same_seed_same_weights(tmp_path: Path, data_dir: Path) -> None:
    first = load_file(fit(tiny(data_dir, tmp_path / "a")) / "model.safetensors")
    second = load_file(fit(tiny(data_dir, tmp_path / "b")) / "model.safetensors")
    other = load_file(fit(tiny(data_dir, tmp_path / "c", seed=4)) / "model.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


@pytest.mark.slow
def test_resume_continues_where_it_stopped(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import digitrec.learning.train as train_module

    straight = load_file(fit(tiny(data_dir, tmp_path / "straight", epochs=2)) / "model.safetensors")

    class Crash(Exception):
        pass

    # Crash at the end of the second epoch, after the first epoch's state was saved.
    real_accuracy = train_module.accuracy_and_loss
    calls = []

    def crash_on_second_epoch(*args: object) -> tuple[float, float]:
        calls.append(1)
        if len(calls) == 2:
            raise Crash
        return real_accuracy(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(train_module, "accuracy_and_loss", crash_on_second_epoch)
    interrupted = tiny(data_dir, tmp_path / "resumed", epochs=2)
    with pytest.raises(Crash):
        fit(interrupted)
    monkeypatch.setattr(train_module, "accuracy_and_loss", real_accuracy)
    assert (tmp_path / "resumed" / "resume.pt").is_file()

    interrupted.resume = True
    resumed = load_file(fit(interrupted) / "model.safetensors")
    assert all(torch.allclose(straight[k], resumed[k]) for k in straight)
    history = json.loads((tmp_path / "resumed" / "model.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_the_cnn_learns_from_sharpened_inputs_and_is_validated_on_what_serving_reads(data_dir: Path) -> None:
    """The contrast curve is a way of training (docs/models.md): MNIST validation, like serving,
    reads the road's inputs as they are."""
    ramp = contrast_curve(torch.tensor([0.0, 0.2, 0.45, 0.7, 1.0]), 0.2, 0.7)
    assert torch.allclose(ramp, torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))
    assert RECIPES["cnn"].sharpen == (0.2, 0.7)
    recipe = replace(RECIPES["cnn"], pen_copies=0, non_digits=0)  # MNIST alone, to compare with the files
    config = TrainConfig(model="cnn", data_dir=data_dir, limit=1200, seed=0)
    plain = load_training_data(config, RECIPES["mlp"])  # the same split, not sharpened
    sharpened = load_training_data(config, recipe)
    assert torch.equal(sharpened.x_val, plain.x_val)
    assert torch.equal(sharpened.x_train, contrast_curve(plain.x_train.clone(), 0.2, 0.7))
    assert sharpened.mix["sharpened"] == [0.2, 0.7] and "sharpened" not in plain.mix


def test_every_architecture_trains_with_its_own_outputs(tmp_path: Path, data_dir: Path) -> None:
    """seed-ann has no "not a digit" class: it trains with ten outputs (a config field it lacks
    once made `digitrec train --model seed-ann` fail), and non-digit data is refused in one line."""
    seed_ann = fit(tiny(data_dir, tmp_path / "seed-ann", model="seed-ann", fast=False, limit=600))
    assert load_torch_model(seed_ann)[0](torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    extra = tmp_path / "nondigits"
    extra.mkdir()
    write_idx(extra / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28), np.uint8))
    write_idx(extra / "train-labels-idx1-ubyte.gz", np.full(4, 10, np.uint8))
    with pytest.raises(DigitrecError, match="no class for 'not a digit'"):
        fit(tiny(data_dir, tmp_path / "refused", model="seed-ann", fast=False, limit=600, extra_data=[extra]))


def test_augmentation_keeps_shape_range_and_ink() -> None:
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 6:22, 12:16] = 1.0
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1.0001
    assert (out.sum(dim=(1, 2, 3)) > 10).all()  # no digit is erased
    assert not torch.equal(out, images)


def test_onnx_matches_pytorch_on_1000_test_images(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    from digitrec.reading.card import resolve_model

    for name in ("cnn", "mlp", "seed-ann"):
        folder = resolve_model(name)
        model, _ = load_torch_model(folder)
        difference = parity(model, folder / "model.onnx", mnist_to_input(mnist_test[0][:1000]))
        assert difference < 1e-5, f"{name}: max |p_torch - p_onnx| = {difference}"


def test_export_writes_a_graph_that_answers_like_pytorch(tmp_path: Path) -> None:
    from digitrec.learning.checkpoint import write_graph
    from digitrec.reading.card import resolve_model

    model, metadata = load_torch_model(resolve_model("seed-ann"))
    difference = write_graph(model, tmp_path / "seed.onnx", metadata)
    assert 0 <= difference < 1e-5
    probe = np.random.default_rng(1).random((32, 784), dtype=np.float32)
    assert parity(model, tmp_path / "seed.onnx", probe) < 1e-5


def test_export_refuses_a_graph_beyond_the_parity_tolerance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digitrec.errors import ModelError
    from digitrec.learning import checkpoint
    from digitrec.reading.card import resolve_model

    model, metadata = load_torch_model(resolve_model("seed-ann"))
    monkeypatch.setattr(checkpoint, "PARITY_TOLERANCE", -1.0)  # any difference at all is too much
    with pytest.raises(ModelError, match="differs from the PyTorch model"):
        checkpoint.write_graph(model, tmp_path / "seed.onnx", metadata)
    assert not (tmp_path / "seed.onnx").exists()


def test_a_one_epoch_run_draws_its_training_curves(tmp_path: Path) -> None:
    """One epoch is one point per curve, drawn as a marker (a line of one point is invisible)."""
    from PIL import Image

    from digitrec.learning.evaluate import _training_curves

    history = [{"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.83, "val_loss": None, "val_accuracy": None}]
    picture = np.asarray(Image.open(_training_curves(history, tmp_path / "training.png")).convert("RGB"))
    train_blue = np.all(np.abs(picture.astype(int) - [0x1F, 0x77, 0xB4]) < 30, axis=2)
    assert train_blue.sum() > 300  # a marker on each plot (the legend alone has about 130 such pixels)
