from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import on_white_canvas, png_bytes
from digitrec.web.app import create_app
from digitrec.web.settings import Settings
from strokes import digit_strokes


@pytest.fixture(scope="module")
def seven(mnist_test: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    images, labels = mnist_test
    assert labels[0] == 7
    return on_white_canvas(images[0])


def assert_prediction(body: dict, digit: int, model: str = "cnn") -> None:
    assert body["digit"] == digit
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-3
    assert body["confidence"] == max(body["probabilities"])
    assert body["model"] == model and body["model_version"].startswith(model)
    assert body["elapsed_ms"] >= 0
    assert body["top"][0]["digit"] == digit


def test_multipart_png(client: TestClient, seven: np.ndarray) -> None:
    response = client.post("/api/predict", files={"image": ("seven.png", png_bytes(seven), "image/png")})
    assert response.status_code == 200, response.text
    assert_prediction(response.json(), 7)
    assert "input" not in response.json()


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "BMP", "GIF"])
def test_multipart_other_formats(client: TestClient, seven: np.ndarray, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(seven).save(buffer, format=fmt)
    response = client.post(
        "/api/predict", files={"image": (f"seven.{fmt.lower()}", buffer.getvalue())}, data={"top_k": "5"}
    )
    assert response.status_code == 200, response.text
    assert_prediction(response.json(), 7)
    assert len(response.json()["top"]) == 5


@pytest.mark.parametrize("prefix", ["data:image/png;base64,", ""])
def test_json_image_as_data_url_or_base64(client: TestClient, seven: np.ndarray, prefix: str) -> None:
    encoded = prefix + base64.b64encode(png_bytes(seven)).decode()
    response = client.post("/api/predict", json={"image": encoded, "include_input": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_prediction(body, 7)
    model_input = np.array(body["input"])
    assert model_input.shape == (28, 28) and model_input.min() >= 0 and model_input.max() <= 1


def test_json_pixels(client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    response = client.post("/api/predict", json={"pixels": images[1].tolist()})
    assert response.status_code == 200, response.text
    assert_prediction(response.json(), int(labels[1]))


def test_json_strokes(client: TestClient) -> None:
    for digit in range(10):
        body = {"strokes": digit_strokes(digit, 280), "width": 280, "height": 280, "line_width": 18}
        response = client.post("/api/predict", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["digit"] == digit


@pytest.mark.parametrize("model", ["cnn", "mlp", "seed-ann"])
def test_model_choice(client: TestClient, seven: np.ndarray, model: str) -> None:
    response = client.post("/api/predict", files={"image": ("7.png", png_bytes(seven))}, data={"model": model})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == model


def test_batch(client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    items = [{"pixels": images[i].tolist()} for i in range(20)]
    items.append({"image": base64.b64encode(png_bytes(on_white_canvas(images[20]))).decode()})
    response = client.post("/api/predict/batch", json={"items": items, "model": "cnn"})
    assert response.status_code == 200, response.text
    digits = [p["digit"] for p in response.json()["predictions"]]
    assert digits == labels[:21].tolist()


def test_batch_multipart(client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    files = [("image", (f"{i}.png", png_bytes(on_white_canvas(images[i])), "image/png")) for i in range(5)]
    response = client.post("/api/predict/batch", files=files)
    assert response.status_code == 200, response.text
    assert [p["digit"] for p in response.json()["predictions"]] == labels[:5].tolist()


def test_batch_limit_is_enforced(predictors: dict) -> None:
    with TestClient(create_app(Settings(max_batch=4), predictors)) as small:
        items = [{"pixels": [[0, 255], [255, 0]]}] * 5
        response = small.post("/api/predict/batch", json={"items": items})
        assert response.status_code == 413
        assert "at most 4" in response.json()["detail"]
        files = [("image", (f"{i}.png", png_bytes(np.full((8, 8), 200, np.uint8)), "image/png")) for i in range(5)]
        response = small.post("/api/predict/batch", files=files)
        assert response.status_code == 413
        assert "at most 4" in response.json()["detail"]


@pytest.mark.parametrize("as_object", [False, True], ids=["array", "object"])
@pytest.mark.parametrize("compact", [True, False], ids=["as browsers write it", "with spaces"])
def test_seed_request_format(
    client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray], as_object: bool, compact: bool
) -> None:
    """The seed's page: white pen on a transparent 140x140 canvas, JSON.stringify(imageData.data)."""
    images, labels = mnist_test
    for index in range(5):
        digit = np.asarray(Image.fromarray(images[index]).resize((100, 100), Image.BILINEAR))
        rgba = np.zeros((140, 140, 4), dtype=np.uint8)
        rgba[20:120, 20:120, :3] = 255
        rgba[20:120, 20:120, 3] = digit
        values = rgba.ravel().tolist()
        payload = {str(i): v for i, v in enumerate(values)} if as_object else values
        content = json.dumps(payload, separators=(",", ":") if compact else None)
        response = client.post("/predict", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == str(labels[index])


@pytest.mark.slow
def test_drawn_mnist_digits_are_read_at_least_99_percent(
    client: TestClient, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """MNIST test digits drawn large on a white canvas, sent as PNGs one by one through the API."""
    images, labels = mnist_test
    count = 1000
    right = 0
    for index in range(count):
        response = client.post("/api/predict", files={"image": ("d.png", png_bytes(on_white_canvas(images[index])))})
        right += response.json()["digit"] == labels[index]
    assert right / count >= 0.99, f"{right}/{count}"


BAD_JSON_BODIES = [
    ({"pixels": [[1, 2], [3]]}, "rectangular"),
    ({"pixels": [1, 2, 3]}, "2-D"),
    ({"pixels": [[[1, 2]], [[3, 4]]]}, "2-D"),
    ({"pixels": [["a", "b"], ["c", "d"]]}, "numbers"),
    ({"pixels": [[1, 300], [0, 0]]}, "0 to 255"),
    ({"pixels": [[-1, 0], [0, 0]]}, "0 to 255"),
    ({"pixels": []}, "non-empty"),
    ({"pixels": [[0, 0], [0, 0]]}, "nothing drawn"),
    ({"strokes": [[[1, 2]]]}, "width"),
    ({"strokes": [[[1, 2, 3]]], "width": 10, "height": 10}, "[x, y]"),
    ({"strokes": [], "width": 10, "height": 10}, "nothing drawn"),
    ({"strokes": "abc", "width": 10, "height": 10}, "list of strokes"),
    ({"image": 42}, "string"),
    ({"image": "data:image/png;base64,AAAA"}, "not an image"),
    ({"image": "%%%"}, "not an image|base64"),
    ({}, "exactly one"),
    ({"image": "x", "pixels": [[1]]}, "exactly one"),
    ({"pixels": [[0, 255]], "top_k": 0}, "top_k"),
    ({"pixels": [[0, 255]], "top_k": "many"}, "top_k"),
    ({"pixels": [[0, 255]], "model": 3}, "model"),
]


@pytest.mark.parametrize(("body", "message"), BAD_JSON_BODIES)
def test_bad_json_inputs_get_422_with_detail(client: TestClient, body: dict, message: str) -> None:
    response = client.post("/api/predict", json=body)
    assert response.status_code == 422, response.text
    assert re.search(message, response.json()["detail"])


@pytest.mark.parametrize("raw", [b"{bad json", b"[1, 2", b"\xff\xfe", b'"just a string"', b"[1, 2, 3]"])
def test_malformed_json_gets_422(client: TestClient, raw: bytes) -> None:
    response = client.post("/api/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]


def test_non_finite_pixels_get_422(client: TestClient) -> None:
    raw = b'{"pixels": [[0, NaN], [Infinity, 0]]}'
    response = client.post("/api/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    # NaN and Infinity are not JSON: refused by the parser, before the pixels are looked at.
    assert "malformed JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"GIF89a not really", "not an image|truncated"), (b"hello world", "not an image")],
)
def test_bad_uploads_get_422(client: TestClient, content: bytes, message: str) -> None:
    response = client.post("/api/predict", files={"image": ("x.png", content, "image/png")})
    assert response.status_code == 422
    assert re.search(message, response.json()["detail"])


def test_truncated_png_gets_422(client: TestClient, seven: np.ndarray) -> None:
    data = png_bytes(seven)
    response = client.post("/api/predict", files={"image": ("x.png", data[: len(data) // 2], "image/png")})
    assert response.status_code == 422
    assert "truncated" in response.json()["detail"]


def test_blank_canvas_is_nothing_drawn(client: TestClient) -> None:
    response = client.post("/api/predict", files={"image": ("x.png", png_bytes(np.full((280, 280), 255, np.uint8)))})
    assert response.status_code == 422
    assert "nothing drawn" in response.json()["detail"]


def test_form_without_image_field(client: TestClient) -> None:
    response = client.post("/api/predict", files={"picture": ("x.png", b"abc")})
    assert response.status_code == 422
    assert "`image`" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"--x\r\n", "boundary"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG',
            "closing boundary",
        ),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Type: image/png\r\n\r\nabc\r\n--x--\r\n", "name="),
        ("multipart/form-data; boundary=x", b"garbage without any boundary", "malformed|closing boundary"),
    ],
    ids=["no boundary", "truncated", "no disposition", "garbage"],
)
def test_malformed_multipart_gets_422(client: TestClient, content_type: str, body: bytes, message: str) -> None:
    response = client.post("/api/predict", content=body, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert re.search(message, response.json()["detail"])


def test_form_fields_before_the_image_are_read(client: TestClient, seven: np.ndarray) -> None:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="top_k"\r\n\r\n2\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="7.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png_bytes(seven)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(
        "/api/predict", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["digit"] == 7 and len(response.json()["top"]) == 2


def test_decompression_bomb_gets_413(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")  # ~50 KB that would decode to 400 MB
    response = client.post("/api/predict", files={"image": ("bomb.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 413
    assert "pixels" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"width": 100000, "height": 5}, 422, "at most 4096"),
        ({"width": 4097, "height": 4096}, 422, "at most 4096"),
        ({"width": 280, "height": 280, "line_width": 71}, 422, "quarter"),
        ({"width": 280, "height": 280, "strokes": [[[1, 1]] * 5_001]}, 413, "at most 5,000"),
        ({"width": 280, "height": 280, "strokes": [[[0, -1e308], [0, 1e308]]]}, 413, "rows of pen"),
    ],
    ids=["wide", "one pixel over", "thick pen", "too many points", "points infinitely far apart"],
)
def test_strokes_over_a_limit_are_refused_naming_it(client: TestClient, body: dict, status: int, message: str) -> None:
    for path in ("/api/predict", "/api/read"):
        response = client.post(path, json={"strokes": [[[0, 0], [5, 5]]], **body})
        assert response.status_code == status, response.text
        assert message in response.json()["detail"]


def test_the_largest_canvas_is_read(client: TestClient) -> None:
    strokes = [[[1000, 1000], [3000, 3000]], [[3000, 1000], [1000, 3000]]]
    response = client.post("/api/predict", json={"strokes": strokes, "width": 4096, "height": 4096, "line_width": 200})
    assert response.status_code == 200, response.text


def test_body_over_limit_gets_413(client: TestClient) -> None:
    response = client.post(
        "/api/predict", content=b"0" * (2 * 1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_chunked_body_over_limit_gets_413(client: TestClient) -> None:
    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for _ in range(40):
            yield b"0" * 65536

    response = client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "image/png", "application/x-www-form-urlencoded"])
def test_wrong_content_type_gets_415(client: TestClient, content_type: str) -> None:
    response = client.post("/api/predict", content=b"abc", headers={"content-type": content_type})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_unknown_model_gets_404(client: TestClient) -> None:
    response = client.post("/api/predict", json={"pixels": [[0, 255]], "model": "resnet-9000"})
    assert response.status_code == 404
    assert "cnn" in response.json()["detail"]


@pytest.mark.parametrize("payload", [b'"text"', b"[1, 2, 3]", b'{"a": 1}', b"[-5, 0, 0, 0]", b"{bad"])
def test_bad_seed_requests_get_422(client: TestClient, payload: bytes) -> None:
    response = client.post("/predict", content=payload, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]


def test_models_health_and_metrics(client: TestClient, seven: np.ndarray) -> None:
    models = client.get("/api/models").json()
    assert [m["name"] for m in models][0] == "cnn" and models[0]["default"]
    assert {m["name"] for m in models} == {"cnn", "mlp", "seed-ann"}
    assert all(m["accuracy"] and m["parameters"] and m["version"] for m in models)
    assert client.get("/healthz").json()["status"] == "ok"
    client.post("/api/predict", files={"image": ("7.png", png_bytes(seven))})
    client.post("/api/predict", json={})
    text = client.get("/metrics").text
    assert 'digitrec_requests_total{route="/api/predict",status="200"}' in text
    assert 'digitrec_requests_total{route="/api/predict",status="422"}' in text
    assert 'digitrec_predictions_total{digit="7",model="cnn"}' in text
    assert "digitrec_request_seconds_bucket" in text


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/predict", "/api/predict/batch", "/predict", "/api/models", "/healthz", "/metrics"):
        assert path in spec["paths"]
    content = spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(content)
    assert client.get("/docs").status_code == 200


def test_page_is_served_without_external_resources(client: TestClient) -> None:
    page = client.get("/").text
    assert 'data-testid="canvas"' in page
    for asset in ("/static/dist/app.js", "/static/app.css", "/sw.js"):
        assert client.get(asset).status_code == 200
    everything = page + "".join(client.get(a).text for a in ("/static/dist/app.js", "/static/app.css", "/sw.js"))
    # onnxruntime-web's bundled warning links to advice about threads; nothing is fetched from there.
    mentioned = set(re.findall(r"https?://[^\s\"'`)]+", everything))
    assert mentioned <= {"https://web.dev/cross-origin-isolation-guide/"}, mentioned


def test_readings_say_whether_they_are_sure(client: TestClient, seven: np.ndarray) -> None:
    one = client.post("/api/predict", files={"image": ("7.png", png_bytes(seven))}).json()
    batch = client.post("/api/predict/batch", json={"items": [{"pixels": seven.tolist()}] * 2}).json()
    number = client.post("/api/read", json={"pixels": seven.tolist()}).json()
    for reading in [one, *batch["predictions"], *number["digits"]]:
        assert isinstance(reading["uncertain"], bool) and isinstance(reading["not_a_digit"], bool)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"pixels": [[0, 255]], "top_k": "²"}, "top_k"),
        ({"pixels": [[0, 255]], "top_k": "٣"}, "top_k"),
        ({"pixels": [[0, 255]], "top_k": True}, "top_k"),
        ({"image": "data:x"}, "data URL"),
        ({"image": "data:"}, "data URL"),
        ({"strokes": [[[0, 0], [5, 5]]], "width": 280, "height": 280, "line_width": -1}, "line_width"),
        ({"items": []}, "exactly one"),
    ],
)
def test_values_that_once_made_a_500_get_422(client: TestClient, body: dict, message: str) -> None:
    response = client.post("/api/predict", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


@pytest.mark.parametrize("value", ["²", "٣", "7.5", "seven"])
def test_form_fields_are_validated_like_json(client: TestClient, seven: np.ndarray, value: str) -> None:
    response = client.post("/api/predict", files={"image": ("7.png", png_bytes(seven))}, data={"top_k": value})
    assert response.status_code == 422, response.text
    assert "top_k" in response.json()["detail"]


def test_a_long_multipart_boundary_gets_422(client: TestClient, seven: np.ndarray) -> None:
    boundary = "b" * 300
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="7.png"\r\n\r\n'.encode()
        + png_bytes(seven)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    response = client.post("/api/predict", content=body, headers=headers)
    assert response.status_code == 422 and "boundary" in response.json()["detail"]


def test_a_batch_has_a_total_pixel_budget(predictors: dict) -> None:
    with TestClient(create_app(Settings(max_batch_pixels=100_000), predictors)) as small:
        canvas = {"pixels": np.full((200, 200), 255, np.uint8).tolist()}
        canvas["pixels"][100][100] = 0
        response = small.post("/api/predict/batch", json={"items": [canvas] * 3})
        assert response.status_code == 413
        assert "item 2" in response.json()["detail"] and "100,000 pixels" in response.json()["detail"]


def test_the_page_has_a_strict_content_security_policy(client: TestClient) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing the policy would block


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_documentation_loads_nothing_from_outside(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text.replace("https://github.com", "")
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_metrics_can_be_turned_off(predictors: dict) -> None:
    with TestClient(create_app(Settings(metrics_enabled=False), predictors)) as quiet:
        assert quiet.get("/metrics").status_code == 404
        assert "/metrics" not in quiet.get("/openapi.json").json()["paths"]


def test_metrics_are_labelled_by_route_not_by_path(client: TestClient) -> None:
    for path in ("/no/such/page", "/another/made-up/path", "/static/app.js"):
        client.get(path)
    text = client.get("/metrics").text
    assert "made-up" not in text and "no/such" not in text and 'route="other"' in text


def test_model_paths_stay_private(predictors: dict, cnn: object) -> None:
    folder = str(cnn.folder)  # type: ignore[attr-defined]
    with TestClient(create_app(Settings(default_model=folder), {folder: cnn})) as by_path:  # type: ignore[dict-item]
        models = by_path.get("/api/models").text + by_path.get("/healthz").text
        assert folder not in models and '"cnn"' in models
        answer = by_path.post("/api/predict", json={"pixels": [[0, 255], [255, 0]], "model": "nope"})
        assert answer.status_code == 404 and folder not in answer.text
