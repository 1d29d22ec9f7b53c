"""The request log: one line per request, with what a maintainer needs and nothing a client wrote."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from digitrec.web.requestlog import RequestLog, log
from strokes import digit_strokes

SECRET = "s3cret-in-a-query-and-a-header"
BODY = {"strokes": digit_strokes(5, 280), "width": 280, "height": 280, "line_width": 22}


def test_text_lines_and_off(caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    log.addHandler(handler)
    try:
        RequestLog("text").write("POST", "/api/predict", 200, 0.00123, "cnn-abc", "127.0.0.1")
        RequestLog("text").write("BREW" * 100, "other", 404, 0.0004, "", "x" * 500)
        RequestLog("off").write("GET", "/healthz", 200, 0.001, "", "127.0.0.1")
    finally:
        log.removeHandler(handler)
    assert len(lines) == 2
    assert lines[0].endswith(" POST /api/predict 200 1.23 ms cnn-abc 127.0.0.1")
    assert " OTHER other 404 0.40 ms - " in lines[1] and len(lines[1]) < 120


@pytest.mark.slow
def test_a_real_server_logs_each_request_as_json_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import start_server
    from server_process import stop

    monkeypatch.setenv("DIGITREC_REQUEST_LOG", "json")
    log_file = tmp_path / "server.log"
    url, process = start_server("--log-level", "warning", log=log_file)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET}"}) as client:
            assert client.post(f"/api/predict?token={SECRET}", json=BODY).status_code == 200
            assert (
                client.delete(f"/api/feedback/123456789?{SECRET}", headers={"X-Undo-Token": SECRET}).status_code == 404
            )
            assert client.get(f"/no/such/{SECRET}").status_code == 404
    finally:
        stop(process)
    text = log_file.read_text()
    assert SECRET not in text
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    asked = [e for e in entries if e["route"] != "/healthz"]  # start_server waits on /healthz
    assert [(e["method"], e["route"], e["status"]) for e in asked] == [
        ("POST", "/api/predict", 200),
        ("DELETE", "/api/feedback/{row_id}", 404),
        ("GET", "other", 404),
    ]
    assert asked[0]["model_version"].startswith("cnn-") and asked[1]["model_version"] is None
    assert all(e["ms"] > 0 and e["client"] == "127.0.0.1" and e["time"].endswith("Z") for e in asked)
