"""The page at the two sizes people use it: a desktop window and a phone (touch, 2x pixels)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.helpers import close_page, open_page


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    """A desktop page."""
    context, tab = open_page(browser, server, "desktop")
    yield tab
    close_page(context, tab)


@pytest.fixture(params=["desktop", "phone"])
def any_page(request: pytest.FixtureRequest, browser: Any, server: str) -> Iterator[Any]:
    """The page at desktop and at phone size; `any_page.size` says which."""
    context, tab = open_page(browser, server, request.param)
    tab.size = request.param
    yield tab
    close_page(context, tab)
