"""Writing MNIST-style datasets: gzip IDX files named as MNIST's training files (what
`load_split(folder, "train")` and `--extra-data` read), or one CSV.

The one writer of them: learning's dataset commands, `digitrec feedback export` and the
corrections page's download all call `write_dataset`. It lives here, below both the store's web
door and learning, because the web may not import learning (tests/test_layout.py)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip IDX file (used to export datasets that load_split reads)."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape)
    # zlib's default level: gzip's 9 took 4.4 s for the recipe's 18 MB of non-digits, for 1% fewer bytes.
    with gzip.open(path, "wb", compresslevel=6) as handle:
        handle.write(header + data.tobytes())


def write_dataset(images: np.ndarray, labels: np.ndarray, out: Path, form: str = "idx") -> list[str]:
    """Images (N, 28, 28) and labels as gzip IDX files named as MNIST's training files (what
    `--extra-data` reads), or as one CSV; returns the names written."""
    out.mkdir(parents=True, exist_ok=True)
    if form == "idx":
        # The names of MNIST's training files, so `load_split(out, "train")` and --extra-data read it.
        write_idx(out / TRAIN_IMAGES, images)
        write_idx(out / TRAIN_LABELS, labels.astype(np.uint8))
        return [TRAIN_IMAGES, TRAIN_LABELS]
    with (out / "corrections.csv").open("w") as handle:
        handle.write("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)) + "\n")
        for image, label in zip(images, labels, strict=True):
            handle.write(f"{label}," + ",".join(map(str, image.ravel())) + "\n")
    return ["corrections.csv"]
