"""Promotion and rollback: a candidate is served only with the verdict "better" (or --force),
running servers switch to it with no restart and no failed request, and one command goes back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from digitrec.errors import DigitrecError
from digitrec.reading.card import ModelCard, resolve_model
from digitrec.reading.inference import Predictor
from digitrec.store.served import ServedModels
from digitrec.web.app import create_app
from digitrec.web.settings import Settings
from strokes import digit_strokes

BODY = {"strokes": digit_strokes(3, 280), "width": 280, "height": 280, "line_width": 22}


def candidate(folder: Path, name: str, verdict: str | None = "better") -> Path:
    """The shipped cnn under another name (so another version), with a comparison's verdict."""
    shutil.copytree(resolve_model("cnn"), folder)
    card = ModelCard.load(folder)
    card.name = name
    card.comparison = {"verdict": verdict} if verdict else None
    card.save(folder)
    return folder


def digitrec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitrec", *args], capture_output=True, text=True, timeout=120)


def test_only_a_better_candidate_is_promoted_unless_forced(tmp_path: Path) -> None:
    served = ServedModels(tmp_path / "serving")
    unsure = candidate(tmp_path / "unsure", "cnn-unsure", verdict="not better")
    with pytest.raises(DigitrecError, match="not known to be better"):
        served.promote("cnn", unsure)
    with pytest.raises(DigitrecError, match="verdict: none"):
        served.promote("cnn", candidate(tmp_path / "bare", "cnn-bare", verdict=None))
    assert served.current("cnn") is None and not served.path.exists()
    copy = served.promote("cnn", unsure, force=True)
    assert served.current("cnn") == copy and copy.parent == served.folder / "cnn"
    assert Predictor(copy).version == Predictor(unsure).version  # the same weights, copied whole
    shutil.rmtree(unsure)  # the candidate's folder may go: the served copy is the served model's own
    assert Predictor(served.current("cnn")).version.startswith("cnn-unsure-")


def test_rollback_walks_back_one_promotion_at_a_time(tmp_path: Path) -> None:
    served = ServedModels(tmp_path / "serving")
    first = served.promote("cnn", candidate(tmp_path / "a", "cnn-a"))
    second = served.promote("cnn", candidate(tmp_path / "b", "cnn-b"))
    assert served.current("cnn") == second
    assert served.rollback("cnn") == first and served.current("cnn") == first
    assert served.rollback("cnn") is None and served.current("cnn") is None
    with pytest.raises(DigitrecError, match="nothing to roll back to"):
        served.rollback("cnn")


def test_promote_and_rollback_commands_say_what_serves_now(tmp_path: Path) -> None:
    folder = candidate(tmp_path / "c", "cnn-c")
    serving = ["--serving-dir", str(tmp_path / "serving")]
    refused = digitrec("rollback", *serving)
    assert refused.returncode == 1 and "nothing to roll back to" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one line, no traceback
    promoted = digitrec("promote", str(folder), *serving)
    assert promoted.returncode == 0, promoted.stderr
    assert "cnn is now served by" in promoted.stdout and "cnn-c-" in promoted.stdout
    back = digitrec("rollback", *serving)
    assert back.returncode == 0 and "the model servers were started with" in back.stdout


