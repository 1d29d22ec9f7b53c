"""`digitrec serve` as a real subprocess, spoken to over real HTTP."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from conftest import on_white_canvas, png_bytes

pytestmark = pytest.mark.slow


def test_real_server_reads_digits_and_survives_bad_input(
    server: str, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = mnist_test
    with httpx.Client(base_url=server, timeout=10) as http:
        page = http.get("/")
        assert page.status_code == 200 and "digitrec" in page.text
        bad_requests = [
            ({"content": b"not json", "headers": {"content-type": "application/json"}}, 422),
            ({"content": b"x" * (3 * 1024 * 1024), "headers": {"content-type": "application/json"}}, 413),
            ({"content": b"abc", "headers": {"content-type": "text/plain"}}, 415),
            ({"files": {"image": ("a.png", b"\x89PNG\r\n\x1a\n truncated")}}, 422),
            ({"json": {"pixels": [[0, 0], [0, 0]]}}, 422),
            ({"json": {"pixels": [[1, 2]], "model": "nope"}}, 404),
        ]
        for index in range(10):
            for request, status in bad_requests:
                response = http.post("/api/predict", **request)
                assert response.status_code == status, (request.keys(), response.text)
                assert "detail" in response.json()
            response = http.post("/api/predict", files={"image": ("d.png", png_bytes(on_white_canvas(images[index])))})
            assert response.status_code == 200
            assert response.json()["digit"] == labels[index]
        seed_body = json.dumps(np.zeros(140 * 140 * 4, dtype=int).tolist())
        assert http.post("/predict", content=seed_body, headers={"content-type": "application/json"}).status_code == 422
        assert http.get("/healthz").json()["status"] == "ok"
        metrics = http.get("/metrics").text
        assert 'status="413"' in metrics and 'status="415"' in metrics
