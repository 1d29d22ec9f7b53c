"""A request's drawings and options: JSON validated by its schema, or a multipart form with image
files; each drawing turned into the library's own form (`reading.reader.Drawing`) for the Reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import HTTPException, Request
from pydantic import BaseModel

from digitrec.errors import InputError, TooLargeError
from digitrec.reading.decode import base64_bytes
from digitrec.reading.reader import Drawing, Strokes
from digitrec.web import schemas
from digitrec.web.forms import parse_form
from digitrec.web.inputs import parse_pixels
from digitrec.web.settings import Settings


@dataclass
class Submission:
    """A request's options and its drawings, in the Reader's forms."""

    options: Any  # an instance of the options model the route asked for
    drawings: list[Drawing]


@dataclass
class Posted:
    """What the event loop hands to a reading thread: the body and the headers that say how to
    read it. Everything after this (JSON, validation, decoding) is the thread's work, but for
    the page's small strokes, read on the loop (routes/prediction.py)."""

    body: bytes
    content_type: str

    @property
    def media_type(self) -> str:
        """The content type without its parameters, lower case: "multipart/form-data"."""
        return self.content_type.split(";")[0].strip().lower()


async def posted(request: Request) -> Posted:
    return Posted(await request.body(), request.headers.get("content-type", ""))


def read_submission(
    posted: Posted, settings: Settings, options_model: type[BaseModel], json_model: type[BaseModel], many: bool
) -> Submission:
    """JSON validated by `json_model`, or a multipart form whose text fields `options_model`
    validates; pydantic's ValidationError and InputError become 422 in the app's handlers.
    Blocking work: call it off the event loop, except for a body whose cost is bounded by its
    size (routes/prediction.py reads the page's small JSON strokes on the loop)."""
    body = posted.body
    content_type = posted.media_type
    if content_type == "multipart/form-data":
        return read_form(body, posted.content_type, settings, options_model, many)
    if content_type not in ("application/json", ""):
        raise HTTPException(
            415,
            f"unsupported content type {content_type!r}: send application/json or "
            "multipart/form-data with a file field `image`",
        )
    check_point_count(body, settings, many)
    check_pixel_values(body, settings)
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InputError("the JSON body must be an object")
    validated = json_model.model_validate(payload, context=settings)
    items: list[schemas.Drawing] = list(getattr(validated, "items", None) or [validated])
    return Submission(
        validated, [to_drawing(item, settings, index if many else None) for index, item in enumerate(items)]
    )


def read_form(
    body: bytes, content_type: str, settings: Settings, options_model: type[BaseModel], many: bool
) -> Submission:
    parts = parse_form(body, content_type, max_parts=settings.max_batch + 20)
    images: list[Drawing] = [bytes(p.data) for p in parts if p.name == "image" and p.filename is not None]
    if not images:
        raise InputError("the form has no file field named `image`")
    if not many and len(images) > 1:
        raise InputError("send one `image` here, or several to /api/predict/batch")
    if len(images) > settings.max_batch:
        raise TooLargeError(f"{len(images)} images; at most {settings.max_batch} per batch")
    fields = {p.name: p.text for p in parts if p.filename is None}
    return Submission(options_model.model_validate(fields, context=settings), images)


def to_drawing(item: schemas.Drawing, settings: Settings, index: int | None = None) -> Drawing:
    """A validated JSON drawing in the Reader's form: image bytes, a pixel array or strokes."""
    try:
        if item.image is not None:
            return base64_bytes(item.image)
        if item.pixels is not None:
            return parse_pixels(item.pixels, settings.max_pixels)
    except InputError as exc:
        raise type(exc)(f"item {index}: {exc}" if index is not None else str(exc)) from None
    assert item.strokes is not None and item.width is not None and item.height is not None  # the schema says so
    return Strokes(item.strokes, item.width, item.height, item.line_width)


BATCH_POINTS = 2  # a batch's strokes may hold this many single drawings' worth of points


def check_point_count(body: bytes, settings: Settings, many: bool) -> None:
    """Refuse a body with too many points before parsing it: parsing and validating 100,000
    points took 100 ms, counting brackets takes well under one. Every point of `strokes` opens
    one "[", every stroke one more, so a drawing within budget opens at most twice its points.
    A first filter only: the schema and the renderer count the points again, exactly."""
    limit = settings.max_stroke_points * (BATCH_POINTS if many else 1)
    brackets = body.count(b"[")
    if brackets > 2 * limit + settings.max_batch + 2:
        raise TooLargeError(
            f"the body opens {brackets:,} lists (one per point and per stroke); at most {limit:,} points "
            + ("in one batch" if many else "in one drawing")
            + " are accepted"
        )


def check_pixel_values(body: bytes, settings: Settings) -> None:
    """Bound the `pixels` form before parsing: each value but a row's last is followed by a
    comma, so commas bound the values (counted at C speed, whatever else the body holds)."""
    if b'"pixels"' in body and body.count(b",") > settings.max_pixel_values + 64:
        raise TooLargeError(
            f"`pixels` holds more than {settings.max_pixel_values:,} values in this request; "
            "send a bigger picture as a PNG `image`"
        )


def parse_json(body: bytes) -> Any:
    if not body:
        raise InputError("the request body is empty: send JSON or a multipart form with `image`")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc})") from exc


def request_body(json_model: type[BaseModel], form_model: type[BaseModel], many: bool = False) -> dict[str, Any]:
    """OpenAPI for an endpoint that takes JSON (`json_model`, a component schema) or a multipart
    form with `image` (one or several) and the text fields of `form_model`."""
    image: dict[str, Any] = {"type": "string", "format": "binary"}
    # Nested models (a number's `answers`) are referenced where the app puts them: the components.
    form = form_model.model_json_schema(ref_template="#/components/schemas/{model}")
    properties = {"image": {"type": "array", "items": image, "minItems": 1} if many else image}
    properties |= form.get("properties", {})
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{json_model.__name__}"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image", *form.get("required", [])],
                        "properties": properties,
                    }
                },
            },
        }
    }
