"""Generated non-digits: the kinds taught and the kinds kept for measuring never meet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digitrec.learning.data import PenDigit, load_split
from digitrec.learning.drawings import NOT_A_DIGIT, to_input
from digitrec.learning.hershey import (
    ARROW_FONTS,
    ARROW_TURNS,
    KINDS,
    SHAPES_FONTS,
    SHAPES_TAUGHT,
    TAUGHT,
    glyphs,
    hershey_kinds,
    shape_glyphs,
    shapes_kind,
)
from digitrec.learning.nondigits import (
    HELD_OUT_GLYPHS,
    HELD_OUT_KINDS,
    MANIFEST,
    SHAPES,
    SYMBOLS,
    TRAINING_KINDS,
    TRAINING_LETTERS,
    digit_kinds,
    drawings_of,
    training_set,
    write_training_set,
)
from digitrec.learning.rejection import auroc


def test_training_and_held_out_kinds_do_not_overlap(pendigits: list[PenDigit]) -> None:
    taught = set(TRAINING_KINDS) | set(digit_kinds(pendigits[:10]))
    assert not taught & set(HELD_OUT_KINDS)
    # Nor do their glyphs: no held-out letter or symbol is among those taught, in any case.
    glyphs = {name.rstrip("~") for name in TRAINING_LETTERS} | set(SYMBOLS)
    assert not {g.lower() for g in glyphs} & {g.lower() for g in HELD_OUT_GLYPHS}
    assert {"T", "?", "Y", "P", "d", "%", "$", "L", "J", "u", "arrow"} <= set(HELD_OUT_KINDS)
    assert all(len(styles) >= 2 for styles in HELD_OUT_GLYPHS.values())  # several styles each


def test_hershey_glyphs_teach_no_digit_and_no_held_out_kind() -> None:
    held_out_keys = {"T", "t", "Y", "y", "P", "p", "D", "d", "L", "l", "J", "j", "U", "u", "?", "%", "$", "^"}
    for font in KINDS["hershey-letters"]:
        assert not set(TAUGHT[font]) & held_out_keys, font
    # The letters shaped as held-out ones: Greek Tau Rho Upsilon, Cyrillic Te Er U (both cases).
    assert not set(TAUGHT["greek"]) & set("TRUtru") and not set(TAUGHT["cyrillic"]) & set("TRYtry")
    assert not any(set(taught) & set("0123456789") for taught in TAUGHT.values())
    assert sorted(font for fonts in KINDS.values() for font in fonts) == sorted(TAUGHT)
    for font in TAUGHT:
        for glyph in glyphs(font):
            points = np.concatenate(glyph)
            assert points.min() >= 0 and np.isclose(points.max(axis=0).max(), 1.0), font


def test_the_fonts_draw_every_held_out_kinds_shape_for_the_shipped_model_alone() -> None:
    """The shapes the held-out generators draw, as the fonts draw them: the shipped cnn learns
    these (`SHAPES`); the model that measures the held-out kinds is made without them."""
    assert {k for k in HELD_OUT_KINDS if k != "arrow"} <= set(SHAPES_TAUGHT)
    assert not set(SHAPES_TAUGHT) & set("0123456789yz")  # no digit, nor a 4/9-like y
    shapes = shape_glyphs()
    assert len(shapes) == len(SHAPES_TAUGHT) * len(SHAPES_FONTS) + ARROW_TURNS * len(ARROW_FONTS)
    for glyph in shapes:
        points = np.concatenate(glyph)
        assert points.min() >= -1e-6 and np.isclose(points.max(axis=0).max(), 1.0)
    # The arrows: one glyph turned a quarter is the same glyph with its axes swapped.
    up, right = shapes[-ARROW_TURNS * len(ARROW_FONTS)], shapes[-ARROW_TURNS * len(ARROW_FONTS) + ARROW_TURNS // 4]
    assert np.ptp(np.concatenate(up)[:, 1]) == pytest.approx(np.ptp(np.concatenate(right)[:, 0]), abs=1e-5)


def test_a_set_without_the_shapes_is_the_set_made_before_them(pendigits: list[PenDigit]) -> None:
    """So the model made without them (`--leave-out shapes`) is the recipe's model of before."""
    before, before_labels = training_set(pendigits[:200], [], seed=0, kinds=20, digits=10, shapes=0)
    images, labels = training_set(pendigits[:200], [], seed=0, kinds=20, digits=10, shapes=12)
    assert len(images) == len(before) + 12 and (labels[20:32] == NOT_A_DIGIT).all()
    np.testing.assert_array_equal(images[:20], before[:20])
    np.testing.assert_array_equal(images[32:], before[20:])
    np.testing.assert_array_equal(labels[32:], before_labels[20:])


