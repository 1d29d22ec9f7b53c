"""The box (reading/box.py) as an attacker meets it: every decode of untrusted bytes runs in a
worker process under OS limits; past one it is killed, answered 422 naming the limit, and the
worker is replaced. The cheap pre-checks refuse the known costly files before any decoding.
Bounds are asserted, never times."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitrec.errors import TooCostlyError, TooLargeError, UnsupportedFormatError
from digitrec.reading.box import Box, Limits
from digitrec.reading.decode import BUDGET, decode_image, jpeg_cost, precheck
from test_budgets import cmyk_photo, encoded, iccp_png, junk_hidden_scans, noise, rle8_bmp

MiB = 1024 * 1024


BUDGET_DICT = dataclasses.asdict(BUDGET)


@pytest.fixture(scope="module")
def box() -> Box:
    shared = Box(Limits(workers=1))
    yield shared
    shared.close()


def test_the_scan_counter_skips_junk_bytes_as_libjpeg_does() -> None:
    assert jpeg_cost(junk_hidden_scans(64, 3000), BUDGET.max_jpeg_scans).scans > BUDGET.max_jpeg_scans


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: junk_hidden_scans(256, 3000), TooLargeError),
        (lambda: iccp_png(2000), TooLargeError),
        (lambda: rle8_bmp(64), UnsupportedFormatError),
    ],
    ids=["jpeg scans behind junk", "png 2000 iccp", "bmp rle8"],
)
def test_the_audits_files_are_refused_before_decoding(make: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        precheck(make())  # type: ignore[operator]


def test_a_decode_is_answered_with_pixels(box: Box) -> None:
    picture = box.decode(encoded(noise(64), "JPEG"), BUDGET.max_pixels, BUDGET_DICT)
    assert picture.shape == (64, 64, 3) and picture.dtype == np.uint8
    palette = Image.new("P", (10, 10))
    palette.info["transparency"] = 0
    assert box.decode(encoded(palette, "PNG", transparency=0), BUDGET.max_pixels, BUDGET_DICT).shape == (10, 10, 4)


def test_errors_come_back_as_the_library_s_own(box: Box) -> None:
    box.decode(encoded(noise(8), "GIF"), BUDGET.max_pixels, BUDGET_DICT)
    started = box.started
    with pytest.raises(UnsupportedFormatError):
        box.decode(encoded(noise(8), "TIFF"), BUDGET.max_pixels, BUDGET_DICT)
    assert box.started == started  # a refusal is an answer: the worker serves on


@pytest.mark.parametrize(
    ("limits", "limit"),
    [(Limits(cpu_seconds=0.001, workers=1), "CPU time"), (Limits(memory_bytes=64 * MiB, workers=1), "memory")],
    ids=["cpu", "memory"],
)
def test_a_decode_past_a_limit_is_killed_and_the_worker_replaced(limits: Limits, limit: str) -> None:
    box = Box(limits)
    try:
        # The costliest honest picture that the pre-checks let through: only the box stops it.
        with pytest.raises(TooCostlyError, match=f"too costly to decode.*{limit}"):
            box.decode(cmyk_photo(2896), BUDGET.max_pixels, BUDGET_DICT)
        assert box.started == 1
        box.limits = Limits(workers=1)  # the next worker gets room enough
        assert box.decode(encoded(noise(32), "GIF"), BUDGET.max_pixels, BUDGET_DICT).shape[:2] == (32, 32)
        assert box.started == 2  # the killed worker was replaced
    finally:
        box.close()


def test_the_costliest_honest_picture_fits_the_default_limits(box: Box) -> None:
    # 2896x2896 in 18 progressive scans: 3.1 million 8x8 blocks, under the budget's 3.5 million.
    assert box.decode(cmyk_photo(2896), BUDGET.max_pixels, BUDGET_DICT).shape == (724, 724, 3)


def test_workers_are_locked_down(box: Box) -> None:
    box.decode(encoded(noise(8), "WEBP"), BUDGET.max_pixels, BUDGET_DICT)
    worker = box.idle[0]
    limits = Path(f"/proc/{worker.process.pid}/limits").read_text()
    rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
    assert rows["Max file size"][:2] == ["0", "0"]  # a file write kills it
    assert int(rows["Max open files"][0]) < 16  # no new file or socket: no network
    assert int(rows["Max address space"][0]) < 2048 * MiB
    assert rows["Max cpu time"][0] != "unlimited"


def test_every_door_reads_through_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Reader (API, CLI and feedback all read through it) sends image bytes to the box; only
    plain PNGs are decoded in the serving process."""
    from digitrec.reading.reader import Reader

    calls: list[int] = []

    class Spy(Box):
        def decode(self, data: bytes, declared_limit: int, budget: dict) -> np.ndarray:
            calls.append(len(data))
            return super().decode(data, declared_limit, budget)

    spy = Spy(Limits(workers=1))
    try:
        reader = Reader("seed-ann", box=spy)
        picture = reader.picture(encoded(noise(40), "JPEG"))
        assert isinstance(picture, np.ndarray) and calls
        calls.clear()
        reader.picture(encoded(noise(40, 4), "PNG"))  # the canvas's own form: inline
        assert not calls
    finally:
        spy.close()


