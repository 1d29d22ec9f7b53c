"""The corrections page (/feedback): server-rendered HTML, images inline, a stylesheet of its own
(served at /feedback/style.css, so that the page's Content-Security-Policy needs no inline style),
and the login form that sets the admin cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import io

import numpy as np
from PIL import Image

from digitrec.store.feedback import Correction

STYLE = """body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f5f6f8; }
ul { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
     gap: .8rem; }
li { background: #fff; border-radius: 10px; padding: .6rem; display: flex; gap: .6rem; align-items: center; }
.drawing { width: 84px; height: 84px; object-fit: contain; background: #fff; border: 1px solid #ddd; }
.input { width: 56px; height: 56px; image-rendering: pixelated; }
.label { font-size: 2rem; font-weight: 700; }
.meta { color: #5d6677; font-size: .8rem; }
nav a { margin-right: 1rem; }
"""
COOKIE = "digitrec_admin"


def session_value(token: str) -> str:
    """What the admin cookie holds: derived from the token, so the cookie never carries it."""
    return hmac.new(token.encode(), b"digitrec corrections page", hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    # Bytes, so that a non-ASCII guess is simply wrong (compare_digest refuses non-ASCII str).
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def to_png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _input_png(row: Correction) -> bytes:
    return to_png(np.frombuffer(row.input, dtype=np.uint8).reshape(28, 28))


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>digitrec: {title}</title><link rel="stylesheet" href="/feedback/style.css"></head><body>
{body}
</body></html>"""


def render_corrections(rows: list[Correction], total: int, page: int, page_size: int) -> str:
    items = []
    for row in rows:
        predicted = "–" if row.predicted is None else str(row.predicted)
        items.append(
            f'<li data-testid="correction-{row.id}">'
            f'<img src="{_data_url(row.image_png)}" alt="drawing" class="drawing">'
            f'<img src="{_data_url(_input_png(row))}" alt="model input" class="input">'
            f'<span class="label">{row.label}</span>'
            f'<span class="meta">{html.escape(row.kind)}: read as {html.escape(predicted)} by '
            f"{html.escape(row.model)}<br>#{row.id} · {row.created_at:%Y-%m-%d %H:%M} UTC</span></li>"
        )
    pages = max(1, -(-total // page_size))
    links = []
    if page > 1:
        links.append(f'<a href="/feedback?page={page - 1}" data-testid="newer">newer</a>')
    if page < pages:
        links.append(f'<a href="/feedback?page={page + 1}" data-testid="older">older</a>')
    return _page(
        "corrections",
        f"""<h1>Corrections</h1>
<p data-testid="feedback-total">{total} stored; page {page} of {pages}, newest first (drawing, model input, label).</p>
<ul>{"".join(items)}</ul>
<nav>{"".join(links)}</nav>""",
    )


def render_login(message: str) -> str:
    return _page(
        "sign in",
        f"""<h1>Corrections</h1><p data-testid="login-message">{html.escape(message)}</p>
<form method="post" action="/feedback/login">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required minlength="16"
data-testid="admin-token"></label> <button type="submit" data-testid="login">Sign in</button></form>""",
    )


class HTMLLogin(Exception):
    """A browser without the token: answered 401 with the login form (handlers.py)."""

    def __init__(self, message: str) -> None:
        self.message = message
