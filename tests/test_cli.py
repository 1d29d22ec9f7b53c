from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import on_white_canvas, png_bytes
from digitrec.decode import render_strokes
from strokes import digit_strokes


def digitrec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "digitrec", *args], capture_output=True, text=True, env=merged, timeout=600
    )


def test_predict_reads_drawn_digits(tmp_path: Path, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    files = []
    for digit in (3, 8):  # drawn with a pen, dark on white, as a person would
        path = tmp_path / f"drawn-{digit}.png"
        path.write_bytes(png_bytes(255 - render_strokes(digit_strokes(digit, 300, seed=digit), 300, 300, 16)))
        files.append(path)
    path = tmp_path / "mnist-7.png"
    path.write_bytes(png_bytes(on_white_canvas(mnist_test[0][0])))
    files.append(path)
    result = digitrec("predict", *map(str, files))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ")[1][0] for line in lines] == ["3", "8", "7"]
    assert "%" in lines[0]


def test_predict_json_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "one.png"
    good.write_bytes(png_bytes(255 - render_strokes(digit_strokes(1, 200), 200, 200, 14)))
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    result = digitrec("predict", "--json", str(good), str(bad), str(tmp_path / "missing.png"))
    assert result.returncode == 1
    assert json.loads(result.stdout.splitlines()[0])["digit"] == 1
    assert "not-an-image.png: this is not an image" in result.stderr
    assert "missing.png: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_json(data_dir: Path) -> None:
    result = digitrec("evaluate", "--model", "mlp", "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "mlp" and report["n"] == 10000 and report["accuracy"] > 0.98
    assert np.array(report["confusion"]).sum() == 10000


def test_evaluate_report_writes_pngs(tmp_path: Path, data_dir: Path) -> None:
    result = digitrec("evaluate", "--model", "seed-ann", "--data-dir", str(data_dir), "--report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    for name in ("confusion.png", "misclassified.png", "training.png"):
        assert (tmp_path / name).stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--data-dir", "{empty}"], "t10k-images-idx3-ubyte.gz is missing"),
        (["evaluate", "--data-dir", "{corrupt}"], "corrupt or truncated"),
        (["evaluate", "--model", "nope"], "unknown model 'nope'"),
        (["train", "--data-dir", "{empty}", "--dry-run"], "train-images-idx3-ubyte.gz is missing"),
        (["data", "verify", "--dir", "{corrupt}"], "corrupt or truncated"),
    ],
)
def test_user_errors_are_one_line_and_nonzero(tmp_path: Path, data_dir: Path, args: list[str], message: str) -> None:
    empty, corrupt = tmp_path / "empty", tmp_path / "corrupt"
    empty.mkdir()
    corrupt.mkdir()
    for source in data_dir.glob("*.gz"):
        (corrupt / source.name).write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    filled = [a.format(empty=empty, corrupt=corrupt) for a in args]
    result = digitrec(*filled)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_download_without_network_fails_clearly(tmp_path: Path) -> None:
    result = digitrec("data", "download", "--dir", str(tmp_path), "--timeout", "3")
    # This machine cannot reach the mirrors; where it can, the download must succeed instead.
    if result.returncode == 0:
        assert "checksums verified" in result.stdout
    else:
        assert result.returncode == 1
        assert "could not download" in result.stderr and "Traceback" not in result.stderr


def test_help_states_defaults() -> None:
    result = digitrec("train", "--help")
    assert result.returncode == 0
    assert "(default: 0)" in result.stdout and "--resume" in result.stdout and "--fast" in result.stdout


def test_models_lists_shipped_models() -> None:
    result = digitrec("models")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["cnn", "mlp", "seed-ann"]


@pytest.mark.slow
def test_fast_recipe_reaches_99_percent(tmp_path: Path, data_dir: Path) -> None:
    """The `--fast` recipe (timed by `python -m benchmarks training`, never here) must reach 99%."""
    out = tmp_path / "fast"
    result = digitrec("train", "--model", "cnn", "--fast", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    report = json.loads(digitrec("evaluate", "--model", str(out), "--data-dir", str(data_dir), "--json").stdout)
    assert report["accuracy"] >= 0.99


def test_serving_never_imports_torch(tmp_path: Path) -> None:
    """Serving needs numpy, Pillow and onnxruntime only: with torch made unimportable, the CLI
    predicts and the app answers."""
    image = tmp_path / "two.png"
    image.write_bytes(png_bytes(255 - render_strokes(digit_strokes(2, 200), 200, 200, 16)))
    script = f"""
import sys
sys.modules["torch"] = None  # any `import torch` now fails
from digitrec.cli import main
assert main(["predict", {str(image)!r}]) == 0
from fastapi.testclient import TestClient
from digitrec.web.app import create_app
with TestClient(create_app()) as client:
    answer = client.post("/api/predict", files={{"image": open({str(image)!r}, "rb")}})
    assert answer.status_code == 200 and answer.json()["digit"] == 2, answer.text
    assert client.post("/api/read", files={{"image": open({str(image)!r}, "rb")}}).json()["text"] == "2"
assert "torch" not in [name for name, module in sys.modules.items() if module is not None]
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{image}: 2")


def test_unknown_architecture_is_a_one_line_error(data_dir: Path) -> None:
    result = digitrec("train", "--model", "resnet", "--dry-run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "unknown model 'resnet'" in result.stderr and "Traceback" not in result.stderr
