"""Pure segmentation (no I/O, no model): a drawing of a whole number -> the pieces a digit can be
made of ("atoms"), left to right, and the ink of any run of them.

Segmentation does not decide here. It proposes: each connected component (or, when the drawing
came as strokes, each group of strokes written one after the other over the same columns) is an
atom, and a component wider than a digit is also cut at its ink valleys into column slices. The
number reader (`numbers.py`) lets the model judge runs of consecutive atoms and picks the best
partition. Everything works on bounding boxes and slices of one label image: never a full-size
mask per part, so the cost follows the ink, not the canvas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from digitrec.errors import EmptyDrawingError, InputError

# More separate marks than this is not a number anyone writes on one line (12 digits of 3
# strokes are 36); refusing before any work keeps a drawing of dots from costing seconds.
MAX_MARKS = 40
SPECK = 0.003  # of the largest mark's area: smaller components are noise, not marks
# A column whose ink is at most this share of the component's typical column ink may be a joint
# between two touching digits (a 0's middle columns hold two strokes, a joint about one).
VALLEY = 0.75
MAX_CUTS = 6  # cut candidates per component
# Consecutive strokes whose column ranges overlap by this share of the narrower one belong to
# one digit: the two strokes of a 4, the bar of a 5, the cross of a 7.
STROKE_OVERLAP = 0.5
STROKE_PART = 0.5  # the `cut` of parting a group's strokes: as a cut through half a stroke's ink

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (half-open) in the picture's pixels


@dataclass(frozen=True)
class Atom:
    box: Box
    mark: int  # which mark (component or stroke group) it belongs to
    label: int = 0  # its component in the label image (pixel road)
    columns: tuple[int, int] | None = None  # only these columns of the component (a valley slice)
    strokes: tuple[int, ...] = ()  # its strokes (stroke road)
    # A slice whose left edge is a valley cut: the ink there, against the component's typical column.
    cut: float | None = None
    whole: bool = True  # the whole of its mark (a mark in parts may only be left out whole)

    @property
    def centre(self) -> float:
        return (self.box[0] + self.box[2]) / 2


@dataclass
class Page:
    """The ink of a drawing and the atoms found in it, left to right."""

    ink: np.ndarray  # uint8 (H, W), 0 background, the picture's `ink_image`
    atoms: list[Atom]
    line_height: float  # a typical digit's height in this drawing
    labels: np.ndarray | None = None  # int32 label image (pixel road)
    strokes: list[np.ndarray] = field(default_factory=list)  # (n, 2) in picture pixels (stroke road)
    pen: float = 0.0  # pen width in picture pixels (stroke road)

    def crop(self, atoms: Sequence[Atom]) -> tuple[Box, np.ndarray]:
        """The union box of `atoms` and the ink in it that belongs to them (uint8)."""
        box = union(a.box for a in atoms)
        mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=bool)
        for atom in atoms:
            self._paint(atom, box, mask)
        window = self.ink[box[1] : box[3], box[0] : box[2]]
        return box, np.where(mask, window, 0).astype(np.uint8)

    def _paint(self, atom: Atom, box: Box, mask: np.ndarray) -> None:
        x0, y0, x1, y1 = atom.box
        region = mask[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]]
        if atom.strokes:
            region |= self._stroke_mask(atom) & (self.ink[y0:y1, x0:x1] > 0)
            return
        assert self.labels is not None
        region |= self.labels[y0:y1, x0:x1] == atom.label

    def _stroke_mask(self, atom: Atom) -> np.ndarray:
        """The pixels within the pen (and a pixel more) of the atom's strokes, in its box."""
        x0, y0, x1, y1 = atom.box
        picture = Image.new("1", (x1 - x0, y1 - y0), 0)
        draw = ImageDraw.Draw(picture)
        radius = self.pen / 2 + 1.5
        for index in atom.strokes:
            points = [(float(x) - x0, float(y) - y0) for x, y in self.strokes[index]]
            if len(points) > 1:
                draw.line(points, fill=1, width=max(1, round(2 * radius)))
            for x, y in points:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=1)
        return np.asarray(picture, dtype=bool)


