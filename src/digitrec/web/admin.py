"""The corrections page (/feedback): server-rendered HTML, images inline, a stylesheet of its own
(served at /feedback/style.css, so that the page's Content-Security-Policy needs no inline style),
and the login form that sets the admin cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import io
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
from PIL import Image

from digitrec.store.feedback import KINDS, NOT_A_DIGIT, Correction, Stats, Tally
from digitrec.web.schemas import FeedbackFilter

STYLE = """body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f5f6f8; }
ul { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
     gap: .8rem; }
li { background: #fff; border-radius: 10px; padding: .6rem; display: flex; gap: .6rem; align-items: center; }
.drawing { width: 84px; height: 84px; object-fit: contain; background: #fff; border: 1px solid #ddd; }
.input { width: 56px; height: 56px; image-rendering: pixelated; }
.label { font-size: 2rem; font-weight: 700; }
.meta { color: #5d6677; font-size: .8rem; }
nav a { margin-right: 1rem; }
form.filter, .stats, .actions { background: #fff; border-radius: 10px; padding: .6rem; margin: 0 0 .8rem; }
form.filter label, .actions > * { margin-right: .8rem; }
.stats table { border-collapse: collapse; margin: .4rem 1.5rem .4rem 0; display: inline-table; vertical-align: top; }
.stats th, .stats td { padding: .15rem .6rem; text-align: right; border-bottom: 1px solid #e3e6eb; }
.stats caption { text-align: left; font-weight: 600; }
h2 { font-size: 1rem; margin: 0; }
"""
COOKIE = "digitrec_admin"


def session_value(token: str) -> str:
    """What the admin cookie holds: derived from the token, so the cookie never carries it."""
    return hmac.new(token.encode(), b"digitrec corrections page", hashlib.sha256).hexdigest()


def csrf_token(token: str) -> str:
    """The token every form that changes data must carry: an HMAC of the admin session value
    under a purpose string (a synchronizer token, derived rather than stored). A page of another
    site can neither read it (same-origin policy; the CSP allows no script but ours) nor compute
    it (it needs the admin token), so a forged POST lacks it. Derived, it needs no server-side
    session shared by the workers and replicas, survives restarts, and changes with the admin
    token; unlike a double-submit cookie, a sibling subdomain that can set cookies cannot plant
    a matching pair."""
    return hmac.new(session_value(token).encode(), b"digitrec admin forms: csrf", hashlib.sha256).hexdigest()


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


@dataclass
class View:
    """What one corrections page shows: a page of the rows the filter matches, and their stats."""

    rows: list[Correction]
    total: int
    page: int
    page_size: int
    chosen: FeedbackFilter
    models: list[str]
    stats: Stats
    csrf: str
    select_all: bool = False  # the page's "select all": every box of this page checked (no script)
    deleted: int | None = None  # how many the last delete took, said once after its redirect

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def link(self, **extra: object) -> str:
        """This page's address with its filter kept, and `extra` query parameters."""
        query = {**self.chosen.query(), **{k: str(v) for k, v in extra.items()}}
        return html.escape("/feedback" + (f"?{urlencode(query)}" if query else ""))


def render_corrections(view: View) -> str:
    counted = f"{view.total} {'match' if view.chosen.query() else 'stored'}"
    said = "" if view.deleted is None else f'<p role="status" data-testid="deleted">{view.deleted} deleted.</p>'
    return _page(
        "corrections",
        f"""<h1>Corrections</h1>
{said}{_filter_form(view)}
{_stats(view.stats)}
<p data-testid="feedback-total">{counted}; page {view.page} of {view.pages}, newest first
(drawing, model input, label).</p>
{_rows_form(view)}
<nav>{_paging(view)}</nav>""",
    )


def label_text(label: int | None) -> str:
    """A stored label as people read it: 10 is the models' eleventh class."""
    return "–" if label is None else "not a digit" if label == NOT_A_DIGIT else str(label)


def _options(name: str, label: str, values: list[str], current: object) -> str:
    chosen = "" if current is None else str(current)
    shown = {"": "any", str(NOT_A_DIGIT): label_text(NOT_A_DIGIT)}
    options = "".join(
        f'<option value="{html.escape(v)}"{" selected" if v == chosen else ""}>{html.escape(shown.get(v, v))}</option>'
        for v in ["", *values]
    )
    return f'<label>{label} <select name="{name}" data-testid="filter-{name}">{options}</select></label>'


def _filter_form(view: View) -> str:
    chosen, digits = view.chosen, [str(d) for d in range(10)]
    labels = [*digits, str(NOT_A_DIGIT)]
    models = sorted({*view.models, *([chosen.model] if chosen.model else [])})
    days = "".join(
        f'<label>{name.title()} <input type="date" name="{name}" value="{"" if day is None else day}" '
        f'data-testid="filter-{name}"></label>'
        for name, day in (("from", chosen.since), ("to", chosen.until))
    )
    return f"""<form method="get" action="/feedback" class="filter" data-testid="filter">
{_options("label", "Label", labels, chosen.label)} {_options("predicted", "Read as", digits, chosen.predicted)}
{_options("model", "Model", models, chosen.model)} {_options("kind", "Kind", list(KINDS), chosen.kind)} {days}
<button type="submit" data-testid="apply-filter">Filter</button> <a href="/feedback">Clear</a></form>"""


def _judged(name: str, tally: Tally) -> str:
    return (
        f"<tr><td>{html.escape(name)}</td><td>{tally.right}</td><td>{tally.wrong}</td>"
        f"<td>{tally.accuracy:.1%}</td></tr>"
    )


def _stats(stats: Stats) -> str:
    """Confirmations apart from corrections, and each model's accuracy on the drawings people
    judged: confirmed / (confirmed + corrected), overall and per week."""
    kinds = ", ".join(f"{count} {kind}{'' if count == 1 else 's'}" for kind, count in stats.per_kind.items())
    head = "<tr><th>{}</th><th>confirmed</th><th>corrected</th><th>accuracy</th></tr>"
    models = "".join(_judged(model, tally) for model, tally in stats.accuracy.items())
    # The newest weeks first, a year of them at most.
    recent = list(reversed(stats.weekly.items()))[:52]
    weeks = "".join(_judged(f"{week:%Y-%m-%d} {model}", tally) for (week, model), tally in recent)
    return f"""<section class="stats" data-testid="stats"><h2>Of these</h2>
<p data-testid="stats-kinds">{kinds or "none"}</p>
<table data-testid="stats-models"><caption>Accuracy per model version</caption>
{head.format("model version")}{models}</table>
<table data-testid="stats-weeks"><caption>Per week (from its Monday)</caption>
{head.format("week, model version")}{weeks}</table>
</section>"""


def _row(row: Correction, checked: bool) -> str:
    predicted = label_text(row.predicted)
    return (
        f'<li data-testid="correction-{row.id}"><input type="checkbox" name="id" value="{row.id}" '
        f'aria-label="select #{row.id}" data-testid="select-{row.id}"{" checked" if checked else ""}>'
        f'<img src="{_data_url(row.image_png)}" alt="drawing" class="drawing">'
        f'<img src="{_data_url(_input_png(row))}" alt="model input" class="input">'
        f'<span class="label">{html.escape(label_text(row.label))}</span>'
        f'<span class="meta">{html.escape(row.kind)}: read as {html.escape(predicted)} by '
        f"{html.escape(row.model)}<br>#{row.id} · {row.created_at:%Y-%m-%d %H:%M} UTC</span></li>"
    )


def _rows_form(view: View) -> str:
    """The rows in one form: its buttons delete or download the checked ones (POST, with the
    CSRF token and the filter, so that only rows it matches are touched)."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in view.chosen.query().items()
    )
    items = "".join(_row(row, view.select_all) for row in view.rows)
    select = (
        f'<a href="{view.link(page=view.page)}" data-testid="select-none">Select none</a>'
        if view.select_all
        else f'<a href="{view.link(page=view.page, select="all")}" data-testid="select-all">Select all on this page</a>'
    )
    download = view.link().replace("/feedback", "/feedback/download", 1)
    return f"""<form method="post" action="/feedback/delete" data-testid="rows">
<input type="hidden" name="csrf" value="{view.csrf}">{hidden}<input type="hidden" name="expected" value="{view.total}">
<p class="actions">{select}
<button type="submit" name="scope" value="checked" data-testid="delete-checked">Delete checked</button>
<button type="submit" formaction="/feedback/download" data-testid="download-checked">Download checked</button>
<a href="{download}" download data-testid="download-matching">Download all {view.total} matching (.zip)</a>
<button type="submit" name="scope" value="matching" data-testid="delete-matching">Delete all {view.total}
matching</button>
</p><ul>{items}</ul></form>"""


def _paging(view: View) -> str:
    links = []
    if view.page > 1:
        links.append(f'<a href="{view.link(page=view.page - 1)}" data-testid="newer">newer</a>')
    if view.page < view.pages:
        links.append(f'<a href="{view.link(page=view.page + 1)}" data-testid="older">older</a>')
    return "".join(links)


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
