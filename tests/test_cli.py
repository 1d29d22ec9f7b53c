from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import on_white_canvas, png_bytes
from digitrec import __version__
from digitrec.cli import main
from digitrec.cli.common import MIN_CORRECTIONS
from digitrec.learning.data import write_idx
from digitrec.reading.card import METADATA_FILE
from digitrec.reading.decode import render_strokes
from server_process import free_port
from strokes import digit_strokes


def digitrec(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "digitrec", *args], capture_output=True, text=True, env=merged, timeout=600, cwd=cwd
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command in this process (faster than a subprocess for the checks made before any work)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse: --help, --version and bad flags
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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


@pytest.mark.slow
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
        (["data", "nondigits", "--out", "{empty}/nd", "--fonts", "-1"], "--fonts must be 0 or more, not -1"),
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


def test_download_from_a_failing_mirror_fails_clearly(tmp_path: Path) -> None:
    """A real HTTP server on loopback that answers every request with a 503."""
    import http.server
    import threading

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_error(503, "down for maintenance")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        mirror = f"http://127.0.0.1:{httpd.server_address[1]}/"
        result = digitrec("data", "download", "--dir", str(tmp_path / "mnist"), "--mirror", mirror, "--timeout", "3")
    finally:
        httpd.shutdown()
    assert result.returncode == 1
    assert "could not download" in result.stderr and "down for maintenance" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not list((tmp_path / "mnist").glob("*.gz"))


def test_help_states_defaults() -> None:
    result = digitrec("train", "--help")
    assert result.returncode == 0
    assert "(default: 0)" in result.stdout and "--resume" in result.stdout and "--fast" in result.stdout


COMMANDS = [
    [],
    ["train"],
    ["evaluate"],
    ["predict"],
    ["export"],
    ["data"],
    ["data", "download"],
    ["data", "verify"],
    ["data", "pieces"],
    ["data", "nondigits"],
    ["serve"],
    ["feedback"],
    ["feedback", "stats"],
    ["feedback", "export"],
    ["finetune"],
    ["models"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "digitrec")
def test_help_states_each_default_once(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, *command, "--help")
    assert code == 0
    # One entry per option: a line "  --flag ..." and the deeper-indented lines that continue it.
    entries = re.split(r"\n(?=  -)", out.split("options:", 1)[1])
    for entry in entries:
        text = " ".join(entry.split())
        assert text.count("(default") <= 1, text
        assert not re.search(r"\(default: (None|False|\[\])\)", text), text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, "--version") == (0, f"digitrec {__version__}\n", "")


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


