"""The corrections page in a real browser against a real server: sign in, filter, select all
(a link, no script), delete the checked rows, download what finetune reads; no CSP complaint."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ARTIFACTS, start_server
from digitrec.learning.finetune import load_corrections
from digitrec.store.feedback import open_store
from server_process import stop
from test_admin import add_rows
from test_feedback import TOKEN

pytestmark = pytest.mark.slow


@pytest.fixture()
def admin_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A server with the page on, over a database holding test_admin's seven answers."""
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = open_store(url)
    add_rows(store)
    store.close()
    monkeypatch.setenv("DIGITREC_ADMIN_TOKEN", TOKEN)
    address, process = start_server("--db", url, "--model", "seed-ann", log=tmp_path / "server.log")
    yield address
    stop(process)


def rows_shown(page: Any) -> list[str]:
    return [
        str(t) for t in page.locator("[data-testid^=correction-]").evaluate_all("els => els.map(e => e.dataset.testid)")
    ]


def test_an_admin_filters_deletes_and_downloads(browser: Any, admin_server: str, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    complaints: list[str] = []
    # The login page's 401 and the favicon's 404 are errors too; a CSP violation says "Refused".
    page.on("console", lambda m: complaints.append(m.text) if "Refused" in m.text else None)
    page.goto(f"{admin_server}/feedback")
    page.get_by_test_id("admin-token").fill(TOKEN)
    page.get_by_test_id("login").click()
    page.get_by_test_id("filter").wait_for()
    assert len(rows_shown(page)) == 7

    page.get_by_test_id("filter-kind").select_option("correction")
    page.get_by_test_id("filter-model").select_option("cnn")
    page.get_by_test_id("apply-filter").click()
    page.wait_for_url("**kind=correction**")
    assert rows_shown(page) == ["correction-6", "correction-4", "correction-1"]
    assert page.get_by_test_id("stats-kinds").inner_text() == "3 corrections"

    page.get_by_test_id("select-all").click()
    page.wait_for_url("**select=all**")
    assert page.locator("input[type=checkbox]:checked").count() == 3
    page.get_by_test_id("select-1").uncheck()
    page.get_by_test_id("select-6").uncheck()
    page.get_by_test_id("delete-checked").click()
    page.get_by_test_id("deleted").wait_for()
    assert page.get_by_test_id("deleted").inner_text() == "1 deleted."
    assert rows_shown(page) == ["correction-6", "correction-1"]  # the filter kept, row 4 gone
    page.screenshot(path=str(ARTIFACTS / "admin-page.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_test_id("download-matching").click()
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path / "unpacked")
    (folder,) = (tmp_path / "unpacked").iterdir()
    ((_, labels),) = load_corrections([folder])
    assert labels.tolist() == [1, 5]  # rows 1 and 6, oldest first
    assert not complaints, complaints
    context.close()
