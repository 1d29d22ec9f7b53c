"""The shipped cnn's whole recipe as one call (`digitrec recipe cnn`): cut the number reader's
pieces of the training writers' numbers, gather what is no digit (people's Omniglot characters,
the Hershey glyphs, the generated kinds, beside scanned and drawn digits), then train from
scratch on MNIST with both, which also calibrates, and measure and record. Each step is a library
function that the step's own command also calls; the card records every step, its equivalent
command and its time.

Until 2026-12-07 the recipe trained on MNIST first and learned the pieces and the non-digits in
two fine-tunes. A fine-tune holds replayed MNIST to its teacher's answers, so a shape near a digit
moved little: trained from scratch on the same data, with the contrast curve of `train.Recipe`, the
cnn flags far more of the symbols and alphabets it never saw (docs/models.md)."""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from digitrec.learning.data import training_writers, write_dataset
from digitrec.learning.evaluate import DATASETS, evaluate_dataset, record
from digitrec.learning.nondigits import save_training_set, training_drawings, training_scan_part
from digitrec.learning.pieces import reader_pieces
from digitrec.learning.train import TrainConfig, fit
from digitrec.reading.card import PAIRS_FOLDER, ModelCard, resolve_model

PIECES_NUMBERS = 1000
DRY_RUN_IMAGES, DRY_RUN_NUMBERS = 2000, 30


@dataclass
class RecipeConfig:
    out: Path
    seed: int = 0
    data_dir: Path | None = None
    pendigits_dir: Path | None = None
    threads: int | None = None
    progress: bool = False
    # The number reader's pair reader is a model of its own (`digitrec train --model pair-cnn`,
    # 12 minutes here): the recipe ships this one beside the cnn, by default the shipped one.
    pairs: Path | None = None
    command: str = ""
    dry_run: bool = False  # every step on a little data: checks the setup in a minute or two


def make_cnn(config: RecipeConfig, say: Callable[[str], None] = print) -> ModelCard:
    """Every step of the shipped cnn, into `config.out`; returns its card, with `steps` and times.
    Its data is made in spawned processes (`write_data`): a script that calls this must do so
    under `if __name__ == "__main__":`, as the `digitrec` command does."""
    out = Path(config.out)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="digitrec-recipe-") as scratch:
        pieces, nondigits = Path(scratch) / "pieces", Path(scratch) / "nondigits"

        def step(name: str, work: Callable[[], object]) -> None:
            started = time.perf_counter()
            work()
            seconds[name] = round(time.perf_counter() - started, 1)
            say(f"{name}: {seconds[name]} s")

        step("pieces and nondigits", lambda: write_data(config, pieces, nondigits))
        step("train", lambda: fit(train_config(config, [pieces, nondigits], out)))  # and calibrate
    step("pairs", lambda: copy_pairs(config.pairs, out))
    for dataset in DATASETS:
        step(f"evaluate {dataset}", lambda dataset=dataset: measure(out, dataset, config))  # type: ignore[misc]
    card = ModelCard.load(out)
    # `command` stays the training's, which made the weights; the recipe is the whole of it.
    card.recipe_command = config.command or f"digitrec recipe cnn --seed {config.seed} --out {out}"  # type: ignore[attr-defined]
    card.steps = recipe_steps(config.seed)
    card.recipe_seconds = seconds  # type: ignore[attr-defined]
    card.save(out)
    return card


def train_config(config: RecipeConfig, extra: list[Path], out: Path) -> TrainConfig:
    small = {"epochs": 1, "limit": DRY_RUN_IMAGES} if config.dry_run else {}
    return TrainConfig(
        **small,  # type: ignore[arg-type]
        model="cnn",
        out=out,
        data_dir=config.data_dir,
        pendigits_dir=config.pendigits_dir,
        seed=config.seed,
        extra_data=extra,
        threads=config.threads,
        progress=config.progress,
        command=train_command(config.seed),
    )


def train_command(seed: int) -> str:
    return (
        f"digitrec train --model cnn --seed {seed} --no-progress "
        "--extra-data runs/pieces --extra-data runs/nondigits --out runs/cnn"
    )


def write_pieces(config: RecipeConfig, out: Path) -> None:
    numbers = DRY_RUN_NUMBERS if config.dry_run else PIECES_NUMBERS
    images, labels = reader_pieces(training_writers(config.pendigits_dir), numbers, seed=config.seed)
    write_dataset(images, labels, out)


def write_data(config: RecipeConfig, pieces: Path, nondigits: Path) -> None:
    """The reader's pieces and the non-digits, made side by side in two processes: the three
    parts are independent, each with its own seeds, so they come out as made one after the other
    (on a 2-core Xeon, the scans take 36 s alone, the pieces 20 and the drawings 23)."""
    limit = DRY_RUN_IMAGES if config.dry_run else None
    # spawn: a forked copy of a process that has started PyTorch's threads can hang.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        scanned = pool.submit(training_scan_part, config.seed, data_dir=config.data_dir, limit=limit)
        drawn = pool.submit(training_drawings, config.seed, limit=limit)
        cut = pool.submit(write_pieces, config, pieces)
        save_training_set(nondigits, config.seed, drawn.result(), scanned.result())
        cut.result()


def copy_pairs(source: Path | None, out: Path) -> None:
    pairs = source or resolve_model("cnn") / PAIRS_FOLDER
    if pairs.resolve() != (out / PAIRS_FOLDER).resolve():
        shutil.copytree(pairs, out / PAIRS_FOLDER, dirs_exist_ok=True)


def measure(out: Path, dataset: str, config: RecipeConfig) -> None:
    report = evaluate_dataset(out, dataset, config.data_dir, config.pendigits_dir, threads=config.threads or 2)
    record(out, dataset.replace("-", "_"), report)


def recipe_steps(seed: int) -> list[str]:
    """The commands that do what `digitrec recipe cnn` does, one step at a time."""
    return [
        f"digitrec data pieces --out runs/pieces --numbers {PIECES_NUMBERS} --seed {seed}",
        f"digitrec data nondigits --out runs/nondigits --seed {seed}",
        f"{train_command(seed)}  # trains, then calibrates",
        "cp -r src/digitrec/weights/cnn/pairs runs/cnn/pairs  # the pair reader: digitrec train --model pair-cnn",
        *(f"digitrec evaluate --model runs/cnn --dataset {d} --record" for d in DATASETS),
    ]
