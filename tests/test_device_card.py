"""What the page reads on the device with: the model card, the graph, the service worker, and the
static files served compressed."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from digitrec.reading import preprocess
from digitrec.reading.device import graph_path
from digitrec.reading.inference import Predictor


def test_the_card_carries_model_json_and_preprocess_py(client: TestClient, cnn: Predictor) -> None:
    card = client.get("/api/models/cnn/device").json()
    recorded = json.loads((cnn.folder / "model.json").read_text())["calibration"]
    for key in ("temperature", "uncertain_below", "not_a_digit_above"):
        assert card["calibration"][key] == recorded[key]
    assert card["preprocessing"]["work_side"] == preprocess.WORK_SIDE
    assert card["preprocessing"]["stroke_min"] == preprocess.STROKE_MIN
    assert card["graph"] == f"/api/models/cnn/graph?v={cnn.version}"


def test_unknown_models_have_no_card(client: TestClient) -> None:
    answer = client.get("/api/models/no-such-model/device")
    assert answer.status_code == 404 and "unknown model" in answer.json()["detail"]


def test_the_graph_is_the_one_the_server_runs_gzipped_and_kept(client: TestClient, cnn: Predictor) -> None:
    answer = client.get("/api/models/cnn/graph", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip" and "immutable" in answer.headers["cache-control"]
    assert answer.content == graph_path(cnn).read_bytes()  # httpx undoes the gzip
    plain = client.get("/api/models/cnn/graph", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == graph_path(cnn).read_bytes()


def test_static_files_go_compressed(client: TestClient) -> None:
    for encoding in ("br", "gzip"):
        answer = client.get("/static/dist/ort/ort-wasm-simd-threaded.wasm", headers={"Accept-Encoding": encoding})
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == encoding
        assert answer.headers["content-type"] == "application/wasm"
        assert int(answer.headers["content-length"]) < 4_000_000  # 14 MiB unpacked
    plain = client.get("/static/dist/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["content-type"].startswith("text/javascript")


def test_the_page_goes_gzipped_and_the_worker_from_the_root(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip" and 'data-testid="reading-mode"' in page.text
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
