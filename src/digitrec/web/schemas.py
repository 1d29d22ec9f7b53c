"""Request and response schemas, named by role. The request models are what validates a JSON
body (and a form's text fields), so the OpenAPI document at /docs is what the server checks.

Size limits depend on the settings: they come in the validation context
(`PredictRequest.model_validate(data, context=settings)`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, Field, ValidationError, ValidationInfo, model_validator

from digitrec.errors import TooLargeError


def _no_bool(value: Any) -> Any:
    # JSON true is not the number 1 here; pydantic's lax mode would take it as one.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Digit = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=9)]
Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
Point = tuple[Number, Number]

MAX_BOXES = 64  # answers in one request: more than a number's boxes can be (reading.numbers)

# What each field must be, in the words a client needs; used for pydantic's generic complaints.
FIELD_HELP = {
    "image": "must be a string: a data URL (data:image/png;base64,...) or base64 of an image file",
    "pixels": "must be a non-empty 2-D array: a list of rows of numbers from 0 to 255",
    "strokes": "must be a list of strokes, each a list of [x, y] points with finite numbers",
    "width": "must be the canvas width in pixels, a whole number",
    "height": "must be the canvas height in pixels, a whole number",
    "line_width": "must be the pen width in pixels, a positive number",
    "top_k": "must be a whole number from 1 to 10",
    "model": 'must be a model name such as "cnn" (see /api/models)',
    "include_input": "must be true or false",
    "explain": "must be true or false",
    "label": "must be a digit from 0 to 9",
    "predicted": "must be a digit from 0 to 9",
    "kind": 'must be "correction" or "confirmation"',
    "items": "must be a non-empty list of drawings, each an object with `image`, `pixels` or `strokes`",
    "from": "must be a date written YYYY-MM-DD",
    "to": "must be a date written YYYY-MM-DD",
    "key": "must be 16-64 letters, digits, - or _ (a random key for this answer)",
    "text": "must be the number /api/read answered (its `text`): digits only",
    "answers": f"must be a list of 1 to {MAX_BOXES} answers, each {{box, label}} (in a form: that list as JSON text)",
}
# The same for the fields of one of `answers`.
ANSWER_HELP = {
    "box": f"must be the index of a box of the reading, a whole number from 0 to {MAX_BOXES - 1}",
    "left_out": "must be true or false",
    "label": 'must be a digit from 0 to 9, or "not a digit"',
    "replaces": "must be the id of this box's earlier answer",
    "undo": "must be the earlier answer's undo token",
}


class PredictOptions(BaseModel):
    model: str | None = Field(None, description="model name from /api/models; default: the server's default")
    top_k: Annotated[int, BeforeValidator(_no_bool)] = Field(
        3, ge=1, le=10, description="how many of the most likely digits to list in `top`"
    )
    include_input: bool = Field(False, description="also return the 28x28 image the model saw")
    explain: bool = Field(False, description="also return a heatmap of what the answer rests on")


class Drawing(BaseModel):
    """Exactly one of `image`, `pixels` or `strokes`."""

    image: str | None = Field(
        None, description="a data URL (data:image/png;base64,...) or base64 of a PNG, JPEG, WebP, BMP or GIF"
    )
    pixels: list[Annotated[list[Annotated[Number, Field(ge=0, le=255)]], Field(min_length=1)]] | None = Field(
        None, min_length=1, description="2-D grayscale array, values 0-255 (or 0-1)"
    )
    strokes: list[list[Point]] | None = Field(None, description="strokes, each a list of [x, y] points")
    width: int | None = Field(None, ge=1, description="canvas width in pixels (with `strokes`)")
    height: int | None = Field(None, ge=1, description="canvas height in pixels (with `strokes`)")
    line_width: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="pen width in pixels (with `strokes`; default size/16)"
    )

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_and_within_budget(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a drawing must be an object with `image`, `pixels` or `strokes`")
        present = [key for key in ("image", "pixels", "strokes") if data.get(key) is not None]
        if len(present) != 1:
            raise ValueError(
                "send exactly one of `image` (data URL or base64), `pixels` (2-D array) "
                "or `strokes` (with `width` and `height`)"
            )
        image = data.get("image")
        if isinstance(image, str) and image.startswith("data:") and "," not in image:
            raise ValueError("`image` is a data URL without its data: data:image/png;base64,<base64 of the file>")
        strokes = data.get("strokes")
        if isinstance(strokes, list) and info.context is not None:
            # Counted before pydantic builds 20,000 tuples, so that a huge list is refused cheaply.
            limit = info.context.max_stroke_points
            total = sum(len(s) for s in strokes if isinstance(s, list))
            if total > limit:
                raise TooLargeError(f"`strokes` has {total:,} points; at most {limit:,} are accepted")
        return data

    @model_validator(mode="after")
    def _canvas_is_sane(self, info: ValidationInfo) -> Drawing:
        if self.strokes is None:
            return self
        if self.width is None or self.height is None:
            raise ValueError("`strokes` needs `width` and `height`, the canvas size in pixels")
        side = info.context.max_canvas_side if info.context is not None else 4096
        if max(self.width, self.height) > side:
            raise ValueError(f"the canvas is {self.width}x{self.height}; each side must be at most {side} pixels")
        longest = max(self.width, self.height)
        if self.line_width is not None and self.line_width > longest / 4:
            raise ValueError(
                f"`line_width` {self.line_width:g} is too wide for a {self.width}x{self.height} canvas: "
                f"at most a quarter of its longest side ({longest / 4:g} px)"
            )
        return self


class PredictRequest(PredictOptions, Drawing):
    """One drawing (exactly one of `image`, `pixels` or `strokes`) and the answer's options."""


