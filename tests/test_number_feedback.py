"""Corrections in Number mode: the right answer for each box of a whole number's reading, stored
with that box's own 28x28 input and ink crop, the rows linked to their reading, against SQLite
and a real PostgreSQL (the fixtures of test_feedback.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import test_feedback
from conftest import on_white_canvas, png_bytes
from digitrec.learning.drawings import NOT_A_DIGIT as MODEL_NOT_A_DIGIT
from digitrec.reading.reader import Reader, Strokes
from digitrec.store.feedback import NOT_A_DIGIT, Store, open_store
from digitrec.web.app import create_app
from digitrec.web.settings import Settings
from strokes import digit_strokes

# The stores of test_feedback.py: a SQLite file and a throwaway PostgreSQL database each.
postgres_server = test_feedback.postgres_server
database_url = test_feedback.database_url
store = test_feedback.store
feedback_client = test_feedback.feedback_client


def number(digits: str = "457") -> dict:
    strokes = [s for i, d in enumerate(digits) for s in digit_strokes(int(d), 200, offset=(i * 200.0, 0.0))]
    return {"strokes": strokes, "width": 200 * len(digits), "height": 200, "line_width": 14}


def as_input_bytes(model_input: np.ndarray) -> bytes:
    return np.clip(np.round(model_input * 255), 0, 255).astype(np.uint8).tobytes()


def post(client: TestClient, answers: list, text: str = "457", **extra: object) -> object:
    return client.post("/api/feedback/number", json={**number(), "text": text, "answers": answers, **extra})


def test_a_corrected_box_and_confirmed_ones_are_stored_linked_with_the_servers_inputs(
    feedback_client: TestClient, store: Store, reader: Reader
) -> None:
    answers = [{"box": 0, "label": 4}, {"box": 1, "label": 6}, {"box": 2, "label": "not a digit"}]
    reply = post(feedback_client, answers)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["text"] == "457" and body["model"] == "cnn" and len(body["reading"]) == 32
    got = [(a["box"], a["label"], a["predicted"], a["kind"]) for a in body["answers"]]
    assert got == [(0, 4, 4, "confirmation"), (1, 6, 5, "correction"), (2, "not a digit", 7, "correction")]
    rows = sorted(store.recent(), key=lambda r: r.id)
    assert [r.id for r in rows] == [a["id"] for a in body["answers"]]
    assert {r.reading for r in rows} == {body["reading"]}
    assert [r.label for r in rows] == [4, 6, NOT_A_DIGIT] and NOT_A_DIGIT == MODEL_NOT_A_DIGIT
    # Each row holds what the library's own reading of that box fed the model, not the whole drawing.
    drawing = number()
    reading = reader.number(Strokes(drawing["strokes"], drawing["width"], drawing["height"], drawing["line_width"]))
    assert [bytes(r.input) for r in rows] == [as_input_bytes(d.input) for d in reading.digits]
    assert len({bytes(r.input) for r in rows}) == 3
    for row, digit in zip(rows, reading.digits, strict=True):
        crop = Image.open(io.BytesIO(row.image_png))
        assert crop.mode == "L" and crop.size == (digit.ink.shape[1], digit.ink.shape[0])  # type: ignore[union-attr]
        assert np.asarray(crop).min() < 100 and np.median(np.asarray(crop)) > 200  # dark ink on white
    # A single digit's answer belongs to no reading.
    single = feedback_client.post("/api/feedback", json={**digit_drawing(3), "label": 3})
    assert single.status_code == 201 and store.recent()[0].reading is None


def digit_drawing(digit: int) -> dict:
    return {"strokes": digit_strokes(digit, 280), "width": 280, "height": 280, "line_width": 22}


def test_the_whole_number_is_right_and_undo_takes_all_of_it_back(feedback_client: TestClient, store: Store) -> None:
    reply = post(feedback_client, [{"box": i, "label": int(d)} for i, d in enumerate("457")])
    assert reply.status_code == 201, reply.text
    stored = reply.json()["answers"]
    assert [a["kind"] for a in stored] == ["confirmation"] * 3 and store.count() == 3
    tokens = [{"id": a["id"], "undo": a["undo"]} for a in stored]
    # One wrong token: none is taken back.
    wrong = [*tokens[:2], {"id": tokens[2]["id"], "undo": "0" * 32}]
    refused = feedback_client.post("/api/feedback/undo", json={"answers": wrong})
    assert refused.status_code == 404 and f"#{tokens[2]['id']}" in refused.json()["detail"]
    assert store.count() == 3
    twice = feedback_client.post("/api/feedback/undo", json={"answers": [tokens[0], tokens[0]]})
    assert twice.status_code == 422 and "twice" in twice.json()["detail"]
    # A token that is not ASCII is a wrong token, not a server error (hmac.compare_digest refuses it).
    odd = feedback_client.post("/api/feedback/undo", json={"answers": [{"id": tokens[0]["id"], "undo": "é"}]})
    assert odd.status_code == 404
    latin = feedback_client.delete(f"/api/feedback/{tokens[0]['id']}", headers={"X-Undo-Token": "é".encode("latin-1")})
    assert latin.status_code == 404 and store.count() == 3
    assert feedback_client.post("/api/feedback/undo", json={"answers": tokens}).status_code == 204
    assert store.count() == 0
    # Each row's token also works alone, as a single digit's does.
    again = post(feedback_client, [{"box": 1, "label": 5}]).json()["answers"][0]
    gone = feedback_client.delete(f"/api/feedback/{again['id']}", headers={"X-Undo-Token": again["undo"]})
    assert gone.status_code == 204 and store.count() == 0


def test_a_changed_mind_about_a_box_replaces_its_answer(feedback_client: TestClient, store: Store) -> None:
    first = post(feedback_client, [{"box": 1, "label": 6}]).json()["answers"][0]
    changed = post(feedback_client, [{"box": 1, "label": 8, "replaces": first["id"], "undo": first["undo"]}])
    assert changed.status_code == 201, changed.text
    assert [(r.label, r.predicted) for r in store.recent()] == [(8, 5)]
    forged = post(
        feedback_client, [{"box": 1, "label": 9, "replaces": changed.json()["answers"][0]["id"], "undo": "x"}]
    )
    assert forged.status_code == 422 and store.count() == 1


def test_a_left_out_mark_can_be_answered(feedback_client: TestClient, store: Store) -> None:
    drawing = number()
    drawing["strokes"] = [*drawing["strokes"], [[590.0, 190.0], [592.0, 191.0]]]  # a dot after the 7
    read = feedback_client.post("/api/read", json=drawing).json()
    assert read["text"] == "457" and len(read["left_out"]) == 1
    body = {**drawing, "text": "457", "answers": [{"box": 0, "left_out": True, "label": "not a digit"}]}
    reply = feedback_client.post("/api/feedback/number", json=body)
    assert reply.status_code == 201, reply.text
    answer = reply.json()["answers"][0]
    assert (answer["left_out"], answer["predicted"], answer["kind"]) == (True, None, "confirmation")
    assert [(r.label, r.predicted, r.kind) for r in store.recent()] == [(NOT_A_DIGIT, None, "confirmation")]


@pytest.mark.parametrize(
    ("answers", "text", "status", "message"),
    [
        ([{"box": 3, "label": 1}], "457", 409, "no box 3; this reading has 3 digit boxes"),
        ([{"box": 0, "left_out": True, "label": 1}], "457", 409, "0 marks left out"),
        ([{"box": 0, "label": 4}], "4577", 409, "reads this drawing as '457'"),
        ([{"box": -1, "label": 4}], "457", 422, "`box` must be the index of a box"),
        ([{"box": 0, "label": 11}], "457", 422, 'answer 0: `label` must be a digit from 0 to 9, or "not a digit"'),
        ([{"box": 0, "label": True}], "457", 422, "`label` must be a digit"),
        ([{"box": 0, "label": 4}, {"box": 0, "label": 5}], "457", 422, "answered twice"),
        ([], "457", 422, "`answers` must be a list"),
        ([{"box": 0, "label": 4, "replaces": 3}], "457", 422, "go together"),
        ([{"box": 0, "label": 4}], "4a7", 422, "`text` must be the number"),
    ],
)
def test_bad_answers_are_refused_and_nothing_stored(
    feedback_client: TestClient, store: Store, answers: list, text: str, status: int, message: str
) -> None:
    reply = post(feedback_client, answers, text=text)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["detail"]
    assert store.count() == 0


def test_a_picture_in_a_form_with_its_answers_as_json_text(feedback_client: TestClient, store: Store) -> None:
    canvas = np.zeros((28, 90), dtype=np.uint8)
    canvas[4:24, 10:13] = 255  # a 1
    canvas[4:24, 60:63] = 255  # another 1
    png = png_bytes(on_white_canvas(canvas))
    read = feedback_client.post("/api/read", files={"image": ("n.png", png)}).json()
    answers = '[{"box": 0, "label": 7}]'
    reply = feedback_client.post(
        "/api/feedback/number", files={"image": ("n.png", png)}, data={"text": read["text"], "answers": answers}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["answers"][0]["label"] == 7 and store.recent()[0].reading == reply.json()["reading"]
    bad = feedback_client.post(
        "/api/feedback/number", files={"image": ("n.png", png)}, data={"text": read["text"], "answers": "[{"}
    )
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"origin": "https://evil.example"}, 403), ({"sec-fetch-site": "cross-site"}, 403), ({}, 201)],
    ids=["other origin", "cross-site fetch", "no browser"],
)
def test_number_answers_from_other_sites_are_refused(
    feedback_client: TestClient, store: Store, headers: dict, status: int
) -> None:
    reply = feedback_client.post(
        "/api/feedback/number", json={**number(), "text": "457", "answers": [{"box": 0, "label": 4}]}, headers=headers
    )
    assert reply.status_code == status
    assert store.count() == (1 if status == 201 else 0)
    if status == 201:
        undo = {"answers": [{"id": reply.json()["answers"][0]["id"], "undo": reply.json()["answers"][0]["undo"]}]}
        assert (
            feedback_client.post(
                "/api/feedback/undo", json=undo, headers={"origin": "https://evil.example"}
            ).status_code
            == 403
        )
        assert store.count() == 1


def test_number_answers_share_the_rate_limit_and_the_cap(store: Store, predictors: dict) -> None:
    settings = Settings(database_url=store.url, feedback_rate_limit="2/minute")
    with TestClient(create_app(settings, predictors, store)) as client:
        assert client.post("/api/feedback", json={**digit_drawing(1), "label": 1}).status_code == 201
        assert post(client, [{"box": 0, "label": 4}]).status_code == 201
        limited = post(client, [{"box": 0, "label": 4}])
        assert limited.status_code == 429 and "Retry-After" in limited.headers
    capped = open_store(store.url, max_rows=4)
    with TestClient(create_app(Settings(database_url=store.url, max_stored=4), predictors, capped)) as client:
        full = post(client, [{"box": i, "label": int(d)} for i, d in enumerate("457")])  # 2 + 3 > 4: all or none
        assert full.status_code == 507 and "full" in full.json()["detail"]
        assert capped.count() == 2
        assert post(client, [{"box": 0, "label": 4}, {"box": 1, "label": 5}]).status_code == 201
    capped.close()


def test_migration_0004_keeps_earlier_rows_and_indexes_the_reading(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect

    import digitrec.store.feedback as feedback

    config = Config()
    config.set_main_option("script_location", str(feedback.Path(feedback.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "0003")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO corrections (created_at, label, model, model_version, input, image_png, kind) "
            "VALUES (CURRENT_TIMESTAMP, 3, 'cnn', 'v', '', '', 'correction')"
        )
    command.upgrade(config, "head")
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("corrections")}
    assert indexes["ix_corrections_reading"] == ["reading"]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT label, reading FROM corrections").all() == [(3, None)]
    command.downgrade(config, "0003")
    assert "reading" not in {c["name"] for c in inspect(engine).get_columns("corrections")}
    engine.dispose()


def test_the_openapi_document_shows_the_number_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post_number = spec["paths"]["/api/feedback/number"]["post"]
    form = post_number["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["required"]) == {"image", "text", "answers"}
    assert {"201", "403", "409", "422", "429", "503", "507"} <= set(post_number["responses"])
    label = spec["components"]["schemas"]["BoxAnswer"]["properties"]["label"]
    assert {"const": "not a digit", "type": "string"} in label["anyOf"]
    assert set(spec["paths"]["/api/feedback/undo"]["post"]["responses"]) >= {"204", "404", "422"}
