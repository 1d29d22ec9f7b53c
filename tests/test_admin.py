"""The corrections page as an admin uses it: filter, delete (CSRF and same site), download what
finetune reads, and stats that keep confirmations apart from corrections; `digitrec feedback stats`."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from conftest import png_bytes
from digitrec.cli import main
from digitrec.learning.finetune import load_corrections
from digitrec.store.feedback import Correction, Filter, Store, new_correction
from digitrec.web.app import create_app
from digitrec.web.settings import Settings
from test_feedback import TOKEN, database_url, postgres_server, store  # noqa: F401 (fixtures)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PNG = png_bytes(np.full((28, 28), 255, np.uint8))
# (label, predicted, kind, model, day): ids 1 to 7, oldest first.
ROWS = [
    (1, 7, "correction", "cnn", dt.date(2024, 1, 1)),
    (1, 7, "correction", "mlp", dt.date(2024, 1, 3)),
    (4, 4, "confirmation", "cnn", dt.date(2024, 1, 8)),
    (9, None, "correction", "cnn", dt.date(2024, 1, 9)),
    (3, 3, "confirmation", "cnn", dt.date(2024, 1, 10)),
    (5, 3, "correction", "cnn", dt.date(2024, 2, 1)),
    (2, 2, "confirmation", "mlp", dt.date(2024, 2, 2)),
]


def add_rows(answers: Store) -> list[int]:
    ids = []
    for label, predicted, kind, model, day in ROWS:
        (row,) = answers.add_rows(
            [
                new_correction(
                    label=label,
                    predicted=predicted,
                    kind=kind,
                    model=model,
                    model_version=f"{model}-1",
                    model_input=np.full((28, 28), label / 9),  # each row's input tells its label
                    image_png=PNG,
                )
            ]
        )
        when = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
        with answers.sessions.begin() as session:
            session.execute(update(Correction).where(Correction.id == row.id).values(created_at=when))
        ids.append(row.id)
    return ids


@pytest.fixture()
def admin(store: Store, predictors: dict) -> Iterator[TestClient]:  # noqa: F811
    """The app with the page on, seven answers stored, and the admin signed in by the login form
    (a cookie, as a browser is)."""
    add_rows(store)
    with TestClient(create_app(Settings(database_url=store.url, admin_token=TOKEN), predictors, store)) as client:
        assert client.post("/feedback/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
        yield client


def shown(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="correction-(\d+)"', page)]


def csrf_of(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/feedback").text)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [7, 6, 5, 4, 3, 2, 1]),
        ("label=1", [2, 1]),
        ("predicted=3", [6, 5]),
        ("model=mlp", [7, 2]),
        ("kind=confirmation", [7, 5, 3]),
        ("kind=correction&model=cnn", [6, 4, 1]),
        ("from=2024-01-03&to=2024-01-09", [4, 3, 2]),  # both days included
        ("from=2024-02-01", [7, 6]),
        ("label=&predicted=&model=&kind=&from=&to=", [7, 6, 5, 4, 3, 2, 1]),  # an empty GET form
        ("label=8", []),
    ],
)
def test_filters_choose_the_rows(admin: TestClient, query: str, expected: list[int]) -> None:
    page = admin.get(f"/feedback?{query}")
    assert page.status_code == 200, page.text
    assert shown(page.text) == expected
    assert re.search(rf'"feedback-total">{len(expected)} (match|stored);', page.text)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("label=x", "`label` must be a digit"),
        ("predicted=10", "`predicted` must be a digit"),
        ("kind=maybe", "`kind` must be"),
        ("from=2024-13-01", "`from` must be a date"),
        ("from=2024-02-01&to=2024-01-01", "is after `to`"),
        ("to=9999-12-31", "choose a day"),
        ("model=" + "m" * 201, "`model`"),
    ],
)
def test_bad_filters_are_422_with_a_message(admin: TestClient, query: str, message: str) -> None:
    for path in ("/feedback", "/feedback/download"):
        reply = admin.get(f"{path}?{query}")
        assert reply.status_code == 422, (path, reply.text)
        assert message in reply.json()["detail"]
    assert admin.get("/feedback?page=0").status_code == 422
    assert admin.get("/feedback?select=everything").status_code == 422


def test_paging_keeps_the_filter(store: Store, predictors: dict) -> None:  # noqa: F811
    add_rows(store)
    settings = Settings(database_url=store.url, admin_token=TOKEN, feedback_page_size=2)
    with TestClient(create_app(settings, predictors, store)) as client:
        first = client.get("/feedback?model=cnn", headers=AUTH)
        assert shown(first.text) == [6, 5] and "page 1 of 3" in first.text
        older = re.search(r'href="([^"]+)" data-testid="older"', first.text)
        assert older and "model=cnn" in older.group(1)
        second = client.get(older.group(1).replace("&amp;", "&"), headers=AUTH)
        assert shown(second.text) == [4, 3]


def test_stats_keep_confirmations_apart(store: Store) -> None:  # noqa: F811
    add_rows(store)
    stats = store.stats()
    assert stats.total == 7 and stats.per_kind == {"correction": 4, "confirmation": 3}
    # No "4 -> 4": a confirmation is no confusion.
    assert stats.confusion == {(7, 1): 2, (None, 9): 1, (3, 5): 1}
    # Per model version. cnn-1: confirmed 2 (rows 3, 5), corrected 2 (rows 1, 6; row 4 had no
    # reading); mlp-1: 1 and 1.
    assert (stats.accuracy["cnn-1"].right, stats.accuracy["cnn-1"].wrong) == (2, 2)
    assert (stats.accuracy["mlp-1"].right, stats.accuracy["mlp-1"].wrong) == (1, 1)
    weeks = {(week.isoformat(), model): (t.right, t.wrong) for (week, model), t in stats.weekly.items()}
    assert weeks == {
        ("2024-01-01", "cnn-1"): (0, 1),
        ("2024-01-01", "mlp-1"): (0, 1),
        ("2024-01-08", "cnn-1"): (2, 0),
        ("2024-01-29", "cnn-1"): (0, 1),
        ("2024-01-29", "mlp-1"): (1, 0),
    }
    assert store.stats(Filter(model="mlp")).per_kind == {"correction": 1, "confirmation": 1}


def test_the_page_shows_the_stats(admin: TestClient) -> None:
    page = admin.get("/feedback").text
    kinds = re.search(r'data-testid="stats-kinds">([^<]*)<', page)
    assert kinds and kinds.group(1) == "4 corrections, 3 confirmations"
    assert "<tr><td>cnn-1</td><td>2</td><td>2</td><td>50.0%</td></tr>" in page
    assert "<tr><td>2024-01-08 cnn-1</td><td>2</td><td>0</td><td>100.0%</td></tr>" in page
    assert "4 corrections" not in admin.get("/feedback?kind=confirmation").text


def test_delete_with_the_csrf_token_removes_exactly_the_checked_rows(admin: TestClient, store: Store) -> None:  # noqa: F811
    token = csrf_of(admin)
    reply = admin.post(
        "/feedback/delete", data={"csrf": token, "id": ["2", "5"], "scope": "checked"}, follow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/feedback?deleted=2"
    assert store.ids() == {1, 3, 4, 6, 7}
    # A checked row the filter does not match stays: the filter and the boxes together choose.
    reply = admin.post("/feedback/delete", data={"csrf": token, "id": ["1", "7"], "model": "mlp"})
    assert reply.status_code == 200 and 'data-testid="deleted">1 deleted' in reply.text
    assert "model=mlp" in str(reply.url)
    assert store.ids() == {1, 3, 4, 6}


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({"id": "3"}, {}),
        ({"id": "3", "csrf": ""}, {}),
        ({"id": "3", "csrf": "0" * 64}, {}),
        ({"id": "3", "csrf": "\u00e9t\u00e9"}, {}),
        ({"id": "3", "csrf": "GOOD"}, {"origin": "https://evil.example"}),
        ({"id": "3", "csrf": "GOOD"}, {"sec-fetch-site": "cross-site"}),
    ],
    ids=["no token", "empty token", "wrong token", "non-ascii token", "other origin", "cross-site fetch"],
)
def test_a_forged_delete_is_403_and_deletes_nothing(
    admin: TestClient,
    store: Store,  # noqa: F811
    data: dict,
    headers: dict,
) -> None:
    if data.get("csrf") == "GOOD":
        data = {**data, "csrf": csrf_of(admin)}
    for path in ("/feedback/delete", "/feedback/download"):
        reply = admin.post(path, data=data, headers=headers, follow_redirects=False)
        assert reply.status_code == 403, reply.text
    assert store.count() == 7


def test_the_csrf_token_is_no_use_without_the_admin_token(admin: TestClient, store: Store) -> None:  # noqa: F811
    token = csrf_of(admin)
    admin.cookies.clear()
    reply = admin.post("/feedback/delete", data={"csrf": token, "id": "3"})
    assert reply.status_code == 401 and store.count() == 7
    # A script with the Bearer token needs the CSRF token too.
    assert admin.post("/feedback/delete", data={"id": "3"}, headers=AUTH).status_code == 403
    assert admin.post("/feedback/delete", data={"csrf": token, "id": "3"}, headers=AUTH).status_code == 200
    assert store.count() == 6


def test_delete_all_matching_only_while_the_page_is_true(admin: TestClient, store: Store) -> None:  # noqa: F811
    token = csrf_of(admin)
    stale = admin.post(
        "/feedback/delete", data={"csrf": token, "scope": "matching", "kind": "correction", "expected": "3"}
    )
    assert stale.status_code == 422 and "4 answers match now" in stale.json()["detail"]
    assert store.count() == 7
    everything = admin.post("/feedback/delete", data={"csrf": token, "scope": "matching", "expected": "7"})
    assert everything.status_code == 422 and "say which" in everything.json()["detail"]
    done = admin.post(
        "/feedback/delete", data={"csrf": token, "scope": "matching", "kind": "correction", "expected": "4"}
    )
    assert done.status_code == 200 and store.ids() == {3, 5, 7}
    nothing = admin.post("/feedback/delete", data={"csrf": token, "scope": "checked"})
    assert nothing.status_code == 422 and "no rows checked" in nothing.json()["detail"]
    for odd in ("x", "\u00b2", "9" * 5000):  # "²" passes str.isdigit; 5,000 digits overflow int()
        bad = admin.post("/feedback/delete", data={"csrf": token, "id": ["3", odd]})
        assert bad.status_code == 422 and store.ids() == {3, 5, 7}
    bad = admin.post(
        "/feedback/delete", data={"csrf": token, "scope": "matching", "kind": "correction", "expected": "\u00b2"}
    )
    assert bad.status_code == 422


def unpacked(reply: object, into: Path) -> Path:
    """The downloaded .zip, unpacked as its user would: one folder."""
    assert getattr(reply, "status_code", None) == 200, getattr(reply, "text", "")
    headers = getattr(reply, "headers", {})
    assert headers["content-type"] == "application/zip" and "attachment" in headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(getattr(reply, "content", b""))) as archive:
        names = archive.namelist()
        archive.extractall(into)
    folders = {name.split("/")[0] for name in names}
    assert len(folders) == 1
    return into / folders.pop()


def test_a_download_is_what_finetune_reads(admin: TestClient, tmp_path: Path) -> None:
    folder = unpacked(admin.get("/feedback/download?kind=correction"), tmp_path / "matching")
    assert sorted(p.name for p in folder.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    ((images, labels),) = load_corrections([folder])
    assert labels.tolist() == [1, 1, 9, 5]  # oldest first
    assert [round(float(image.mean()) / 255 * 9) for image in images] == [1, 1, 9, 5]
    checked = admin.post("/feedback/download", data={"csrf": csrf_of(admin), "id": ["7", "3", "999"]})
    ((_, labels),) = load_corrections([unpacked(checked, tmp_path / "checked")])
    assert labels.tolist() == [4, 2]
    missing = admin.get("/feedback/download?label=8")
    assert missing.status_code == 404 and "nothing to download" in missing.json()["detail"]


def test_a_download_is_bounded_and_needs_the_token(store: Store, predictors: dict) -> None:  # noqa: F811
    add_rows(store)
    settings = Settings(database_url=store.url, admin_token=TOKEN, download_max_rows=3)
    with TestClient(create_app(settings, predictors, store)) as client:
        assert client.get("/feedback/download?model=mlp").status_code == 401
        assert client.get("/feedback/download?model=mlp", headers=AUTH).status_code == 200
        too_many = client.get("/feedback/download", headers=AUTH)
        assert too_many.status_code == 413 and "more than 3" in too_many.json()["detail"]


def test_the_page_keeps_its_csp_and_needs_no_inline_code(admin: TestClient) -> None:
    page = admin.get("/feedback?select=all")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script" not in page.text and "<style" not in page.text and " style=" not in page.text
    assert page.text.count(" checked>") == 7  # "Select all" is a link, not a script
    assert 'name="csrf"' in page.text


def test_cli_stats_keep_confirmations_apart(store: Store, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    add_rows(store)
    assert main(["feedback", "stats", "--db", store.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "total: 7",
        "per label: 1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 9: 1",
        "per model: cnn: 5, mlp: 2",
        "per kind: correction: 4, confirmation: 3",
    ]
    assert "  cnn-1: 50.0% right (2 of 4)" in lines and "  2024-01-08 cnn-1: 100.0% right (2 of 2)" in lines
    confusion = lines[lines.index("predicted -> corrected (corrections only):") + 1 :]
    assert confusion == ["  7 -> 1: 2", "  3 -> 5: 1", "  - -> 9: 1"]  # no "4 -> 4"


def test_not_a_digit_answers_are_named_and_filtered(admin: TestClient, store: Store) -> None:  # noqa: F811
    """Number mode stores a stray mark as label 10, the models' eleventh class."""
    (mark,) = store.add_rows(
        [
            new_correction(
                label=10,
                predicted=None,
                kind="correction",
                model="cnn",
                model_version="cnn-1",
                model_input=np.zeros((28, 28)),
                image_png=PNG,
            )
        ]
    )
    page = admin.get("/feedback", params={"label": "10"}).text
    assert shown(page) == [mark.id]
    assert '<span class="label">not a digit</span>' in page and '<option value="10" selected>not a digit' in page
    assert admin.get("/feedback", params={"label": "11"}).status_code == 422
