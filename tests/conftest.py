"""Shared fixtures: the MNIST folder, the test set, an app client, a real server, a real browser."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitrec.learning.data import load_split
from digitrec.reading.inference import Predictor
from digitrec.reading.reader import Reader
from digitrec.web.app import create_app
from digitrec.web.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(Path(__file__).parent))  # for tests/strokes.py and server_process.py

import server_process  # noqa: E402
from server_process import free_port  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def hermetic_database(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Corrections go to a temporary SQLite file and promoted models to a temporary folder, never
    to the user's data folder; server subprocesses inherit the variables."""
    os.environ["DIGITREC_DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'feedback.db'}"
    os.environ["DIGITREC_SERVING_DIR"] = str(tmp_path_factory.mktemp("serving"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """MNIST comes from $DIGITREC_DATA_DIR (set by .ci/run); tests never download it."""
    configured = os.environ.get("DIGITREC_DATA_DIR")
    folder = Path(configured) if configured else ROOT.parent / "shared" / "datasets" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found in {folder}: set DIGITREC_DATA_DIR to the folder of the four .gz files")
    return folder


@pytest.fixture(scope="session")
def mnist_test(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return load_split(data_dir, "test")


@pytest.fixture(scope="session")
def predictors() -> dict[str, Predictor]:
    settings = Settings()
    return {name: Predictor(name) for name in settings.models}


@pytest.fixture(scope="session")
def cnn(predictors: dict[str, Predictor]) -> Predictor:
    return predictors["cnn"]


@pytest.fixture(scope="session")
def reader(cnn: Predictor) -> Reader:
    """The shipped cnn's Reader, as every door reads."""
    return Reader(predictor=cnn)


def probabilities_of(predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
    """Calibrated digit probabilities (N, 10) of model inputs."""
    return np.stack([r.probabilities for r in predictor.read(inputs)])


@pytest.fixture()
def app_settings() -> Settings:
    return Settings()


@pytest.fixture()
def client(app_settings: Settings, predictors: dict[str, Predictor]) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, predictors)) as test_client:
        yield test_client


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def on_white_canvas(
    digit: np.ndarray, size: int = 280, box: int = 200, offset: tuple[int, int] = (40, 40)
) -> np.ndarray:
    """An MNIST digit drawn large, dark on a white canvas, as a person's drawing would be saved."""
    big = np.asarray(Image.fromarray(digit).resize((box, box), Image.BILINEAR))
    canvas = np.full((size, size), 255, dtype=np.uint8)
    canvas[offset[1] : offset[1] + box, offset[0] : offset[0] + box] = 255 - big
    return canvas


def start_server(*args: str, log: Path | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """`digitrec serve ARGS` as a real subprocess on a free port, returned once /healthz answers;
    its output is shown if it fails to start."""
    port = free_port()
    log = log or ARTIFACTS / f"server-{port}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    # One worker unless asked: tests read per-process state such as /metrics.
    workers = () if "--workers" in args else ("--workers", "1")
    try:
        return f"http://127.0.0.1:{port}", server_process.start(port, *workers, *args, log=log)
    except server_process.ServerDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    url, process = start_server(log=ARTIFACTS / "server.log")
    yield url
    server_process.stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("DIGITREC_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"Chromium not found at {executable}: run `make setup` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def pendigits_dir() -> Path:
    """The UCI pendigits writers, from $DIGITREC_PENDIGITS_DIR or beside the MNIST folder."""
    from digitrec.learning.data import PENDIGITS_FILE, resolve_pendigits_dir

    folder = resolve_pendigits_dir()
    if not (folder / PENDIGITS_FILE).is_file():
        folder = ROOT.parent / "shared" / "datasets" / "pendigits"
    if not (folder / PENDIGITS_FILE).is_file():
        pytest.fail(f"pendigits not found in {folder}: set DIGITREC_PENDIGITS_DIR to the folder of {PENDIGITS_FILE}")
    return folder


@pytest.fixture(scope="session")
def pendigits(pendigits_dir: Path) -> list:  # type: ignore[type-arg]
    from digitrec.learning.data import load_pendigits

    return load_pendigits(pendigits_dir)
