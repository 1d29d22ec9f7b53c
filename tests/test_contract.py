"""The contract: the OpenAPI document is valid and is what the server checks; no input, however
odd, makes a server error (property-based tests of every field, and schemathesis against a real
server)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from conftest import png_bytes
from digitrec.web.settings import Settings

ANSWERS = {200, 201, 404, 413, 415, 422, 429, 503}
FIELDS = [
    "image",
    "pixels",
    "strokes",
    "width",
    "height",
    "line_width",
    "model",
    "top_k",
    "include_input",
    "explain",
    "label",
    "predicted",
    "kind",
    "items",
]
# Strings that once made a 500 (int() of a Unicode digit, a data URL without a comma...).
AWKWARD = ["²", "٣", "５", "data:x", "data:", "1e400", "-0", " 7 ", "\x00", "confirmation", "cnn", "NaN"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(AWKWARD)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
STROKES = {"strokes": [[[40, 40], [200, 240]]], "width": 280, "height": 280}
bodies = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from([{}, STROKES, {**STROKES, "label": 4}, {"pixels": [[0, 255], [255, 0]], "label": 1}]),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
)


@pytest.fixture(scope="module")
def contract_client(predictors: dict) -> Any:
    from digitrec.web.app import create_app

    with TestClient(create_app(Settings(), predictors), raise_server_exceptions=False) as client:
        yield client


def assert_answered(response: Any) -> None:
    assert response.status_code in ANSWERS, response.text
    if response.status_code >= 400:
        assert response.json()["detail"]


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, path=st.sampled_from(["/api/predict", "/api/read", "/api/feedback"]))
def test_any_json_field_gets_an_answer_not_a_server_error(contract_client: TestClient, body: dict, path: str) -> None:
    assert_answered(contract_client.post(path, json=body))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(items=st.lists(bodies, max_size=4) | json_values, options=st.dictionaries(st.sampled_from(FIELDS), json_values))
def test_any_batch_gets_an_answer_not_a_server_error(contract_client: TestClient, items: Any, options: dict) -> None:
    assert_answered(contract_client.post("/api/predict/batch", json={**options, "items": items}))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from(["top_k", "label", "predicted", "kind", "model", "include_input", "explain"]),
        st.text(max_size=8) | st.sampled_from(AWKWARD),
        max_size=4,
    ),
    path=st.sampled_from(["/api/predict", "/api/feedback", "/api/predict/batch"]),
)
def test_any_form_field_gets_an_answer_not_a_server_error(contract_client: TestClient, fields: dict, path: str) -> None:
    import numpy as np

    image = png_bytes(np.eye(28, dtype=np.uint8) * 255)
    assert_answered(contract_client.post(path, files={"image": ("d.png", image)}, data=fields))


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_reference_in_the_openapi_document_resolves(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for ref in refs(spec):
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


@pytest.mark.slow
def test_the_openapi_document_is_valid(client: TestClient) -> None:
    # schemathesis refuses a document that is not valid OpenAPI
    operations = list(schemathesis.openapi.from_dict(client.get("/openapi.json").json()).get_all_operations())
    assert operations and all(result.ok() for result in operations)


def test_the_documented_forms_say_what_is_required(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    form = paths["/api/feedback"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["required"]) == {"image", "label"}
    assert form["properties"]["kind"]["enum"] == ["correction", "confirmation"]
    for path in ("/api/predict", "/api/predict/batch", "/api/read"):
        assert paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["image"]
    for name in ("PredictionOut", "ReadingOut", "ReadDigitOut"):
        schema = client.get("/openapi.json").json()["components"]["schemas"][name]
        assert {"uncertain", "not_a_digit"} <= set(schema["required"])


@pytest.mark.parametrize(
    "body",
    [
        {"pixels": [[0, 255], [255, 0]], "top_k": 5},
        {"items": [{"pixels": [[0, 255]]}, {"strokes": [[[1, 1], [9, 9]]], "width": 10, "height": 10}]},
        {"image": "data:image/png;base64,AAAA", "label": 3, "predicted": 1, "kind": "correction"},
    ],
)
def test_the_schema_validates_what_the_server_accepts(client: TestClient, body: dict) -> None:
    """The component schemas and the Pydantic models are the same thing: a valid body validates
    against the document."""
    import jsonschema_rs

    spec = client.get("/openapi.json").json()
    name = "BatchRequest" if "items" in body else "FeedbackRequest" if "label" in body else "PredictRequest"
    schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
    jsonschema_rs.validate(schema, body)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(schema, {**body, "top_k": "many"})


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(server: str) -> None:
    """Cases generated from the served document for every operation, sent to a real server: no
    5xx, and every answer matches its documented content type and schema.
    (Through hypothesis directly: schemathesis's pytest plugin does not load with this pytest.)"""
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(base_url=server, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code} {response.text[:300]}")
            try:  # every answer as its operation documents it: content type and body schema
                case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])
            except (AssertionError, FailureGroup) as failure:  # one failure, or a group of them
                failures.append(f"{case.method} {case.path}: {response.status_code}: {str(failure)[:300]}")

        call()
    assert not failures, failures
