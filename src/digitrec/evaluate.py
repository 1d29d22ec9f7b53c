"""Metrics on the MNIST test set: accuracy, per-class precision/recall, confusion matrix, plots."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitrec.data import load_split, resolve_data_dir
from digitrec.errors import DigitrecError
from digitrec.inference import Predictor
from digitrec.preprocess import mnist_to_input, preprocess


@dataclass
class Report:
    model: str
    version: str
    accuracy: float
    n: int
    confusion: np.ndarray  # rows: true digit, columns: predicted digit
    predicted: np.ndarray
    labels: np.ndarray
    through_preprocess: bool

    def precision(self) -> list[float]:
        column = self.confusion.sum(axis=0)
        return [float(self.confusion[d, d] / column[d]) if column[d] else 0.0 for d in range(10)]

    def recall(self) -> list[float]:
        row = self.confusion.sum(axis=1)
        return [float(self.confusion[d, d] / row[d]) if row[d] else 0.0 for d in range(10)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "accuracy": round(self.accuracy, 6),
            "n": self.n,
            "errors": int((self.predicted != self.labels).sum()),
            "through_preprocess": self.through_preprocess,
            "precision": [round(v, 5) for v in self.precision()],
            "recall": [round(v, 5) for v in self.recall()],
            "confusion": self.confusion.tolist(),
        }


# CPU features that change int8 results: ONNX Runtime picks other int8 kernels (with other
# rounding) on CPUs with AVX-512 VNNI or AVX-VNNI than on AVX2-only ones.
INT8_KERNEL_FLAGS = ("avx512_vnni", "avx_vnni", "avx512f", "avx2")


def measuring_cpu() -> dict[str, object]:
    """Which CPU measured a number: its model name and the flags that select int8 kernels."""
    name = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:  # not Linux: the name alone
        pass
    return {"model": name, "int8_flags": [f for f in INT8_KERNEL_FLAGS if f in flags]}


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def evaluate(predictor: Predictor, images: np.ndarray, labels: np.ndarray, through_preprocess: bool = False) -> Report:
    """Score a predictor on uint8 MNIST images. With `through_preprocess`, each image first takes
    the same road as a drawing from the web page."""
    inputs = np.stack([preprocess(im) for im in images])[:, None] if through_preprocess else mnist_to_input(images)
    predicted = predictor.predict_proba(inputs).argmax(axis=1)
    return Report(
        model=predictor.name,
        version=predictor.version,
        accuracy=float((predicted == labels).mean()),
        n=len(labels),
        confusion=confusion_matrix(labels, predicted),
        predicted=predicted,
        labels=labels,
        through_preprocess=through_preprocess,
    )


def evaluate_test_set(
    model: str | Path | None, data_dir: str | Path | None, through_preprocess: bool = False, threads: int = 2
) -> tuple[Report, np.ndarray]:
    images, labels = load_split(resolve_data_dir(data_dir), "test")
    report = evaluate(Predictor(model, threads=threads), images, labels, through_preprocess)
    return report, images


def write_report(report: Report, images: np.ndarray, history: list[dict[str, float]], folder: Path) -> list[Path]:
    """PNGs: confusion matrix, misclassified digits, training curves (when the model has them)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise DigitrecError("--report needs matplotlib: pip install 'digitrec[train]'") from exc
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(np.log1p(report.confusion), cmap="Blues")
    for (row, col), count in np.ndenumerate(report.confusion):
        if count:
            ax.text(
                col, row, str(count), ha="center", va="center", fontsize=7, color="white" if row == col else "black"
            )
    ax.set(
        xlabel="predicted",
        ylabel="true",
        xticks=range(10),
        yticks=range(10),
        title=f"{report.model}: {report.accuracy:.2%} of {report.n:,}",
    )
    written.append(_save(fig, folder / "confusion.png"))

    wrong = np.flatnonzero(report.predicted != report.labels)[:100]
    if wrong.size:
        columns = 10
        rows = int(np.ceil(wrong.size / columns))
        fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, index in zip(axes.flat, wrong, strict=False):
            ax.imshow(images[index], cmap="gray_r")
            ax.set_title(f"{report.labels[index]}→{report.predicted[index]}", fontsize=8)
        fig.suptitle("misclassified test digits (true→predicted)")
        written.append(_save(fig, folder / "misclassified.png"))

    if history:
        epochs = [h["epoch"] for h in history]
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
        loss_ax.plot(epochs, [h["train_loss"] for h in history], label="train")
        loss_ax.plot(epochs, [h["val_loss"] for h in history], label="validation")
        loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
        acc_ax.plot(epochs, [h["train_accuracy"] for h in history], label="train")
        acc_ax.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
        acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        for ax in (loss_ax, acc_ax):
            ax.legend()
            ax.grid(alpha=0.3)
        written.append(_save(fig, folder / "training.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