def test_only_an_alphabet_or_the_shapes_can_be_left_out() -> None:
    from digitrec.errors import DataError
    from digitrec.learning.nondigits import training_drawings

    with pytest.raises(DataError, match="Klingon to leave out: choose among Balinese, .*Sanskrit, shapes"):
        training_drawings(0, leave_out=["Klingon", SHAPES])


@pytest.mark.parametrize(
    "kinds",
    [TRAINING_KINDS, HELD_OUT_KINDS, hershey_kinds(), {SHAPES: shapes_kind()}],
    ids=["training", "held-out", "hershey", "shapes"],
)
def test_every_kind_draws_through_the_strokes_road(kinds: dict) -> None:  # type: ignore[type-arg]
    drawings, names = drawings_of(kinds, 3 * len(kinds), seed=3)
    again, _ = drawings_of(kinds, 3 * len(kinds), seed=3)
    assert sorted(set(names)) == sorted(kinds)
    images = np.stack([to_input(d) for d in drawings])
    assert images.shape == (len(names), 28, 28) and np.isfinite(images).all()
    assert (images.reshape(len(names), -1).max(axis=1) > 0.5).all()  # ink in every one
    np.testing.assert_array_equal(images, np.stack([to_input(d) for d in again]))  # seeded


def test_training_set_holds_non_digits_and_digits(pendigits: list[PenDigit]) -> None:
    images, labels = training_set(pendigits[:200], [], seed=0, kinds=40, digits=30, shapes=10)
    assert images.shape == (80, 28, 28) and images.dtype == np.uint8
    assert (labels == NOT_A_DIGIT).sum() == 50
    assert set(labels[labels != NOT_A_DIGIT]) <= set(range(10))


