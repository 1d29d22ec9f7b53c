"""The Reader: a drawing in, a reading out. Decoding (within one budget), preprocessing, the
model, calibration and the verdicts are composed here once; the web routes, the CLI, evaluation
and the benchmarks all read through it.

    from digitrec import Reader, Strokes
    reader = Reader("cnn")
    reading = reader.digit(Strokes([[(40, 30), (40, 250)]], width=280, height=280))
    reading.digit, reading.confidence, reading.verdict   # 1, 0.99..., "digit"
    reader.number(open("number.png", "rb").read()).text  # "2026"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from digitrec.errors import EmptyDrawingError, InputError, TooLargeError
from digitrec.reading.box import Box, shared_box
from digitrec.reading.decode import (
    BUDGET,
    Budget,
    decode_fast,
    decode_image,
    precheck,
    render_strokes,
    rendered_size,
)
from digitrec.reading.inference import DigitReading, Predictor
from digitrec.reading.numbers import NumberReading, number_budget, page_of, read_page
from digitrec.reading.preprocess import ink_image, preprocess


@dataclass(frozen=True)
class Strokes:
    """A drawing as the page sends it: strokes of (x, y) points in canvas pixels, y down, on a
    canvas of width x height, drawn with a round pen of `line_width` pixels (default: a
    sixteenth of the canvas's longer side)."""

    strokes: Sequence[Sequence[Sequence[float]]]
    width: int
    height: int
    line_width: float | None = None


# Image bytes (PNG, JPEG, WebP, BMP, GIF), a PIL image, or a pixel array (H, W) or (H, W, C).
Drawing = Union[Strokes, bytes, Image.Image, np.ndarray]  # noqa: UP007 (a runtime alias)
Picture = Union[Image.Image, np.ndarray]  # noqa: UP007


class Reader:
    """One model and one budget; `digit`, `digits` and `number` read drawings of any form."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        threads: int = 1,
        budget: Budget = BUDGET,
        predictor: Predictor | None = None,
        box: Box | None = None,
        boxed: bool = True,
    ) -> None:
        # A server loads each model once and hands it in; everyone else names one.
        self.predictor = predictor or Predictor(model, threads=threads)
        self.budget = budget
        # Image bytes are decoded in the box (this process's shared one unless given another);
        # `boxed=False` decodes them here, for trusted files only (a data set being built).
        self.box = box
        self.boxed = boxed

    @property
    def name(self) -> str:
        return self.predictor.name

    @property
    def version(self) -> str:
        return self.predictor.version

    def picture(self, drawing: Drawing) -> Picture:
        """The drawing as pixels, decoded or drawn within the budget."""
        if isinstance(drawing, Strokes):
            return render_strokes(
                drawing.strokes, drawing.width, drawing.height, drawing.line_width, budget=self.budget
            )
        if isinstance(drawing, bytes | bytearray | memoryview):
            return self.decode(bytes(drawing))
        if isinstance(drawing, Image.Image):
            size = drawing.width * drawing.height
        elif isinstance(drawing, np.ndarray):
            if drawing.ndim not in (2, 3) or drawing.size == 0:
                raise InputError(f"a pixel array must be (H, W) or (H, W, C), got shape {list(drawing.shape)}")
            size = drawing.shape[0] * drawing.shape[1]
        else:
            raise InputError(
                f"cannot read a {type(drawing).__name__}: send strokes, image bytes, a PIL image or pixels"
            )
        if size > self.budget.max_decoded_pixels:
            raise TooLargeError(f"the picture has {size:,} pixels; at most {self.budget.max_decoded_pixels:,} are read")
        return drawing

    def decode_here(self, data: bytes) -> np.ndarray | None:
        """A plain PNG decoded in this process, within the budget (its cost is bounded, see
        decode_fast); None for any other picture, which only `decode` reads (in the box)."""
        return decode_fast(data, self.budget.max_pixels, self.budget)

    def decode(self, data: bytes) -> Picture:
        """Image bytes as pixels: a plain PNG here (`decode_here`), any other picture in the box,
        after the cheap pre-checks."""
        fast = self.decode_here(data)
        if fast is not None:
            return fast
        precheck(data, self.budget)
        if not self.boxed:
            return decode_image(data, budget=self.budget)
        box = self.box or shared_box()
        return box.decode(data, self.budget.max_pixels, dataclasses.asdict(self.budget))

    def input(self, drawing: Drawing) -> np.ndarray:
        """The 28x28 float32 input the model sees of this drawing."""
        return model_input(self.picture(drawing))

    def inputs(self, drawings: Iterable[Drawing], max_pixels: int | None = None) -> Iterator[np.ndarray]:
        """Each drawing's input in turn (one picture in memory at a time), the pictures adding up
        to at most `max_pixels`; errors name the item."""
        drawings = list(drawings)
        if max_pixels is not None:
            check_canvases(drawings, max_pixels, self.budget)
        spent = 0
        for index, drawing in enumerate(drawings):
            try:
                picture = self.picture(drawing)
                spent += picture_size(picture)
                if max_pixels is not None and spent > max_pixels:
                    raise TooLargeError(f"the batch's images add up to more than {max_pixels:,} pixels")
                yield model_input(picture)
            except InputError as exc:
                raise type(exc)(f"item {index}: {exc}") from None

    def read_inputs(self, inputs: np.ndarray) -> list[DigitReading]:
        """Readings of inputs already made (N, 28, 28): for data sets kept as model inputs."""
        return self.predictor.read(inputs)

    def digit(self, drawing: Drawing) -> DigitReading:
        """Read one digit."""
        return self.predictor.read(self.input(drawing)[None])[0]

    def digits(self, drawings: Sequence[Drawing], max_pixels: int | None = None) -> list[DigitReading]:
        """Read many drawings, each a digit, in one batch."""
        model_inputs = list(self.inputs(drawings, max_pixels))
        return self.predictor.read(np.stack(model_inputs)) if model_inputs else []

    def number(self, drawing: Drawing) -> NumberReading:
        """Read a whole number: its digits left to right, with boxes in the drawing's own pixels."""
        picture = self.picture(drawing)
        if not isinstance(drawing, Strokes):
            page, _ = page_of(np.asarray(ink_image(picture)))
            return read_page(page, self.predictor)
        # Big canvases and tall lines are drawn scaled down (`number_budget`): strokes and pen go
        # to the picture's pixels, boxes come back to the drawing's.
        size = (drawing.width, drawing.height)
        budget = number_budget(drawing.strokes, size, drawing.line_width, self.budget)
        if budget != self.budget:
            picture = render_strokes(drawing.strokes, drawing.width, drawing.height, drawing.line_width, budget=budget)
        page, scale = page_of(np.asarray(ink_image(picture)), drawing.strokes, size, drawing.line_width, budget)
        return read_page(page, self.predictor).scaled(1 / scale)


def check_canvases(drawings: Sequence[Drawing], max_pixels: int, budget: Budget) -> None:
    """The pixels the strokes will be drawn on, added up before any is drawn: a batch of big
    canvases is refused at once, not after drawing its first few hundred megapixels."""
    total = 0
    for drawing in drawings:
        if isinstance(drawing, Strokes):
            columns, rows = rendered_size(drawing.width, drawing.height, budget)
            total += columns * rows
    if total > max_pixels:
        raise TooLargeError(f"the batch's canvases add up to {total:,} pixels, more than {max_pixels:,}")


def model_input(picture: Picture) -> np.ndarray:
    try:
        return preprocess(picture)
    except EmptyDrawingError:
        raise EmptyDrawingError("nothing drawn: draw a digit first") from None


def picture_size(picture: Picture) -> int:
    """Decoded pixels of a picture, for a batch's budget."""
    if isinstance(picture, Image.Image):
        return picture.width * picture.height
    return int(picture.shape[0] * picture.shape[1])
