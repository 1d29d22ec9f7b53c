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


def full() -> None:
    """The whole shipped cnn recipe as a user runs it: exactly `digitrec recipe cnn --seed 0`
    (the reader's pieces, the non-digits, training from scratch on MNIST with both, calibration
    and the recorded evaluations), its wall time and each step's, then the result's accuracy as recorded. With
    $DIGITREC_BENCH_KEEP=DIR the model is kept there (a new folder) instead of discarded."""
    import os

    keep = os.environ.get("DIGITREC_BENCH_KEEP")
    if keep and Path(keep).exists():
        raise SystemExit(f"DIGITREC_BENCH_KEEP={keep} exists: name a new folder")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(keep or scratch) / "cnn"
        load = os.getloadavg()[0]
        start = time.perf_counter()
        command = [sys.executable, "-m", "digitrec", "recipe", "cnn", "--seed", "0", "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"digitrec recipe failed: {done.stderr.strip()}")
        total = time.perf_counter() - start
        card = json.loads((out / "model.json").read_text())
    seconds = card["recipe_seconds"]
    metrics = card["metrics"]
    lines = [
        "| "
        + " | ".join(f"{name} s" for name in seconds)
        + " | whole command s | MNIST test | held-out writers | load average at start |",
        "| " + " | ".join("---" for _ in range(len(seconds) + 4)) + " |",
        "| "
        + " | ".join(f"{s:.0f}" for s in seconds.values())
        + f" | {total:.0f} | {metrics['test_accuracy']:.2%} | {metrics['writers']['accuracy']:.2%} | {load:.1f} |",
    ]
    record("Training: the whole shipped cnn recipe, `digitrec recipe cnn --seed 0` (target: 10 minutes)", lines)


if __name__ == "__main__":
    fast()
