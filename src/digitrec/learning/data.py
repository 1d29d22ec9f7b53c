"""Data on disk: MNIST (IDX and CSV readers, checksums, location, download) and the UCI pendigits
writers' pen strokes."""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import struct
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitrec.errors import DataError

# The writers moved to reading/idx.py (the web's download shares them); named here as before.
from digitrec.reading.idx import write_dataset as write_dataset
from digitrec.reading.idx import write_idx as write_idx

DATA_DIR_ENV = "DIGITREC_DATA_DIR"
PENDIGITS_ENV = "DIGITREC_PENDIGITS_DIR"
PENDIGITS_FILE = "pendigits-orig.tra"
PENDIGITS_SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
PENDIGITS_ATTRIBUTION = (
    "UCI Pen-Based Recognition of Handwritten Digits, E. Alpaydin and F. Alimoglu, Bogazici University, "
    "1998; UCI Machine Learning Repository, data set 81; CC BY 4.0"
)
# Writers of the pendigits file that no shipped model trains on: the validation set for
# calibration, the "not sure" threshold and the not-a-digit rates (7 of 30, spread over the ids).
HELD_OUT_WRITERS: tuple[int, ...] = (3, 8, 12, 17, 21, 26, 30)


@dataclass(frozen=True)
class MnistFile:
    name: str
    # The canonical SHA-256 first; the others are known good rebuilds (see accepted_sha256).
    sha256: tuple[str, ...]


