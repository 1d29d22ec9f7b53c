"""Training time. `fast`: the whole `digitrec train --model cnn --fast` command (start-up included)
and the test accuracy of its result. `full` (about half an hour): the shipped cnn recipe, with the
wall time at which its test accuracy first reaches 99.0% and 99.5%."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import record


def evaluate(folder: Path) -> float:
    output = subprocess.run(
        [sys.executable, "-m", "digitrec", "evaluate", "--model", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(output)["accuracy"])


def fast(runs: int = 3) -> None:
    lines = ["| run | wall time of the whole command s | test accuracy |", "| --- | --- | --- |"]
    for run in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            command = [sys.executable, "-m", "digitrec", "train", "--model", "cnn", "--fast"]
            done = subprocess.run([*command, "--out", folder, "--no-progress"], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"training failed: {done.stderr.strip()}")
            seconds = time.perf_counter() - start
            lines.append(f"| {run + 1} | {seconds:.1f} | {evaluate(Path(folder)):.4f} |")
    record("Training: `digitrec train --model cnn --fast` (target: 99.0% within 30 s)", lines)


def full() -> None:
    """The full recipe, with a test-set evaluation after every epoch (outside the timed training)."""
    import numpy as np

    import digitrec.train as train
    from digitrec.data import load_split, resolve_data_dir
    from digitrec.preprocess import mnist_to_input

    images, labels = load_split(resolve_data_dir(None), "test")
    x_test = train.torch.from_numpy(mnist_to_input(images))
    reached: dict[float, float] = {}
    started = time.perf_counter()
    paused = 0.0
    real_accuracy = train.accuracy_and_loss

    def with_test_accuracy(model, x, y, batch=1000):  # type: ignore[no-untyped-def]
        nonlocal paused
        result = real_accuracy(model, x, y, batch)
        pause = time.perf_counter()
        test_accuracy, _ = real_accuracy(model, x_test, train.torch.from_numpy(labels), batch)
        elapsed = pause - started - paused
        for goal in (0.99, 0.995):
            if test_accuracy >= goal and goal not in reached:
                reached[goal] = elapsed
        paused += time.perf_counter() - pause
        model.train()
        return result

    train.accuracy_and_loss = with_test_accuracy
    with tempfile.TemporaryDirectory() as folder:
        train.fit(train.TrainConfig(model="cnn", out=Path(folder), progress=False))
        total = time.perf_counter() - started - paused
        final = evaluate(Path(folder))
    lines = [
        "| milestone | training wall time s |",
        "| --- | --- |",
        *(
            f"| test accuracy >= {goal:.1%} | {reached[goal]:.0f} |"
            if goal in reached
            else f"| test accuracy >= {goal:.1%} | not reached |"
            for goal in (0.99, 0.995)
        ),
        f"| full recipe ({final:.2%}) | {total:.0f} |",
    ]
    np.random.seed(0)
    record("Training: the shipped cnn recipe", lines)


if __name__ == "__main__":
    fast()
