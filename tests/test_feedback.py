"""Corrections: the API, the CLI and the corrections page, against SQLite and a real PostgreSQL."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import free_port, on_white_canvas, png_bytes, start_server
from digitrec.data import load_split, read_csv
from digitrec.feedback import Store, open_store
from digitrec.web.app import create_app
from digitrec.web.settings import Settings
from strokes import digit_strokes


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        pytest.fail("PostgreSQL is not installed: run `make setup-dev` (it installs Debian's postgresql)")
    return versions[-1].parent


def as_postgres_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; Debian's package provides the `postgres` user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server, a throwaway cluster on a Unix socket in a temporary folder."""
    bin_dir = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="digitrec-pg-"))
    folder.chmod(0o777)
    data, port = folder / "data", free_port()
    subprocess.run(
        as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {folder} -p {port} -c listen_addresses='' -c fsync=on"
    subprocess.run(
        as_postgres_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(folder / "log"), "start"]
        ),
        check=True,
        capture_output=True,
    )
    yield f"postgresql+psycopg://postgres@/{{database}}?host={folder}&port={port}"
    subprocess.run(
        as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
    )
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.db'}"
    template = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:12]}"
    from sqlalchemy import create_engine, text

    admin = create_engine(template.format(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(template.format(database=name))


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


@pytest.fixture()
def feedback_client(store: Store, predictors: dict) -> Iterator[TestClient]:
    settings = Settings(database_url=store.url, admin_token="s3cret")
    with TestClient(create_app(settings, predictors, store)) as test_client:
        yield test_client


def drawing(digit: int) -> dict:
    return {"strokes": digit_strokes(digit, 280), "width": 280, "height": 280, "line_width": 22}


def test_corrections_are_stored_with_their_input(feedback_client: TestClient, store: Store) -> None:
    response = feedback_client.post("/api/feedback", json={**drawing(7), "label": 1, "predicted": 7, "model": "cnn"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] >= 1 and body["label"] == 1 and body["predicted"] == 7
    assert body["model"] == "cnn" and body["model_version"].startswith("cnn-") and body["created_at"]
    png = png_bytes(on_white_canvas(np.eye(28, dtype=np.uint8) * 255))
    response = feedback_client.post("/api/feedback", files={"image": ("d.png", png)}, data={"label": "4"})
    assert response.status_code == 201, response.text
    encoded = "data:image/png;base64," + base64.b64encode(png).decode()
    assert feedback_client.post("/api/feedback", json={"image": encoded, "label": 0}).status_code == 201
    rows = store.recent()
    assert [r.label for r in rows] == [0, 4, 1]
    assert rows[-1].model == "cnn" and len(rows[-1].input) == 784 and rows[-1].image_png.startswith(b"\x89PNG")
    assert rows[-1].created_at is not None


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**drawing(3)}, 422, "`label` is required"),
        ({**drawing(3), "label": 10}, 422, "0 to 9"),
        ({**drawing(3), "label": "seven"}, 422, "0 to 9"),
        ({**drawing(3), "label": True}, 422, "0 to 9"),
        ({**drawing(3), "label": 3, "predicted": -1}, 422, "0 to 9"),
        ({"label": 3}, 422, "exactly one"),
        ({"image": "bm90IGFuIGltYWdl", "label": 3}, 422, "not an image"),
        ({"strokes": [], "width": 10, "height": 10, "label": 3}, 422, "nothing drawn"),
        ({**drawing(3), "label": 3, "model": "nope"}, 404, "unknown model"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_stored(
    feedback_client: TestClient, store: Store, body: dict, status: int, message: str
) -> None:
    response = feedback_client.post("/api/feedback", json=body)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert store.count() == 0


def test_oversized_feedback_gets_413(feedback_client: TestClient, store: Store) -> None:
    response = feedback_client.post(
        "/api/feedback", content=b"x" * (3 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert store.count() == 0


def test_rows_survive_a_restart(database_url: str, predictors: dict) -> None:
    first = open_store(database_url)
    with TestClient(create_app(Settings(database_url=database_url), predictors, first)) as client:
        ids = [client.post("/api/feedback", json={**drawing(d), "label": d}).json()["id"] for d in range(5)]
    first.close()
    again = open_store(database_url)  # a new process would do exactly this
    assert again.ids() == set(ids)
    again.close()


def digitrec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitrec", *args], capture_output=True, text=True, timeout=900)


def test_stats_and_export_read_the_same_database(feedback_client: TestClient, store: Store, tmp_path: Path) -> None:
    for label, predicted in [(1, 7), (1, 7), (4, 9), (9, None)]:
        body = {**drawing(label), "label": label} | ({"predicted": predicted} if predicted is not None else {})
        assert feedback_client.post("/api/feedback", json=body).status_code == 201
    stats = digitrec("feedback", "stats", "--db", store.url)
    assert stats.returncode == 0, stats.stderr
    lines = stats.stdout.splitlines()
    assert lines[0] == "total: 4"
    assert "1: 2" in lines[1] and "4: 1" in lines[1] and "9: 1" in lines[1]
    assert "cnn: 4" in lines[2]
    assert "  7 -> 1: 2" in lines and "  - -> 9: 1" in lines

    images, labels = store.dataset()
    assert (
        digitrec("feedback", "export", "--db", store.url, "--format", "idx", "--out", str(tmp_path / "idx")).returncode
        == 0
    )
    read_images, read_labels = load_split(tmp_path / "idx", "train", verify=False)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert (
        digitrec("feedback", "export", "--db", store.url, "--format", "csv", "--out", str(tmp_path / "csv")).returncode
        == 0
    )
    csv_images, csv_labels = read_csv(tmp_path / "csv" / "corrections.csv")
    np.testing.assert_array_equal(csv_images, images)
    np.testing.assert_array_equal(csv_labels, labels)


def test_unreachable_database_is_a_one_line_error() -> None:
    result = digitrec("feedback", "stats", "--db", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert result.returncode == 1
    assert "cannot open the feedback database" in result.stderr and "Traceback" not in result.stderr


def test_corrections_page_needs_the_admin_token(feedback_client: TestClient, predictors: dict, store: Store) -> None:
    feedback_client.post("/api/feedback", json={**drawing(2), "label": 2, "predicted": 7})
    assert feedback_client.get("/feedback").status_code == 401
    assert feedback_client.get("/feedback?token=wrong").status_code == 401
    page = feedback_client.get("/feedback?token=s3cret")
    assert page.status_code == 200
    assert "1 stored" in page.text and 'data-testid="correction-1"' in page.text and "data:image/png" in page.text
    assert feedback_client.get("/feedback", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    with TestClient(create_app(Settings(database_url=store.url), predictors, store)) as no_token:
        response = no_token.get("/feedback?token=s3cret")
        assert response.status_code == 404 and "off" in response.json()["detail"]


@pytest.mark.slow
def test_killed_server_loses_no_acknowledged_row(database_url: str) -> None:
    """SIGKILL during a burst of posts: every row answered 201 must be in the database."""
    import signal
    import threading
    import time

    import httpx

    open_store(database_url).close()  # migrate first, as `digitrec serve` does
    url, server = start_server("--db", database_url, "--log-level", "warning")
    deadline = time.monotonic() + 120
    acknowledged: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def post_until_stopped(seed: int) -> None:
        with httpx.Client(base_url=url, timeout=5) as client:
            for attempt in range(10_000):
                if stop.is_set():
                    return
                digit = (seed + attempt) % 10
                try:
                    response = client.post("/api/feedback", json={**drawing(digit), "label": digit})
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 201:
                    with lock:
                        acknowledged.append(response.json()["id"])

    threads = [threading.Thread(target=post_until_stopped, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight right now
    server.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(acknowledged) >= 60
    reopened = open_store(database_url)
    missing = set(acknowledged) - reopened.ids()
    reopened.close()
    assert not missing, f"{len(missing)} acknowledged rows lost"


@pytest.mark.slow
def test_finetune_learns_the_corrections_without_forgetting_mnist(tmp_path: Path, data_dir: Path) -> None:
    """Synthetic corrections in a style MNIST never shows (digits turned 90 degrees)."""
    import json

    from digitrec.data import write_idx

    images, labels = load_split(data_dir, "train")
    pick = np.random.default_rng(0).choice(len(labels), 600, replace=False)
    corrections = tmp_path / "corrections"
    corrections.mkdir()
    write_idx(corrections / "train-images-idx3-ubyte.gz", np.rot90(images[pick], k=1, axes=(1, 2)))
    write_idx(corrections / "train-labels-idx1-ubyte.gz", labels[pick].astype(np.uint8))
    result = digitrec(
        "finetune",
        "--model",
        "cnn",
        "--extra-data",
        str(corrections),
        "--out",
        str(tmp_path / "tuned"),
        "--data-dir",
        str(data_dir),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    print(report)
    before, after = report["before"], report["after"]
    assert after["corrections_holdout"] >= before["corrections_holdout"] + 0.3
    assert after["mnist_test"] >= before["mnist_test"] - 0.0005  # at most 0.05 points lower
    assert (tmp_path / "tuned" / "model.onnx").is_file()