@pytest.mark.slow
def test_train_makes_a_pair_reader_checkpoint(tmp_path: Path) -> None:
    """`digitrec train --model pair-cnn` (a few hundred pairs here; the shipped one 40,000)
    writes a checkpoint of 28x56 inputs whose graph answers as PyTorch does."""
    out = tmp_path / "pairs"
    result = digitrec("train", "--model", "pair-cnn", "--limit", "300", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "of the held-out writers' pairs read right" in result.stdout
    metadata = json.loads((out / "model.json").read_text())
    assert metadata["input_shape"] == [28, 56] and metadata["data"]["training_images"] == 300
    assert metadata["parity_max_difference"] < 1e-4 and len(metadata["history"]) == 8
    again = digitrec("train", "--model", "pair-cnn", "--limit", "300", "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr  # never overwrites a model unasked


@pytest.mark.slow
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


@pytest.mark.slow
def test_unknown_architecture_is_a_one_line_error(data_dir: Path) -> None:
    result = digitrec("train", "--model", "resnet", "--dry-run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "unknown model 'resnet'" in result.stderr and "Traceback" not in result.stderr


UNREACHABLE_DB = "postgresql+psycopg://digitrec:s3cret-pw@127.0.0.1:9/digitrec"
MISTAKES = [
    # paths that exist when they must not, or do not when they must
    (["evaluate", "--report", "{file}"], "--report {file} is a file, not a folder"),
    (["feedback", "export", "--db", "{db}", "--out", "{file}"], "--out {file} is a file, not a folder"),
    (["export", "--out", "{tmp}/missing/cnn.onnx"], "the folder {tmp}/missing does not exist"),
    (["export", "--out", "{tmp}"], "is a folder: give a file name"),
    (["export", "--model", "{trained}", "--out", "{trained}/model.onnx"], "the model's own graph"),
    (["train", "--data-dir", "{data}", "--out", "{trained}"], "already holds a trained model"),
    (["train", "--data-dir", "{data}", "--out", "{trained}", "--resume"], "nothing to resume"),
    (["train", "--data-dir", "{data}", "--out", "{file}", "--dry-run"], "is a file, not a folder"),
    (["train", "--data-dir", "{data}", "--extra-data", "{tmp}/missing", "--dry-run"], "is not a folder"),
    (["finetune", "--data-dir", "{data}", "--extra-data", "{tmp}/missing"], "is not a folder"),
    # too little to work with
    (["feedback", "export", "--db", "{db}", "--out", "{tmp}/out"], "no corrections in sqlite:///"),
    (["finetune", "--data-dir", "{data}", "--extra-data", "{few}"], f"fine-tuning needs at least {MIN_CORRECTIONS}"),
    # unknown models
    (["predict", "--model", "nope", "x.png"], "unknown model 'nope'"),
    (["export", "--model", "nope"], "unknown model 'nope'"),
    (["finetune", "--model", "nope", "--extra-data", "{few}"], "unknown model 'nope'"),
    (["serve", "--model", "nope", "--port", "{free}"], "unknown model 'nope'"),
    (["export", "--model", "{onnx_only}", "--out", "{tmp}/x.onnx"], "has no model.safetensors"),
    # ports, hosts and databases
    (["serve", "--port", "{busy}"], "port {busy} on 127.0.0.1 is in use"),
    (["serve", "--port", "70000"], "choose one from 1 to 65535"),
    (["serve", "--host", "no-such-host.invalid", "--port", "{free}"], "no such address"),
    (["serve", "--port", "{free}", "--db", UNREACHABLE_DB], "cannot open the feedback database"),
    (["feedback", "stats", "--db", UNREACHABLE_DB], "postgresql+psycopg://digitrec:***@127.0.0.1:9/digitrec"),
    (["feedback", "stats", "--db", "{tmp}/missing/feedback.db"], "cannot open the feedback database"),
    # bad flags: one line and exit 1 too, not argparse's usage and exit 2
    (["train", "--epochs", "0"], "argument --epochs: must be above 0, not 0"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["feedback", "export"], "the following arguments are required: --out"),
    (["serve", "--port", "http"], "argument --port: invalid int value: 'http'"),
    (["finetune", "--extra-data", "{few}", "--holdout", "1.5"], "must be from 0 up to"),
    (["export", "--serve"], "--serve goes with --quantize"),
]


@pytest.mark.parametrize(("args", "message"), MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_mistake_is_one_line_and_exit_1(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        places = mistake_places(tmp_path, data_dir, busy.getsockname()[1])
        code, out, err = run_main(capsys, *[a.format(**places) for a in args])
    assert code == 1
    assert message.format(**places) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "s3cret-pw" not in err and "serving" not in err and out == ""


def mistake_places(tmp_path: Path, data_dir: Path, busy: int) -> dict[str, object]:
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    trained = tmp_path / "trained"  # what `digitrec train` leaves, as far as the checks look
    trained.mkdir()
    for name in (METADATA_FILE, "model.onnx", "model.safetensors"):
        (trained / name).write_text("{}")
    onnx_only = tmp_path / "onnx-only"
    onnx_only.mkdir()
    (onnx_only / "model.onnx").write_text("")
    few = tmp_path / "few"
    few.mkdir()
    write_idx(few / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    write_idx(few / "train-labels-idx1-ubyte.gz", np.array([3, 5], np.uint8))
    return {
        "tmp": tmp_path,
        "file": file,
        "trained": trained,
        "onnx_only": onnx_only,
        "few": few,
        "data": data_dir,
        "db": f"sqlite:///{tmp_path / 'empty.db'}",
        "busy": busy,
        "free": free_port(),
    }


def test_a_bad_setting_from_the_environment_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIGITREC_PORT", "eighty")
    code, out, err = run_main(capsys, "serve")
    assert code == 1 and out == ""
    assert "a setting is not valid (port: " in err and len(err.strip().splitlines()) == 1


def test_empty_export_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(
        capsys, "feedback", "export", "--db", str(tmp_path / "empty.db"), "--out", str(tmp_path / "out")
    )
    assert code == 1 and "nothing to export" in err
    assert not (tmp_path / "out").exists()


def test_serve_on_a_busy_port_never_says_it_serves(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = digitrec("serve", "--port", str(busy.getsockname()[1]), "--workers", "1")
    assert result.returncode == 1
    assert "is in use" in result.stderr and "serving" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_dry_run_never_touches_a_trained_model(tmp_path: Path, data_dir: Path) -> None:
    """`train --dry-run` once overwrote runs/cnn (99.17%) with an 11% model; now it trains in a
    temporary folder of its own and removes it."""
    kept = tmp_path / "runs" / "cnn"
    kept.mkdir(parents=True)
    (kept / METADATA_FILE).write_text('{"the": "real model"}')
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = digitrec(
        "train",
        "--dry-run",
        "--no-progress",
        "--threads",
        "2",
        "--data-dir",
        str(data_dir),
        cwd=tmp_path,
        env={"TMPDIR": str(scratch)},
    )
    assert result.returncode == 0, result.stderr
    assert (kept / METADATA_FILE).read_text() == '{"the": "real model"}'
    found = re.fullmatch(
        r"dry run \(folder removed\): test accuracy (0\.\d{4}) on 10,000 MNIST test images.*\n", result.stdout
    )
    assert found, result.stdout
    assert not list(scratch.glob("digitrec-dry-run-*"))  # its folder is gone (torch keeps caches of its own there)


def test_data_pieces_writes_a_dataset_extra_data_reads(
    tmp_path: Path, pendigits_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from digitrec.learning.data import load_split

    code, out, _ = run_main(
        capsys,
        "data",
        "pieces",
        "--out",
        str(tmp_path / "pieces"),
        "--numbers",
        "6",
        "--pendigits-dir",
        str(pendigits_dir),
    )
    assert code == 0 and "not a digit" in out
    images, labels = load_split(tmp_path / "pieces", "train", verify=False)
    assert images.shape == (len(labels), 28, 28) and 10 in labels and set(labels.tolist()) - {10} <= set(range(10))