class BatchRequest(PredictOptions):
    items: list[Drawing] = Field(..., min_length=1, description="drawings, each in any single-image form")

    @model_validator(mode="before")
    @classmethod
    def _at_most_max_batch(cls, data: Any, info: ValidationInfo) -> Any:
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, list) and info.context is not None and len(items) > info.context.max_batch:
            raise TooLargeError(f"{len(items)} items; at most {info.context.max_batch} per batch")
        return data


class FeedbackOptions(PredictOptions):
    label: Digit = Field(..., description="the digit the drawing really is")
    predicted: Digit | None = Field(None, description="what the model read, if it read something")
    kind: Literal["correction", "confirmation"] = Field(
        "correction",
        description='"correction": the model was wrong; "confirmation": it was right (then `label` may '
        "equal `predicted`)",
    )
    replaces: int | None = Field(
        None, ge=1, description="the id of this drawing's earlier answer, which this one replaces (a changed mind)"
    )
    undo: str | None = Field(
        None, max_length=64, description="with `replaces`: the `undo` token the earlier answer was given"
    )
    key: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{16,64}$",
        description="a random key for this answer (16-64 letters, digits, - or _): sent again with the same "
        "key (its first answer lost on the way back), the answer stored the first time is the answer",
    )

    @model_validator(mode="after")
    def _a_correction_corrects(self) -> FeedbackOptions:
        if self.kind == "correction" and self.predicted is not None and self.label == self.predicted:
            raise ValueError(
                f"`label` {self.label} equals `predicted`: that is no correction. To say the model "
                'was right, send "kind": "confirmation"'
            )
        if (self.replaces is None) != (self.undo is None):
            raise ValueError("`replaces` and `undo` go together: the earlier answer's id and its undo token")
        return self


class FeedbackRequest(FeedbackOptions, Drawing):
    """A drawing, the digit it really is, and what the model read."""


def _blank_is_none(value: Any) -> Any:
    # A GET form sends its empty fields too (`label=&model=`): empty means "any".
    return None if isinstance(value, str) and not value.strip() else value


# Days a filter may name: the next day of the last must still be a date.
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