def test_a_killed_decode_is_answered_422_naming_the_limit(client: TestClient) -> None:
    client.app.state.box.limits = Limits(cpu_seconds=0.001)  # type: ignore[attr-defined]
    try:
        reply = client.post("/api/predict", files={"image": ("photo.jpg", cmyk_photo(2048), "image/jpeg")})
    finally:
        client.app.state.box.limits = Limits()  # type: ignore[attr-defined]
    assert reply.status_code == 422
    assert "too costly to decode" in reply.json()["detail"] and "CPU time" in reply.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"pixels": [[0] * 1000] * 1000},
        {"items": [{"pixels": [[0] * 1018] * 500}, {"pixels": [[0] * 1018] * 500}]},
    ],
    ids=["one of 1,000,000 values", "a batch of two 500x1018"],
)
def test_the_pixels_road_is_refused_before_parsing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, payload: dict
) -> None:
    import orjson

    body = orjson.dumps(payload)

    def refuse(*args: object) -> None:
        pytest.fail("the body was parsed before its size was checked")

    monkeypatch.setattr("digitrec.web.submission.orjson.loads", refuse)
    path = "/api/predict/batch" if "items" in payload else "/api/predict"
    reply = client.post(path, content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 413 and "`pixels`" in reply.json()["detail"]


def test_decode_image_still_decodes_in_process_for_trusted_files() -> None:
    assert decode_image(encoded(noise(16), "BMP")).size == (16, 16)  # type: ignore[union-attr]
    with pytest.raises(TooLargeError):
        decode_image(io.BytesIO(iccp_png(100)).getvalue())


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


@pytest.mark.slow
def test_40_concurrent_corrections_of_a_big_cmyk_jpeg_stay_under_400_mib(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The audit's 4.8 GiB: 40 corrections of a big progressive CMYK JPEG at once, on one worker.
    The audit's 4096x4096 is refused before decoding now (6.3 million 8x8 blocks to decode, over
    the budget's 3.5); the costliest one admitted, 2896x2896 (3.1 million, libjpeg holding 64 MiB
    of coefficients), is decoded 40 times at once. The server holds only decoded pictures; each
    box worker its own capped heap."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from conftest import start_server

    monkeypatch.setenv("DIGITREC_DATABASE_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    monkeypatch.setenv("DIGITREC_FEEDBACK_RATE_LIMIT", "")
    url, process = start_server("--model", "seed-ann", log=tmp_path / "server.log")
    photo = cmyk_photo(2896)
    try:
        refused = httpx.post(
            f"{url}/api/feedback", files={"image": ("photo.jpg", cmyk_photo(), "image/jpeg")}, data={"label": "1"}
        )
        assert refused.status_code == 413 and "too costly to decode" in refused.json()["detail"]

        def correct(_: int) -> tuple[int, str]:
            files = {"image": ("photo.jpg", photo, "image/jpeg")}
            answer = httpx.post(f"{url}/api/feedback", files=files, data={"label": "1"}, timeout=120)
            return answer.status_code, answer.text if answer.status_code != 201 else ""

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(correct, range(40)))
        # Children are listed per thread that started them (the reading threads).
        tasks = Path(f"/proc/{process.pid}/task").glob("*/children")
        children = [int(pid) for task in tasks for pid in task.read_text().split()]
        server, workers = peak_rss_mib(process.pid), [peak_rss_mib(pid) for pid in children]
        print(f"peak RSS: server {server:.0f} MiB, box workers {[round(w) for w in workers]} MiB")
        # Every correction stored. The one exception allowed is the box's backstop for a worker
        # starved of CPU (2 s of wall time for a 0.25 s decode): the machine's load, not this
        # picture's cost or memory. One 422 came back in a full CI run on a slowed machine
        # (2026-12-06, its reason not kept then; this says it now).
        refused = [(status, text) for status, text in answers if status != 201]
        assert all(status == 422 and "wall time" in text for status, text in refused), refused
        assert len(refused) <= 2, refused
        assert server <= 400 and all(worker <= 400 for worker in workers)
        assert 1 <= len(children) <= Limits().workers
    finally:
        process.terminate()
        process.wait(timeout=10)