def versions_until(client: TestClient, wanted: str, seconds: float = 20) -> list[str]:
    """The versions answers named, asking until one names `wanted`."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (not seen or seen[-1] != wanted):
        reply = client.post("/api/predict", json=BODY)
        assert reply.status_code == 200, reply.text
        seen.append(reply.json()["model_version"])
        time.sleep(0.02)
    return seen


def test_a_running_app_switches_on_promotion_and_back_on_rollback(tmp_path: Path, predictors: dict) -> None:
    served = ServedModels(tmp_path / "serving")
    settings = Settings(serving_dir=str(served.folder), reload_seconds=0.05)
    folder = candidate(tmp_path / "d", "cnn-d")
    new, old = Predictor(folder).version, predictors["cnn"].version
    with TestClient(create_app(settings, predictors)) as client:
        assert versions_until(client, old)[-1] == old
        served.promote("cnn", folder)
        assert versions_until(client, new)[-1] == new
        assert {m["name"]: m["version"] for m in client.get("/api/models").json()}["cnn"] == new
        assert client.get("/api/models/cnn/device").json()["graph"].endswith(new)  # the page's model too
        served.rollback("cnn")
        assert versions_until(client, old)[-1] == old
    # A server started after a promotion serves the promoted model from its first request.
    served.promote("cnn", folder)
    with TestClient(create_app(Settings(serving_dir=str(served.folder)))) as client:
        assert client.post("/api/predict", json=BODY).json()["model_version"] == new


def test_a_broken_promotion_leaves_the_served_model_answering(tmp_path: Path, predictors: dict) -> None:
    served = ServedModels(tmp_path / "serving")
    copy = served.promote("cnn", candidate(tmp_path / "e", "cnn-e"))
    (copy / "model.onnx").write_bytes(b"not a graph")  # damaged after it was promoted
    settings = Settings(serving_dir=str(served.folder), reload_seconds=0.05)
    with TestClient(create_app(settings, predictors)) as client:
        seen = [client.post("/api/predict", json=BODY) for _ in range(20) if time.sleep(0.05) is None]
    assert {r.status_code for r in seen} == {200}
    assert {r.json()["model_version"] for r in seen} == {predictors["cnn"].version}


@pytest.fixture()
def hammering(request: pytest.FixtureRequest) -> Iterator[tuple[list[int], list[str]]]:
    """Eight clients posting drawings until the test ends: (statuses, versions), in order."""
    url: str = request.getfixturevalue("promotion_server")
    statuses: list[int] = []
    versions: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                try:
                    reply = http.post("/api/predict", json=BODY)
                    status, version = reply.status_code, reply.json().get("model_version", "")
                except (httpx.HTTPError, ValueError) as exc:
                    status, version = 0, repr(exc)
                with lock:
                    statuses.append(status)
                    versions.append(version)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    yield statuses, versions
    stop.set()
    for thread in threads:
        thread.join(timeout=30)


@pytest.fixture()
def promotion_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from conftest import start_server
    from server_process import stop

    monkeypatch.setenv("DIGITREC_SERVING_DIR", str(tmp_path / "serving"))
    monkeypatch.setenv("DIGITREC_RELOAD_SECONDS", "0.5")
    url, process = start_server("--workers", "2", "--log-level", "warning")
    yield url
    stop(process)


@pytest.mark.slow
def test_workers_switch_under_load_with_no_failed_request(
    tmp_path: Path, hammering: tuple[list[int], list[str]]
) -> None:
    """Two worker processes under eight clients' load: promote, then roll back; every request
    answers 200, and each worker answers with the new model soon after each switch."""
    statuses, versions = hammering
    folder = candidate(tmp_path / "f", "cnn-f")
    new, old = Predictor(folder).version, Predictor("cnn").version
    serving = ["--serving-dir", str(tmp_path / "serving")]

    def answered_only(version: str, seconds: float = 30) -> int:
        """Waits until the last 200 answers all name `version`; returns how many came before."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if len(versions) > 200 and set(versions[-200:]) == {version}:
                return len(versions)
        pytest.fail(f"answers still name {sorted(set(versions[-200:]))}, not only {version}")

    answered_only(old)
    assert digitrec("promote", str(folder), *serving).returncode == 0
    switched = answered_only(new)
    assert digitrec("rollback", *serving).returncode == 0
    answered_only(old)
    failed = [s for s in statuses if s != 200]
    assert not failed, f"{len(failed)} of {len(statuses)} requests failed during the switches: {set(failed)}"
    assert new in versions[:switched] and len(statuses) > 1000


def test_a_stale_verdict_and_a_broken_served_file_are_refused(tmp_path: Path, predictors: dict) -> None:
    served = ServedModels(tmp_path / "serving")
    stale = candidate(tmp_path / "g", "cnn-g")
    card = ModelCard.load(stale)
    card.comparison = {"verdict": "better", "served_version": "cnn-000000000000"}  # another model than cnn
    card.save(stale)
    with pytest.raises(DigitrecError, match="was compared with cnn-000000000000"):
        served.promote("cnn", stale)
    served.promote("cnn", stale, force=True)
    assert served.path.stat().st_mode & 0o777 == 0o644  # a server run as another user reads it
    served.path.write_text('{"models": {"cnn": "not an entry"}}')
    with pytest.raises(DigitrecError, match="is not what `digitrec promote` writes"):
        served.entries()
    settings = Settings(serving_dir=str(served.folder), reload_seconds=0.05)
    with TestClient(create_app(settings, predictors)) as client:
        seen = [client.post("/api/predict", json=BODY) for _ in range(10) if time.sleep(0.06) is None]
    assert {r.status_code for r in seen} == {200}


def test_the_graph_of_another_version_is_never_served(client: TestClient) -> None:
    """The graph's address carries its version and is kept a year: after a promotion or a
    rollback, an old address is 404 (not cached), never the other model's bytes."""
    card = client.get("/api/models/cnn/device").json()
    assert client.get(card["graph"]).status_code == 200
    stale = client.get("/api/models/cnn/graph?v=cnn-000000000000")
    assert stale.status_code == 404 and stale.headers["cache-control"] == "no-store"
    assert "fetch its card again" in stale.json()["detail"]