class FeedbackFilter(BaseModel):
    """The corrections page's filter: query parameters of its GET form, hidden fields of its
    POST forms; an empty field is no filter."""

    model_config = {"populate_by_name": True}

    # 10: "not a digit", the models' eleventh class (Number mode stores stray marks so).
    label: Annotated[
        Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=10)] | None, BeforeValidator(_blank_is_none)
    ] = None
    predicted: Annotated[Digit | None, BeforeValidator(_blank_is_none)] = None
    model: Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_blank_is_none)] = None
    kind: Annotated[Literal["correction", "confirmation"] | None, BeforeValidator(_blank_is_none)] = None
    since: Annotated[dt.date | None, BeforeValidator(_blank_is_none), Field(alias="from")] = None
    until: Annotated[dt.date | None, BeforeValidator(_blank_is_none), Field(alias="to")] = None

    @model_validator(mode="after")
    def _from_before_to(self) -> FeedbackFilter:
        for name, day in (("from", self.since), ("to", self.until)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError(f"`{name}` {day}: choose a day from {FIRST_DAY} to {LAST_DAY}")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"`from` {self.since} is after `to` {self.until}: no day is both")
        return self

    def query(self) -> dict[str, str]:
        """The fields set, as the form names them (for links that keep the filter)."""
        return {k: str(v) for k, v in self.model_dump(by_alias=True, exclude_none=True).items()}


NotADigit = Literal["not a digit"]


def _json_text(value: Any) -> Any:
    # A form's fields are text: there `answers` is the list written as JSON.
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("must be a list of answers (in a form: that list as JSON text)") from None
    return value


class BoxAnswer(BaseModel):
    """The right answer for one box of the reading."""

    box: int = Field(
        ..., ge=0, lt=MAX_BOXES, description="the box: its index in the reading's `digits` (or `left_out`)"
    )
    left_out: bool = Field(False, description="`box` indexes the reading's `left_out` marks, not its `digits`")
    label: Digit | NotADigit = Field(..., description='the digit the box really holds, or "not a digit"')
    replaces: int | None = Field(
        None, ge=1, description="the id of this box's earlier answer, which this one replaces (a changed mind)"
    )
    undo: str | None = Field(None, max_length=64, description="with `replaces`: the earlier answer's `undo` token")

    @model_validator(mode="after")
    def _replaces_with_its_token(self) -> BoxAnswer:
        if (self.replaces is None) != (self.undo is None):
            raise ValueError("`replaces` and `undo` go together: the earlier answer's id and its undo token")
        return self


class NumberFeedbackOptions(BaseModel):
    model: str | None = Field(None, description="the model that read the number (as sent to /api/read)")
    text: str = Field(
        ...,
        max_length=MAX_BOXES,
        pattern=r"^[0-9]*$",
        description="the number as /api/read answered it (its `text`): the server reads the drawing again and "
        "answers 409 if it reads anything else",
    )
    answers: Annotated[list[BoxAnswer], BeforeValidator(_json_text)] = Field(
        ...,
        min_length=1,
        max_length=MAX_BOXES,
        description="one answer per box answered: a box's own reading confirms it, another label corrects it",
    )

    @model_validator(mode="after")
    def _each_box_once(self) -> NumberFeedbackOptions:
        boxes = [(a.left_out, a.box) for a in self.answers]
        if len(set(boxes)) != len(boxes):
            raise ValueError("`answers`: a box is answered twice; send one answer per box")
        return self


class NumberFeedbackRequest(NumberFeedbackOptions, Drawing):
    """A drawing of a whole number (exactly as /api/read took it), what /api/read read, and the
    right answer for some or all of its boxes."""


class NumberAnswerOut(BaseModel):
    id: int
    box: int
    left_out: bool
    label: int | NotADigit
    predicted: int | None = Field(..., description="what the model read in the box (null: no digit)")
    kind: Literal["correction", "confirmation"]
    undo: str = Field(..., description="the token to take this answer back or replace it (only its poster has it)")


class NumberFeedbackOut(BaseModel):
    reading: str = Field(..., description="the id every row stored from this reading shares")
    text: str
    answers: list[NumberAnswerOut]
    model: str
    model_version: str
    created_at: str


class UndoItem(BaseModel):
    id: int = Field(..., ge=1, le=2**63 - 1)
    undo: str = Field(..., max_length=64, description="the `undo` token its POST answered")


class UndoRequest(BaseModel):
    answers: list[UndoItem] = Field(
        ..., min_length=1, max_length=MAX_BOXES, description="the answers to take back, all or none"
    )

    @model_validator(mode="after")
    def _each_once(self) -> UndoRequest:
        if len({a.id for a in self.answers}) != len(self.answers):
            raise ValueError("`answers`: an id is listed twice; list each answer once")
        return self