def union(boxes: Iterable[Box]) -> Box:
    listed = list(boxes)
    return (
        min(b[0] for b in listed),
        min(b[1] for b in listed),
        max(b[2] for b in listed),
        max(b[3] for b in listed),
    )


def _too_many(count: int) -> InputError:
    return InputError(
        f"{count} separate marks; at most {MAX_MARKS} are read as one number: write fewer, or send them separately"
    )


def typical_height(heights: Sequence[float]) -> float:
    """The height of a digit on this line: the median of the marks at least half as tall as the
    tallest, so a stray dot, a 5's bar or the halves of a broken stroke do not pull it down."""
    tallest = max(heights)
    return float(np.median([h for h in heights if h >= 0.5 * tallest]))


def components(ink: np.ndarray) -> Page:
    """Pixel road: the connected components of the ink (8-connected), specks dropped, each
    component an atom, wide ones also cut at their valleys."""
    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        raise EmptyDrawingError("nothing drawn: the image has no ink on it")
    if count > 20 * MAX_MARKS:  # specks or not, this is not a number; do not even measure them
        raise _too_many(count)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    kept = np.flatnonzero(areas >= SPECK * areas.max()) + 1
    if len(kept) > MAX_MARKS:
        raise _too_many(len(kept))
    slices = ndimage.find_objects(labels)
    boxes = [_box(slices[index - 1]) for index in kept]
    height = typical_height([b[3] - b[1] for b in boxes])
    atoms: list[Atom] = []
    for mark, (index, box) in enumerate(zip(kept, boxes, strict=True)):
        atoms += _slices(labels, int(index), box, mark, height)
    atoms.sort(key=lambda a: a.centre)
    return Page(ink, atoms, height, labels=labels)


def _box(window: tuple[slice, slice]) -> Box:
    rows, cols = window
    return (int(cols.start), int(rows.start), int(cols.stop), int(rows.stop))


def _slices(labels: np.ndarray, index: int, box: Box, mark: int, height: float) -> list[Atom]:
    """The component as one atom, or, when wider than a digit, as column slices between its
    valley cuts (the reader may join them again: a run of all the slices is the component)."""
    x0, y0, x1, y1 = box
    whole = Atom(box, mark, label=index)
    if x1 - x0 <= 0.8 * height:
        return [whole]
    mask = labels[y0:y1, x0:x1] == index
    profile = mask.sum(axis=0)
    cuts = valley_cuts(profile, height)
    if not cuts:
        return [whole]
    typical = float(np.median(profile[profile > 0]))
    atoms = []
    for start, stop in zip([0, *cuts], [*cuts, x1 - x0], strict=True):
        rows = np.flatnonzero(mask[:, start:stop].any(axis=1))
        if rows.size:
            piece = (x0 + start, y0 + int(rows[0]), x0 + stop, y0 + int(rows[-1]) + 1)
            # A cut through ink costs more the more ink it goes through; the first slice has none.
            depth = float(profile[start]) / typical if start else None
            atoms.append(Atom(piece, mark, label=index, columns=(x0 + start, x0 + stop), cut=depth, whole=False))
    return atoms


def valley_cuts(profile: np.ndarray, height: float) -> list[int]:
    """Columns where a wide component may be two digits touching: local minima of its column
    ink, low against its typical column, not within a sliver of its ends, spaced apart."""
    width = len(profile)
    typical = float(np.median(profile[profile > 0]))
    margin = max(1, int(0.15 * height))
    window = max(1, int(0.12 * height))
    padded = np.pad(profile.astype(float), window, constant_values=np.inf)
    lowest = ndimage.minimum_filter1d(padded, 2 * window + 1)[window:-window]
    candidates = [
        c for c in range(margin, width - margin) if profile[c] <= VALLEY * typical and profile[c] <= lowest[c]
    ]
    chosen: list[int] = []
    for column in sorted(candidates, key=lambda c: (profile[c], c)):
        if len(chosen) < MAX_CUTS and all(abs(column - other) >= 0.25 * height for other in chosen):
            chosen.append(column)
    return sorted(chosen)