def test_auroc_is_the_chance_a_non_digit_scores_higher() -> None:
    assert auroc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert auroc(np.array([0.3, 0.4]), np.array([0.1, 0.2])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    assert auroc(np.array([0.1, 0.3]), np.array([0.2])) == 0.5


def test_the_folder_finetune_reads_is_shuffled_and_says_which_alphabets(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "nondigits"
    write_training_set(out, seed=0, leave_out=["Korean"], scans=20, data_dir=data_dir, limit=80)
    images, labels = load_split(out, "train", verify=False)
    # 20 characters drawn twice (lookalikes left out), 20 of the kinds, 10 of the fonts' held-out
    # shapes; 20 drawn digits, 20 scans.
    assert images.shape[1:] == (28, 28) and (labels != NOT_A_DIGIT).sum() == 40
    assert 30 < (labels == NOT_A_DIGIT).sum() <= 70
    # finetune holds out a folder's last rows: they must hold digits and non-digits alike.
    assert {NOT_A_DIGIT} < set(labels[-20:]) and set(labels[-20:]) - {NOT_A_DIGIT}
    manifest = json.loads((out / MANIFEST).read_text())
    assert "Korean" not in manifest["omniglot_alphabets"] and manifest["learned_held_out_shapes"] is True
    assert manifest["font_glyphs"] == 0  # an option, not the recipe's
    write_training_set(
        tmp_path / "fonts", seed=0, leave_out=["Korean"], scans=20, data_dir=data_dir, limit=80, fonts=99
    )
    with_fonts, with_labels = load_split(tmp_path / "fonts", "train", verify=False)
    assert (
        len(with_fonts) == len(images) + 10 and (with_labels == NOT_A_DIGIT).sum() == (labels == NOT_A_DIGIT).sum() + 10
    )
    assert json.loads((tmp_path / "fonts" / MANIFEST).read_text())["font_glyphs"] == 10  # limit // 8
    write_training_set(tmp_path / "without", seed=0, leave_out=["Korean", SHAPES], scans=0, data_dir=data_dir, limit=80)
    assert json.loads((tmp_path / "without" / MANIFEST).read_text())["learned_held_out_shapes"] is False
    without, _ = load_split(tmp_path / "without", "train", verify=False)
    assert len(without) == len(images) - 20 - 10  # no scans, no shapes (limit // 8)


@pytest.mark.slow
def test_a_model_trained_on_the_folder_knows_which_alphabets_and_shapes_it_saw(
    tmp_path: Path, data_dir: Path, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """Training records them as fine-tuning does, so that `evaluate --dataset omniglot` measures
    a model on the alphabets it never saw, and only those, and `--dataset held-out-kinds` on a
    model that never saw their shapes."""
    from digitrec.errors import DataError
    from digitrec.learning.omniglot import ALPHABETS, card_learned_shapes
    from digitrec.learning.rejection import held_out_kinds_report, trained_alphabets
    from digitrec.learning.train import TrainConfig, fit
    from digitrec.reading.inference import Predictor

    extra = tmp_path / "nondigits"
    write_training_set(extra, seed=0, leave_out=["Korean", SHAPES], scans=20, data_dir=data_dir, limit=80)
    config = TrainConfig(out=tmp_path / "run", data_dir=data_dir, epochs=1, limit=600, fast=True, extra_data=[extra])
    rotation = Predictor(fit(config))
    assert trained_alphabets(rotation) == sorted(set(ALPHABETS) - {"Korean"})
    assert not card_learned_shapes(rotation.card)
    shipped, digits = Predictor("cnn"), mnist_test[0][:100]
    assert card_learned_shapes(shipped.card)
    report = held_out_kinds_report(shipped, digits, [rotation])
    assert report["measured_by"] == rotation.version and report["learned_held_out_shapes"] is False
    assert report["this_model"]["measured_by"] == shipped.version and report["this_model"]["learned_held_out_shapes"]
    with pytest.raises(DataError, match="leave-out shapes"):
        held_out_kinds_report(shipped, digits, [shipped])
    with pytest.raises(DataError, match="one --rotation"):
        held_out_kinds_report(shipped, digits, [rotation, rotation])
    # A model that never learned them is measured by itself, whatever rotation is given.
    alone = held_out_kinds_report(rotation, digits, [shipped])
    assert alone["measured_by"] == rotation.version and "this_model" not in alone


def test_the_recipe_makes_its_data_side_by_side_as_one_after_the_other(tmp_path: Path, data_dir: Path) -> None:
    """`digitrec recipe` makes the pieces, the drawings and the scans in two processes at once
    (`recipe.write_data`): the files must hold what `digitrec data pieces` and `data nondigits`
    write one after the other, so that the recipe still makes the shipped weights."""
    from digitrec.learning.recipe import DRY_RUN_IMAGES, RecipeConfig, write_data, write_pieces

    config = RecipeConfig(out=tmp_path / "cnn", seed=3, data_dir=data_dir, dry_run=True)
    write_data(config, tmp_path / "pieces", tmp_path / "nondigits")
    write_pieces(config, tmp_path / "pieces-alone")
    write_training_set(tmp_path / "nondigits-alone", seed=3, data_dir=data_dir, limit=DRY_RUN_IMAGES)
    for made in ("pieces", "nondigits"):
        images, labels = load_split(tmp_path / made, "train", verify=False)
        alone_images, alone_labels = load_split(tmp_path / f"{made}-alone", "train", verify=False)
        assert len(labels) > 100 and np.array_equal(images, alone_images) and np.array_equal(labels, alone_labels)
    assert (tmp_path / "nondigits" / MANIFEST).read_text() == (tmp_path / "nondigits-alone" / MANIFEST).read_text()
