"""A page that recovers when the server comes back, and other ways in: pictures and examples."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

import server_process
from conftest import ARTIFACTS
from e2e.helpers import close_page, digits_png, draw, number_reading, open_page, reading, text_of
from server_process import free_port, stop

pytestmark = pytest.mark.slow


def start(port: int, log_name: str) -> subprocess.Popen[bytes]:
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        return server_process.start(port, "--workers", "1", log=ARTIFACTS / log_name)
    except server_process.ServerDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.fixture()
def own_server() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A server this test may stop and start again on the same port."""
    port = free_port()
    processes = [start(port, "restart-1.log")]
    yield port, processes
    for process in processes:
        if process.poll() is None:
            stop(process)


def test_a_drawing_made_while_the_server_is_down_is_read_when_it_is_back(
    browser: Any, own_server: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, processes = own_server
    context, page = open_page(browser, f"http://127.0.0.1:{port}", "desktop")
    stop(processes[0])
    draw(page, 3)
    error = page.get_by_test_id("error")
    error.wait_for(state="visible")
    assert "will be read as soon as the server answers" in error.inner_text()
    page.wait_for_timeout(2000)  # a few retries fail meanwhile
    processes.append(start(port, "restart-2.log"))
    back = time.monotonic()
    reading(page, "3", timeout=8000)  # retries back off to at most 5 s
    assert time.monotonic() - back < 6.5
    assert not error.is_visible()
    close_page(context, page)


def test_a_refused_connection_is_retried(page: Any) -> None:
    page.route("**/api/predict", lambda route: route.abort())
    draw(page, 5)
    error = page.get_by_test_id("error")
    error.wait_for(state="visible")
    assert "Cannot reach" in error.inner_text()
    page.unroute("**/api/predict")
    reading(page, "5", timeout=8000)


@pytest.mark.parametrize("mode", ["digit", "number"])
def test_a_picture_is_opened_and_read(any_page: Any, mode: str) -> None:
    text = "7" if mode == "digit" else "42"
    any_page.get_by_test_id(f"mode-{mode}").click()
    with any_page.expect_request("**/api/read" if mode == "number" else "**/api/predict") as sent:
        any_page.get_by_test_id("upload").set_input_files(
            files=[{"name": "digits.png", "mimeType": "image/png", "buffer": digits_png(text)}]
        )
    assert "multipart/form-data" in sent.value.headers["content-type"]
    if mode == "digit":
        reading(any_page, "7")
    else:
        number_reading(any_page, "42")
    shown = any_page.get_by_test_id("canvas").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).some(v => v > 0)"
    )
    assert shown  # the picture is on the canvas
    any_page.screenshot(path=str(ARTIFACTS / f"upload-{mode}-{any_page.size}.png"))


def test_a_picture_can_be_dropped_on_the_canvas(page: Any) -> None:
    page.evaluate(
        """bytes => {
          const file = new File([new Uint8Array(bytes)], "nine.png", {type: "image/png"});
          const data = new DataTransfer();
          data.items.add(file);
          const zone = document.querySelector('[data-testid=drop-zone]');
          zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
          zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        list(digits_png("9")),
    )
    reading(page, "9")
    draw(page, 1)  # drawing over a picture starts a new drawing
    reading(page, "1")


def test_examples_are_drawn_and_read(any_page: Any) -> None:
    for example in ("2", "4", "7", "9"):
        any_page.get_by_test_id(f"example-{example}").click()
        reading(any_page, example)
    any_page.get_by_test_id("mode-number").click()
    any_page.get_by_test_id("example-2024").click()
    number_reading(any_page, "2024")
    assert text_of(any_page, "number-digits").count("%") == 4