# The shared copy's training images are a faithful rebuild, not the canonical bytes (its README
# documents how they were made), so their SHA-256 is accepted beside the canonical one.
FILES: dict[str, MnistFile] = {
    "train-images": MnistFile(
        "train-images-idx3-ubyte.gz",
        (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "8e59d4e6322d5e291f26338633ee8015e1369ee4616a784cd934bc27c2948978",
        ),
    ),
    "train-labels": MnistFile(
        "train-labels-idx1-ubyte.gz",
        ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
    ),
    "test-images": MnistFile(
        "t10k-images-idx3-ubyte.gz",
        ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
    ),
    "test-labels": MnistFile(
        "t10k-labels-idx1-ubyte.gz",
        ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
    ),
}

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def default_data_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("digitrec")) / "mnist"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--data-dir`, else $DIGITREC_DATA_DIR, else the user cache folder."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    return default_data_dir()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, spec: MnistFile) -> str:
    """Return the file's SHA-256, or raise a one-line DataError naming the file and the fix."""
    if not path.is_file():
        raise DataError(
            f"{path} is missing: run `digitrec data download --data-dir {path.parent}` "
            f"or point --data-dir / {DATA_DIR_ENV} at a folder holding the MNIST files"
        )
    digest = sha256_of(path)
    if digest not in spec.sha256:
        raise DataError(
            f"{path} is corrupt or truncated (SHA-256 {digest[:12]}... is not MNIST's): delete it "
            f"and run `digitrec data download --data-dir {path.parent}`"
        )
    return digest


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} cannot be read ({exc}): download it again") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file: download it again")
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header_end])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_end != expected:
        raise DataError(f"{path} is truncated ({len(raw) - header_end} of {expected} bytes): download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)


def load_split(data_dir: Path, split: str, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of the "train" or "test" split."""
    images_spec, labels_spec = FILES[f"{split}-images"], FILES[f"{split}-labels"]
    images_path, labels_path = data_dir / images_spec.name, data_dir / labels_spec.name
    if verify:
        verify_file(images_path, images_spec)
        verify_file(labels_path, labels_spec)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{data_dir}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels.astype(np.int64)


def checksums(data_dir: Path) -> dict[str, str]:
    """SHA-256 of each MNIST file in the folder, for a checkpoint's provenance."""
    return {spec.name: sha256_of(data_dir / spec.name) for spec in FILES.values()}


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the seed's CSV format: label, then 784 pixel values; a header row is optional."""
    if not path.is_file():
        raise DataError(f"{path} is missing")
    labels: list[int] = []
    rows: list[list[int]] = []
    with path.open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if line_no == 1 and not row[0].strip().isdigit():
                continue  # header such as "label,1x1,1x2,..."
            if len(row) != 785:
                raise DataError(f"{path}:{line_no}: expected 785 values (label + 784 pixels), got {len(row)}")
            try:
                values = [int(float(v)) for v in row]
            except ValueError as exc:
                raise DataError(f"{path}:{line_no}: not a number ({exc})") from exc
            labels.append(values[0])
            rows.append(values[1:])
    if not rows:
        raise DataError(f"{path} holds no images")
    images = np.asarray(rows, dtype=np.int64)
    label_array = np.asarray(labels, dtype=np.int64)
    # 10 is "not a digit", the eleventh class, as Number-mode corrections store a stray mark.
    if images.min() < 0 or images.max() > 255 or label_array.min() < 0 or label_array.max() > 10:
        raise DataError(f"{path}: pixels must be 0-255 and labels 0-9, or 10 for not a digit")
    return images.astype(np.uint8).reshape(-1, 28, 28), label_array


def download(
    target: Path,
    mirrors: Iterable[str] = MIRRORS,
    progress: Callable[[str, int | None], Callable[[int], None]] | None = None,
    timeout: float = 30.0,
) -> list[Path]:
    """Fetch the four files into `target` from the first mirror that answers; verify each one.

    Files already present with a good checksum are kept. `progress(name, total)` returns a
    callback that receives the size of each chunk, so the CLI can draw a progress bar.
    """
    target.mkdir(parents=True, exist_ok=True)
    mirror_list = list(mirrors)
    fetched = []
    for spec in FILES.values():
        destination = target / spec.name
        if destination.is_file() and sha256_of(destination) in spec.sha256:
            fetched.append(destination)
            continue
        failures = []
        for mirror in mirror_list:
            try:
                _fetch(mirror.rstrip("/") + "/" + spec.name, destination, progress, timeout)
                verify_file(destination, spec)
                break
            except (urllib.error.URLError, OSError, DataError) as exc:
                destination.unlink(missing_ok=True)
                failures.append(f"{mirror}: {getattr(exc, 'reason', exc)}")
        else:
            raise DataError(
                f"could not download {spec.name} ({'; '.join(failures)}): check the network, or copy "
                f"the four MNIST .gz files into {target} by hand"
            )
        fetched.append(destination)
    return fetched


def _fetch(
    url: str,
    destination: Path,
    progress: Callable[[str, int | None], Callable[[int], None]] | None,
    timeout: float,
) -> None:
    partial = destination.with_suffix(destination.suffix + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
        total = response.headers.get("Content-Length")
        advance = progress(destination.name, int(total) if total else None) if progress else None
        for block in iter(lambda: response.read(1 << 16), b""):
            out.write(block)
            if advance:
                advance(len(block))
    partial.replace(destination)


@dataclass(frozen=True)
class PenDigit:
    """One digit as a writer's pen drew it: strokes of (x, y) points in tablet units, y down."""

    label: int
    writer: int
    strokes: tuple[np.ndarray, ...]  # each (n, 2) float32, in writing order


# The UCI distribution's original trajectories of the 30 training writers, compressed with Unix
# `compress`; the SHA-256 above is of the decompressed file.
PENDIGITS_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/pendigits/pendigits-orig.tra.Z"


def download_pendigits(target: Path, url: str = PENDIGITS_URL, timeout: float = 30.0) -> Path:
    """Fetch the pendigits trajectories into `target` and check them; a good file already there
    is kept."""
    import unlzw3

    destination = target / PENDIGITS_FILE
    if destination.is_file() and sha256_of(destination) == PENDIGITS_SHA256:
        return destination
    target.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            packed = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(
            f"could not download {url} ({getattr(exc, 'reason', exc)}): check the network, or copy "
            f"{PENDIGITS_FILE} into {target} by hand"
        ) from None
    try:
        data = unlzw3.unlzw(packed) if url.endswith(".Z") else packed
    except Exception as exc:  # unlzw3 raises plain errors for a file that is no .Z
        raise DataError(f"{url} is not the compressed pendigits file ({exc})") from None
    if hashlib.sha256(data).hexdigest() != PENDIGITS_SHA256:
        raise DataError(f"{url} did not give the pendigits file this project knows (its SHA-256 differs)")
    destination.write_bytes(data)
    return destination


def resolve_pendigits_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`explicit`, else $DIGITREC_PENDIGITS_DIR, else a `pendigits` folder beside the MNIST folder."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(PENDIGITS_ENV):
        return Path(os.environ[PENDIGITS_ENV]).expanduser()
    return resolve_data_dir().parent / "pendigits"


def read_pendigits(path: Path) -> list[PenDigit]:
    """Read the UCI pendigits trajectory format (UNIPEN-like `.SEGMENT DIGIT`, `.COMMENT label
    writer seq`, `.PEN_DOWN` points `.PEN_UP`). The tablet's y axis points up; it is flipped so
    that the strokes are in canvas coordinates, like the page's."""
    if path.is_dir():
        path = path / PENDIGITS_FILE
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} cannot be read ({exc}): it is the UCI file {PENDIGITS_FILE}") from exc
    digits: list[PenDigit] = []
    label = writer = -1
    strokes: list[np.ndarray] = []
    points: list[tuple[float, float]] | None = None
    for number, line in enumerate(lines, start=1):
        word = line.split()
        if not word:
            continue
        if word[0] == ".SEGMENT":
            if label >= 0:
                digits.append(PenDigit(label, writer, tuple(strokes)))
            label, writer, strokes = int(word[-1].strip('"')), -1, []
        elif word[0] == ".COMMENT" and label >= 0:
            writer = int(word[2])
        elif word[0] == ".PEN_DOWN":
            points = []
        elif word[0] == ".PEN_UP" and points is not None:
            if points:
                strokes.append(np.array([(x, -y) for x, y in points], dtype=np.float32))
            points = None
        elif points is not None and not word[0].startswith("."):
            if len(word) != 2:
                raise DataError(f"{path}:{number}: expected a point `x y`, got {line.strip()!r}")
            points.append((float(word[0]), float(word[1])))
    if label >= 0:
        digits.append(PenDigit(label, writer, tuple(strokes)))
    if not digits:
        raise DataError(f"{path} holds no digits: it is not the UCI pendigits trajectory file")
    return digits


def load_pendigits(directory: str | os.PathLike[str] | None = None, verify: bool = True) -> list[PenDigit]:
    """The 30 writers' digits from the shared folder (or $DIGITREC_PENDIGITS_DIR), checksum verified."""
    path = resolve_pendigits_dir(directory) / PENDIGITS_FILE
    if not path.is_file():
        raise DataError(
            f"{path} is missing: put the UCI pendigits file {PENDIGITS_FILE} there or set {PENDIGITS_ENV} to its folder"
        )
    if verify and sha256_of(path) != PENDIGITS_SHA256:
        raise DataError(f"{path} is not the expected pendigits file (SHA-256 differs)")
    return read_pendigits(path)


def training_writers(directory: str | os.PathLike[str] | None = None) -> list[PenDigit]:
    """The digits of every writer not in HELD_OUT_WRITERS: what shipped models may train on."""
    return [d for d in load_pendigits(directory) if d.writer not in HELD_OUT_WRITERS]


def held_out_writers(directory: str | os.PathLike[str] | None = None) -> list[PenDigit]:
    """The digits of HELD_OUT_WRITERS: the validation set that no shipped model trains on."""
    return [d for d in load_pendigits(directory) if d.writer in HELD_OUT_WRITERS]
