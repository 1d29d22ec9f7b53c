"""Training time. `fast`: the whole `digitrec train --model cnn --fast` command (start-up included)
and the test accuracy of its result. `full` (under ten minutes): the whole shipped cnn recipe, step by step."""

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


def _run(command: list[str]) -> float:
    """One `digitrec` step of the recipe; its wall time in seconds (start-up included)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "digitrec", *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"digitrec {command[0]} failed: {done.stderr.strip()}")
    return time.perf_counter() - start


def full() -> None:
    """The whole shipped cnn recipe as a user runs it, every step of the shipped `model.json`'s
    `steps` but the recording evaluations: training from scratch (data rendering, the epochs,
    ONNX export and calibration included), the reader's pieces, the fine-tune on them and its
    calibration; then the result's accuracy. With $DIGITREC_BENCH_KEEP=DIR the
    run is kept there (a new folder) instead of discarded."""
    import os

    keep = os.environ.get("DIGITREC_BENCH_KEEP")
    if keep and Path(keep).exists():
        raise SystemExit(f"DIGITREC_BENCH_KEEP={keep} exists: name a new folder")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(keep or scratch)
        root.mkdir(parents=True, exist_ok=True)
        base, pieces, shipped = root / "cnn-d", root / "pieces", root / "cnn-pieces"
        load = os.getloadavg()[0]
        steps = {
            "train": ["train", "--model", "cnn", "--seed", "0", "--no-progress", "--out", str(base)],
            "pieces": ["data", "pieces", "--out", str(pieces), "--numbers", "1000", "--seed", "0"],
            "finetune": [
                "finetune",
                "--model",
                str(base),
                "--extra-data",
                str(pieces),
                "--lr",
                "3e-4",
                "--out",
                str(shipped),
            ],
            "calibrate": ["calibrate", "--model", str(shipped)],
        }
        seconds = {name: _run(command) for name, command in steps.items()}
        from digitrec.learning.evaluate import evaluate_dataset

        test = evaluate_dataset(shipped, "mnist-test").accuracy
        writers = evaluate_dataset(shipped, "writers").accuracy
    total = sum(seconds.values())
    lines = [
        "| "
        + " | ".join(f"{name} s" for name in seconds)
        + " | whole recipe s | MNIST test | held-out writers | load average at start |",
        "| " + " | ".join("---" for _ in range(len(seconds) + 4)) + " |",
        "| "
        + " | ".join(f"{s:.0f}" for s in seconds.values())
        + f" | {total:.0f} | {test:.2%} | {writers:.2%} | {load:.1f} |",
    ]
    record("Training: the whole shipped cnn recipe, every step of its `model.json` `steps` (target: 10 minutes)", lines)


if __name__ == "__main__":
    fast()