def describe(error: ValidationError) -> str:
    """Pydantic's errors as one line for `detail`: where, and what it must be."""
    # dict.fromkeys: a union's members each fail alike, and one line says it once.
    lines = (describe_one(item) for item in error.errors(include_url=False, include_input=False))
    return "; ".join(dict.fromkeys(lines))


def describe_one(item: Any) -> str:
    loc = [part for part in item.get("loc", ()) if part != "body"]
    prefix, helps = "", FIELD_HELP
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
        prefix, loc = f"item {loc[1]}: ", loc[2:]
    elif len(loc) >= 2 and loc[0] == "answers" and isinstance(loc[1], int):
        # A label is a union (a digit, or "not a digit"): pydantic names the member that failed.
        prefix, loc, helps = f"answer {loc[1]}: ", loc[2:3], ANSWER_HELP
    field = str(loc[0]) if loc else ""
    message = str(item.get("msg", "invalid value"))
    if item.get("type") == "value_error" and field not in helps:
        return prefix + message.removeprefix("Value error, ")
    if item.get("type") == "missing":
        return prefix + f"`{field}` is required" + (f" ({helps[field]})" if field in helps else "")
    if field in helps:
        return prefix + f"`{field}` {helps[field]}"
    where = ".".join(str(part) for part in loc)
    return prefix + (f"{where}: {message}" if where else message)


class FeedbackOut(BaseModel):
    id: int
    label: int
    predicted: int | None
    kind: Literal["correction", "confirmation"]
    model: str
    model_version: str
    created_at: str
    undo: str = Field(..., description="the token to take this answer back or replace it (only its poster has it)")


class Candidate(BaseModel):
    digit: int
    probability: float


class ReadingOut(BaseModel):
    digit: int = Field(..., description="the digit read")
    confidence: float = Field(..., description="its probability")
    probabilities: list[float] = Field(..., description="probability of each digit 0-9")
    top: list[Candidate] = Field(..., description="the `top_k` most likely digits")
    uncertain: bool = Field(..., description="the model is not sure: the top probability is under its threshold")
    not_a_digit: bool = Field(..., description="the drawing looks like no digit at all")
    verdict: Literal["digit", "not sure", "not a digit"] = Field(
        ..., description='what to show: the digit, "not sure" of it, or "not a digit" (which wins over "not sure")'
    )
    message: str = Field(..., description='the verdict in the page\'s words, such as "97.3% sure"')


class RunnerUp(BaseModel):
    digit: int
    probability: float


class ExplanationOut(BaseModel):
    heatmap: list[list[float]] = Field(..., description="28x28, 0-1: how much each input pixel supports the answer")
    runner_up: RunnerUp = Field(..., description="the second most likely digit")
    method: str


class PredictionOut(ReadingOut):
    model: str
    model_version: str
    input: list[list[float]] | None = Field(None, description="the 28x28 model input, when asked")
    explanation: ExplanationOut | None = Field(None, description="why, when `explain` is true")
    elapsed_ms: float = Field(..., description="server time for this request")


class BatchOut(BaseModel):
    predictions: list[ReadingOut]
    model: str
    model_version: str
    elapsed_ms: float


class ReadDigitOut(ReadingOut):
    box: list[int] = Field(..., description="[x, y, width, height] of the digit in the drawing's pixels")


class LeftOutOut(BaseModel):
    box: list[int] = Field(..., description="[x, y, width, height] of the mark in the drawing's pixels")
    not_a_digit: bool = Field(True, description="why it is not in `text`: it reads as no digit")


class ReadOut(BaseModel):
    text: str = Field(..., description="the number read, left to right")
    digits: list[ReadDigitOut]
    left_out: list[LeftOutOut] = Field(
        default_factory=list, description="marks read as no digit (a stray dot, a dash), left out of `text`"
    )
    model: str
    model_version: str
    elapsed_ms: float


class ModelOut(BaseModel):
    name: str
    description: str
    accuracy: float | None = Field(None, description="accuracy measured on the 10,000 MNIST test images")
    parameters: int | None
    version: str
    default: bool


class HealthOut(BaseModel):
    status: str
    models: list[str]
    default_model: str
    version: str


class ErrorOut(BaseModel):
    detail: str = Field(..., description="what was wrong and what to change")
