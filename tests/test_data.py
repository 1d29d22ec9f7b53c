from __future__ import annotations

import gzip
import http.server
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from digitrec.errors import DataError
from digitrec.learning import data


def test_the_shared_copy_passes_its_checksums(data_dir: Path) -> None:
    for spec in data.FILES.values():
        assert data.verify_file(data_dir / spec.name, spec) in spec.sha256


def test_test_split_is_the_real_mnist_test_set(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(labels.tolist()) == set(range(10))
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_idx_round_trip(tmp_path: Path) -> None:
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data.write_idx(tmp_path / "x.gz", array)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x.gz"), array)


@pytest.mark.parametrize("header", [True, False])
def test_reads_the_seed_csv_format(tmp_path: Path, mnist_test: tuple[np.ndarray, np.ndarray], header: bool) -> None:
    images, labels = mnist_test[0][:5], mnist_test[1][:5]
    lines = ["label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))] if header else []
    lines += [",".join(map(str, [label, *image.ravel()])) for image, label in zip(images, labels, strict=True)]
    (tmp_path / "mnist.csv").write_text("\n".join(lines) + "\n")
    read_images, read_labels = data.read_csv(tmp_path / "mnist.csv")
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_csv_with_a_short_row_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("5," + ",".join(["0"] * 700) + "\n")
    with pytest.raises(DataError, match="bad.csv:1: expected 785 values"):
        data.read_csv(tmp_path / "bad.csv")


def test_missing_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz is missing: run `digitrec data download"):
        data.load_split(tmp_path, "test")


def test_truncated_file_is_refused(tmp_path: Path, data_dir: Path) -> None:
    for spec in data.FILES.values():
        shutil.copy(data_dir / spec.name, tmp_path / spec.name)
    target = tmp_path / data.FILES["test-images"].name
    target.write_bytes(target.read_bytes()[:5000])
    with pytest.raises(DataError, match="corrupt or truncated"):
        data.load_split(tmp_path, "test")
    # Even without the checksum, the reader notices the missing bytes.
    with pytest.raises(DataError, match="cannot be read|truncated"):
        data.load_split(tmp_path, "test", verify=False)


def test_idx_with_wrong_length_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "short.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\0" * 100)
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(path)


def test_data_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGITREC_DATA_DIR", str(tmp_path / "env"))
    assert data.resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert data.resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("DIGITREC_DATA_DIR")
    assert data.resolve_data_dir(None) == data.default_data_dir()


@pytest.fixture()
def mirror(tmp_path: Path, data_dir: Path) -> Iterator[str]:
    """A real HTTP server on loopback serving the four files, standing in for a public mirror."""
    served = tmp_path / "mirror"
    served.mkdir()
    for spec in data.FILES.values():
        shutil.copy(data_dir / spec.name, served / spec.name)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_download_from_a_mirror_verifies_every_file(tmp_path: Path, mirror: str) -> None:
    received: dict[str, int] = {}

    def progress(name: str, total: int | None) -> object:
        received[name] = 0

        def advance(size: int) -> None:
            received[name] += size

        return advance

    dead_mirror = "http://127.0.0.1:9/"  # nothing listens on the discard port: the next mirror is tried
    paths = data.download(tmp_path / "mnist", mirrors=[dead_mirror, mirror], progress=progress, timeout=5)  # type: ignore[arg-type]
    assert sorted(p.name for p in paths) == sorted(spec.name for spec in data.FILES.values())
    assert all(received[p.name] == p.stat().st_size for p in paths)
    images, labels = data.load_split(tmp_path / "mnist", "test")
    assert len(images) == len(labels) == 10000


def test_download_rejects_a_corrupt_mirror(tmp_path: Path, mirror: str) -> None:
    served = Path(tmp_path / "mirror")
    (served / data.FILES["train-labels"].name).write_bytes(b"not mnist")
    with pytest.raises(DataError, match="could not download train-labels-idx1-ubyte.gz"):
        data.download(tmp_path / "out", mirrors=[mirror], timeout=5)
    assert not (tmp_path / "out" / data.FILES["train-labels"].name).exists()


def test_pendigits_reader_matches_the_readme(pendigits: list[data.PenDigit]) -> None:
    """The counts the shared folder's README states: 7,494 digits of 30 writers, 9,433 strokes."""
    assert len(pendigits) == 7494
    per_class = np.bincount([d.label for d in pendigits], minlength=10).tolist()
    assert per_class == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert sorted({d.writer for d in pendigits}) == list(range(1, 31))
    assert sum(len(d.strokes) for d in pendigits) == 9433
    assert {len(d.strokes) for d in pendigits} <= {1, 2, 3, 4}
    writers = np.bincount([d.writer for d in pendigits])[1:]
    assert writers.min() >= 200 and writers.max() <= 300  # "about 250 digits each"


def test_pendigits_y_axis_is_flipped_to_canvas_coordinates(pendigits: list[data.PenDigit]) -> None:
    # A 7 starts at its top bar and ends at the foot of its stem: in canvas coordinates (y down)
    # the foot is below (larger y) the start.
    sevens = [d for d in pendigits if d.label == 7 and len(d.strokes) == 1]
    ends_lower = [d.strokes[0][-1, 1] > d.strokes[0][0, 1] for d in sevens]
    assert np.mean(ends_lower) > 0.95


def test_held_out_writers_are_fixed_and_real(pendigits: list[data.PenDigit]) -> None:
    assert len(data.HELD_OUT_WRITERS) >= 6
    held = [d for d in pendigits if d.writer in data.HELD_OUT_WRITERS]
    assert len(held) > 1500 and {d.label for d in held} == set(range(10))


def test_training_and_held_out_writers_part_the_file(pendigits: list[data.PenDigit], pendigits_dir: Path) -> None:
    training, held = data.training_writers(pendigits_dir), data.held_out_writers(pendigits_dir)
    assert {d.writer for d in held} == set(data.HELD_OUT_WRITERS)
    assert not {d.writer for d in training} & set(data.HELD_OUT_WRITERS)
    assert len(training) + len(held) == len(pendigits) and training and held


def test_pendigits_reader_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / data.PENDIGITS_FILE).write_text(".INCLUDE x\n.PEN_DOWN\n 1 2 3\n")
    with pytest.raises(DataError, match="expected a point"):
        data.read_pendigits(tmp_path / data.PENDIGITS_FILE)
    (tmp_path / "empty.tra").write_text("hello\n")
    with pytest.raises(DataError, match="no digits"):
        data.read_pendigits(tmp_path / "empty.tra")
    with pytest.raises(DataError, match="missing"):
        data.load_pendigits(tmp_path / "nowhere")