def stroke_groups(strokes: Sequence[np.ndarray], pen: float) -> list[list[int]]:
    """Strokes in writing order, joined while each overlaps the group's columns strongly and
    lies within its rows: a pen lift inside a digit comes back over the same place, the next
    digit starts to the right, and a tap below the number is no part of a digit."""
    groups: list[list[int]] = []
    span = np.zeros(4)
    for index, stroke in enumerate(strokes):
        here = np.concatenate([stroke.min(axis=0) - pen / 2, stroke.max(axis=0) + pen / 2])
        if groups and _belongs(here, span, pen):
            groups[-1].append(index)
            span = np.concatenate([np.minimum(here[:2], span[:2]), np.maximum(here[2:], span[2:])])
            continue
        groups.append([index])
        span = here
    return groups


def _belongs(stroke: np.ndarray, group: np.ndarray, pen: float) -> bool:
    """`stroke` and `group` are [x0, y0, x1, y1] boxes, pen included."""
    overlap = min(stroke[2], group[2]) - max(stroke[0], group[0])
    narrower = min(stroke[2] - stroke[0], group[2] - group[0])
    rows_apart = max(0.0, stroke[1] - group[3], group[1] - stroke[3])
    taller = max(stroke[3] - stroke[1], group[3] - group[1])
    return overlap >= STROKE_OVERLAP * narrower and rows_apart <= 0.1 * taller + pen / 2


def from_strokes(ink: np.ndarray, strokes: Sequence[np.ndarray], pen: float) -> Page:
    """Stroke road: `strokes` in the picture's pixels (already scaled as the picture was drawn).
    Each stroke is an atom; the groups pen order makes (`stroke_groups`) are the marks, so that
    the reader joins a group's strokes for free and pays to part them (two digits written
    touching, or a digit begun over the last one's columns, are still told apart)."""
    drawn = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    if not drawn:
        raise EmptyDrawingError("nothing drawn: `strokes` holds no points")
    groups = stroke_groups(drawn, pen)
    if len(drawn) > MAX_MARKS:
        raise _too_many(len(drawn))
    atoms: list[Atom] = []
    for mark, group in enumerate(groups):
        made = [_stroke_atom(ink, drawn, index, mark, pen) for index in group]
        parts = sorted((a for a in made if a is not None), key=lambda a: a.centre)
        for order, atom in enumerate(parts):
            atoms.append(replace(atom, cut=None if order == 0 else STROKE_PART, whole=len(parts) == 1))
    if not atoms:
        raise EmptyDrawingError("nothing drawn: the strokes leave no ink on the canvas")
    atoms.sort(key=lambda a: a.centre)
    return Page(
        ink, atoms, typical_height([_mark_height(atoms, m) for m in {a.mark for a in atoms}]), strokes=drawn, pen=pen
    )


def _mark_height(atoms: list[Atom], mark: int) -> int:
    box = union(a.box for a in atoms if a.mark == mark)
    return box[3] - box[1]


def _stroke_atom(ink: np.ndarray, strokes: list[np.ndarray], index: int, mark: int, pen: float) -> Atom | None:
    rows, cols = ink.shape
    reach = pen / 2 + 2
    low, high = strokes[index].min(axis=0) - reach, strokes[index].max(axis=0) + reach
    box = (
        max(0, int(np.floor(low[0]))),
        max(0, int(np.floor(low[1]))),
        min(cols, int(np.ceil(high[0])) + 1),
        min(rows, int(np.ceil(high[1])) + 1),
    )
    if box[2] <= box[0] or box[3] <= box[1] or not ink[box[1] : box[3], box[0] : box[2]].any():
        return None
    return _tight(ink, Atom(box, mark, strokes=(index,)), strokes, pen)


def _tight(ink: np.ndarray, atom: Atom, strokes: list[np.ndarray], pen: float) -> Atom:
    """The atom's box shrunk to its own ink, so heights and boxes are the ink's, not the pen's reach."""
    page = Page(ink, [atom], 1.0, strokes=strokes, pen=pen)
    _, crop = page.crop([atom])
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    if rows.size == 0:
        return atom
    x0, y0 = atom.box[0], atom.box[1]
    box = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
    return Atom(box, atom.mark, strokes=atom.strokes)
