"""Training time. `fast`: the whole `digitrec train --model cnn --fast` command (start-up included)
and the test accuracy of its result. `full` (under ten minutes): the whole shipped cnn recipe."""

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
    """The whole shipped cnn recipe as a user runs it: `digitrec train --model cnn --seed 0` (data
    rendering, the epochs, ONNX export and calibration included), then its accuracy. With
    $DIGITREC_BENCH_KEEP=DIR the trained model is kept there (a new folder) instead of discarded."""
    import os

    keep = os.environ.get("DIGITREC_BENCH_KEEP")
    if keep and Path(keep).exists():
        raise SystemExit(f"DIGITREC_BENCH_KEEP={keep} exists: name a new folder")
    with tempfile.TemporaryDirectory() as scratch:
        folder = keep or scratch
        load = os.getloadavg()[0]
        start = time.perf_counter()
        command = [sys.executable, "-m", "digitrec", "train", "--model", "cnn", "--seed", "0", "--no-progress"]
        done = subprocess.run([*command, "--out", folder], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"training failed: {done.stderr.strip()}")
        seconds = time.perf_counter() - start
        from digitrec.evaluate import evaluate_dataset

        test = evaluate_dataset(Path(folder), "mnist-test").accuracy
        writers = evaluate_dataset(Path(folder), "writers").accuracy
    lines = [
        "| whole command s | MNIST test accuracy | held-out writers accuracy | load average at start |",
        "| --- | --- | --- | --- |",
        f"| {seconds:.0f} | {test:.2%} | {writers:.2%} | {load:.1f} |",
    ]
    record("Training: the shipped cnn recipe, `digitrec train --model cnn --seed 0` (target: 10 minutes)", lines)


if __name__ == "__main__":
    fast()
