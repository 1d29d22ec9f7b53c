"""The corrections page (/feedback): server-rendered HTML, images inline, nothing external."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
from PIL import Image

from digitrec.feedback import Correction


def to_png(picture: Any) -> bytes:
    """A decoded upload or a pixel/stroke array, as PNG bytes for storage."""
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(np.asarray(picture, dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _input_png(row: Correction) -> bytes:
    return to_png(np.frombuffer(row.input, dtype=np.uint8).reshape(28, 28))


def render_corrections(rows: list[Correction], total: int) -> str:
    items = []
    for row in rows:
        predicted = "–" if row.predicted is None else str(row.predicted)
        items.append(
            f'<li data-testid="correction-{row.id}">'
            f'<img src="{_data_url(row.image_png)}" alt="drawing" class="drawing">'
            f'<img src="{_data_url(_input_png(row))}" alt="model input" class="input">'
            f'<span class="label">{row.label}</span>'
            f'<span class="meta">read as {html.escape(predicted)} by {html.escape(row.model)}<br>'
            f"#{row.id} · {row.created_at:%Y-%m-%d %H:%M} UTC</span></li>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>digitrec: corrections</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f5f6f8; }}
ul {{ list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
      gap: .8rem; }}
li {{ background: #fff; border-radius: 10px; padding: .6rem; display: flex; gap: .6rem; align-items: center; }}
.drawing {{ width: 84px; height: 84px; object-fit: contain; background: #fff; border: 1px solid #ddd; }}
.input {{ width: 56px; height: 56px; image-rendering: pixelated; }}
.label {{ font-size: 2rem; font-weight: 700; }}
.meta {{ color: #5d6677; font-size: .8rem; }}
</style></head><body>
<h1>Corrections</h1>
<p data-testid="feedback-total">{total} stored; the {len(rows)} most recent below (drawing, model input, label).</p>
<ul>{"".join(items)}</ul>
</body></html>"""
