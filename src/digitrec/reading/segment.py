"""Pure segmentation (no I/O, no model): a drawing of a whole number -> the pieces a digit can be
made of ("atoms"), left to right, and the ink of any run of them.

Segmentation does not decide here. It proposes: each connected component (or, when the drawing
came as strokes, each group of strokes written one after the other over the same columns) is an
atom, and a component wider than a digit is also cut where it parts with little ink. A cut is no
straight column: it is the path from the component's top to its bottom that severs the least ink
near where it was started (`cut_paths`), so that where two touching digits overlap in columns
(a 7's bar over a 4) each side keeps its own strokes. The number reader (`numbers.py`) lets the
model judge runs of consecutive atoms and picks the best partition. Everything works on bounding
boxes of one label image and, for a slice, its columns row by row within its own box: never a
full-size mask per part, so the cost follows the ink, not the canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.spatial import cKDTree

from digitrec.errors import EmptyDrawingError, InputError
from digitrec.reading.decode import draw_strokes
from digitrec.reading.geometry import Box, marks, union

# More separate marks than this is not a number anyone writes on one line (12 digits of 3
# strokes are 36); refusing before any work keeps a drawing of dots from costing seconds.
MAX_MARKS = 40
SPECK = 0.003  # of the largest mark's area: smaller components are noise, not marks
MAX_CUTS = 6  # cut candidates per component
CUT_WIDER = 0.6  # of the line height: a component at least this wide may be digits touching (a 1 and a 3 are)
# Components cut per drawing, the widest first: looking for cuts costs about 10 ms a component,
# and a drawing of 38 wide zigzags cost 114 ms with 12, 43-56 with 4, 39 with 3 (worst case). A
# number rarely has more than a few touching pairs (the held-out numbers read the same with 3).
CUT_MARKS = 3
# A cut is a path from the top of a component to its bottom; its price is the ink bonds it
# severs (pairs of touching ink pixels it parts). Straying from the column it was started from
# costs ANCHOR per row and line height of distance, so that a path goes round the end of a stroke
# in its way (a few rows) rather than through it, but does not wander off to part some thin
# stroke far away; moving sideways costs a little per column, for tidy paths. Measured on the
# training writers' touching pairs: 1 strays too far, 8 is nearly a straight cut.
ANCHOR = 3.0
SIDEWAYS = 0.02
CUT_FROM = 0.05  # of the line height: paths are started this far apart, at most CUT_STARTS of them
CUT_STARTS = 24
# A cut that parts at most this share of the component's typical column ink may be a joint
# between two touching digits (a 0's middle columns hold two strokes, a joint about one).
VALLEY = 0.75
# Each side of a cut holds at least this share of the component's ink (a 1 beside a 0 holds about
# a fifth) and spans this share of the line's height: a digit does, the curl at the end of a 0's
# stroke does not (cut off, it was read as a 1).
CUT_SIDE = 0.15
CUT_SIDE_TALL = 0.7
CUT_APART = 0.25  # of the line height: cuts chosen (cheapest first) lie this far apart
# A component bigger than this is cut on a coarser grid, so that a cut's work and memory stay
# bounded whatever the picture (a digit's cut is as good at 160 rows as at more).
CUT_ROWS = 160
CUT_PIXELS = 160 * 640
# Consecutive strokes whose column ranges overlap by this share of the narrower one belong to
# one digit: the two strokes of a 4, the bar of a 5, the cross of a 7.
STROKE_OVERLAP = 0.5
STROKE_PART = 0.5  # the `cut` of parting a group's strokes: as a cut through half a stroke's ink
# On the stroke road a pen thicker than REDRAW_ABOVE of the line's height fills a 6's loop and an
# 8's holes, and a neighbour's ink runs into a digit: such a number's digits are read from their
# strokes drawn anew with a pen of STROKE_PEN of the height, MNIST's own (its strokes are
# 0.1-0.15 of a digit's height). Below it the model reads the page's ink, as `predict` reads one
# digit. On the training writers' numbers (never the held-out ones) it read 79.0% -> 87.0% of 300
# exactly. Redrawing above 0.12 read 88.3%, but would part the number road from `predict` for
# pens within a person's range; above 0.25, 84.0%. Drawn at 0.18, holes fill again (77.7%).
REDRAW_ABOVE = 0.2
STROKE_PEN = 0.12
# A pen lifted inside a digit comes down again near where it left: the next stroke written comes
# within about this many pen widths of the last (a 4's stem beside its bar, a 5's bar above its
# body; about: the centre lines are compared as points a quarter of the reach apart or more).
# Joining two such strokes into one digit costs the reader nothing (`numbers.join_penalty`), so
# the model's reading decides between a lifted 4 and "61". On 400 numbers of the training writers
# (never the held-out ones), two samples: 87.5% -> 89.5% and 88.5% -> 90.75% exactly (2 pens:
# 89.5% and 90.75%; 4: 89.5% and 91.0%). That generator lifts a stroke 1-2.5 pen widths, so a
# reach in pen widths suits it by construction; how far real writers' lifts go is not measured.
LIFT_REACH = 3.0
# And within this share of the line's height, whatever the pen: with a felt pen, 3 pen widths
# would reach the next digit (a pen of 0.35 of the height, the most `digitrec evaluate --dataset
# numbers` draws, reaches 1.05 of it). 0.2-0.4 read the same numbers as no cap on both samples.
LIFT_AT_MOST = 0.3
LIFT_POINTS = 20_000


@dataclass(frozen=True)
class Atom:
    box: Box
    mark: int  # which mark (component or stroke group) it belongs to
    label: int = 0  # its component in the label image (pixel road)
    # Only part of the component (a slice between cut paths): per row of `box`, the columns
    # [from, to) that are its own, in picture pixels. Within its own box, so its size is the atom's.
    span: np.ndarray | None = field(default=None, compare=False, repr=False)
    strokes: tuple[int, ...] = ()  # its strokes (stroke road)
    # A slice whose left edge is a cut: the ink it parts, against the component's typical column.
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
    # Stroke road: (i, i + 1) for each stroke that the next one written comes within LIFT_REACH
    # pens (at most LIFT_AT_MOST of the line) of, as a pen lifted inside one digit does.
    lifts: frozenset[tuple[int, int]] = frozenset()

    def crop(self, atoms: Sequence[Atom]) -> tuple[Box, np.ndarray]:
        """The union box of `atoms` and the ink in it that belongs to them (uint8)."""
        box = union(a.box for a in atoms)
        mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=bool)
        for atom in atoms:
            self._paint(atom, box, mask)
        window = self.ink[box[1] : box[3], box[0] : box[2]]
        return box, np.where(mask, window, 0).astype(np.uint8)

    def digit_ink(self, atoms: Sequence[Atom]) -> tuple[Box, np.ndarray]:
        """What the model reads for `atoms` as one digit: the ink of `crop`, or on the stroke
        road with a pen over REDRAW_ABOVE of the line height, their strokes drawn anew with a pen
        of STROKE_PEN of it (a pixel at least: Pillow may paint nothing for a smaller dot)."""
        if not self.strokes or self.pen <= REDRAW_ABOVE * self.line_height:
            return self.crop(atoms)
        pen = max(1.0, STROKE_PEN * self.line_height)
        box = union(a.box for a in atoms)
        x0, y0, x1, y1 = box
        picture = Image.new("L", (x1 - x0, y1 - y0), 0)
        for atom in atoms:
            draw_strokes(picture, [self.strokes[i] - (x0, y0) for i in atom.strokes], pen / 2, 255)
        drawn = np.asarray(picture, dtype=np.uint8)
        return (box, drawn) if drawn.any() else self.crop(atoms)

    def _paint(self, atom: Atom, box: Box, mask: np.ndarray) -> None:
        x0, y0, x1, y1 = atom.box
        region = mask[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]]
        if atom.strokes:
            region |= self._stroke_mask(atom) & (self.ink[y0:y1, x0:x1] > 0)
            return
        assert self.labels is not None
        own = self.labels[y0:y1, x0:x1] == atom.label
        if atom.span is not None:
            columns = np.arange(x0, x1)
            own &= (columns >= atom.span[:, :1]) & (columns < atom.span[:, 1:])
        region |= own

    def _stroke_mask(self, atom: Atom) -> np.ndarray:
        """The pixels within the pen (and a pixel more) of the atom's strokes, in its box."""
        x0, y0, x1, y1 = atom.box
        picture = Image.new("1", (x1 - x0, y1 - y0), 0)
        draw_strokes(picture, [self.strokes[i] - (x0, y0) for i in atom.strokes], self.pen / 2 + 1.5, 1)
        return np.asarray(picture, dtype=bool)


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
    component an atom, wide ones also cut where they part with little ink."""
    labels, count = marks(ink > 0)
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
    # Only the CUT_MARKS widest components are cut: each cut costs milliseconds, and more wide
    # marks than that are more digits than a line holds (the rest are still read, whole).
    widest = set(sorted(range(len(boxes)), key=lambda m: boxes[m][0] - boxes[m][2])[:CUT_MARKS])
    atoms: list[Atom] = []
    for mark, (index, box) in enumerate(zip(kept, boxes, strict=True)):
        atoms += (
            _slices(labels, int(index), box, mark, height) if mark in widest else [Atom(box, mark, label=int(index))]
        )
    atoms.sort(key=lambda a: a.centre)
    return Page(ink, atoms, height, labels=labels)


def _box(window: tuple[slice, slice]) -> Box:
    rows, cols = window
    return (int(cols.start), int(rows.start), int(cols.stop), int(rows.stop))


def _slices(labels: np.ndarray, index: int, box: Box, mark: int, height: float) -> list[Atom]:
    """The component as one atom, or, when wider than a digit, as the slices between its cut
    paths (the reader may join them again: a run of all the slices is the component)."""
    x0, y0, x1, y1 = box
    whole = Atom(box, mark, label=index)
    if x1 - x0 <= CUT_WIDER * height:
        return [whole]
    mask = labels[y0:y1, x0:x1] == index
    profile = mask.sum(axis=0)
    typical = float(np.median(profile[profile > 0]))
    paths = cut_candidates(mask, height, typical)
    if not len(paths):
        return [whole]
    rows, width = mask.shape
    # Each path right of (or on) the one before, so that the slices between them part the ink.
    paths = np.maximum.accumulate(paths, axis=0)
    edges = [np.zeros(rows, dtype=np.int64), *paths, np.full(rows, width, dtype=np.int64)]
    columns = np.arange(width)
    atoms = []
    for order, (left, right) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        own = mask & (columns >= left[:, None]) & (columns < right[:, None])
        inked_rows, inked_columns = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
        if not inked_rows.size:
            continue
        top, bottom = int(inked_rows[0]), int(inked_rows[-1]) + 1
        piece = (x0 + int(inked_columns[0]), y0 + top, x0 + int(inked_columns[-1]) + 1, y0 + bottom)
        span = np.stack([left, right], axis=1)[top:bottom] + x0
        # A cut through ink costs more the more ink it parts; the first slice has no cut.
        depth = float(severed(mask, left[None])[0]) / typical if order else None
        atoms.append(Atom(piece, mark, label=index, span=span, cut=depth, whole=False))
    return atoms


def cut_candidates(mask: np.ndarray, height: float, typical: float) -> np.ndarray:
    """Where a wide component may be two digits touching: of the least-ink paths started every
    CUT_FROM of the line across it, those that part little ink (VALLEY) and leave a digit's worth
    on both sides, cheapest first and CUT_APART apart; (cuts, rows), left to right. Started from
    every column, not only from the valleys of the column ink, because digits that lean over each
    other leave no valley there."""
    rows, width = mask.shape
    spacing = max(1.0, CUT_FROM * height, width / CUT_STARTS)
    starts = sorted({int(c) for c in np.arange(spacing / 2, width, spacing)})
    paths = cut_paths(mask, starts, height)
    costs = severed(mask, paths)
    # Ink left of each path, row by row, from the rows' running sums (no mask per path).
    running = np.concatenate([np.zeros((rows, 1), dtype=np.int64), np.cumsum(mask, axis=1)], axis=1)
    left = running[np.arange(rows), paths]
    right = running[:, -1] - left
    total = int(running[:, -1].sum())
    fit = (costs <= VALLEY * typical) & _digit_sized(left, total, height) & _digit_sized(right, total, height)
    chosen: list[int] = []
    centres = paths.mean(axis=1)
    for index in sorted(np.flatnonzero(fit), key=lambda i: (costs[i], centres[i])):
        if len(chosen) < MAX_CUTS and all(
            abs(centres[index] - centres[other]) >= CUT_APART * height for other in chosen
        ):
            chosen.append(int(index))
    return paths[sorted(chosen, key=lambda i: centres[i])].reshape(len(chosen), rows)


def _digit_sized(ink: np.ndarray, total: int, height: float) -> np.ndarray:
    """For each row of `ink` (a side's ink per row of the component): enough of the ink, tall enough."""
    inked = ink > 0
    rows = inked.shape[1]
    tall = rows - inked[:, ::-1].argmax(axis=1) - inked.argmax(axis=1)
    return np.asarray((ink.sum(axis=1) >= CUT_SIDE * total) & inked.any(axis=1) & (tall >= CUT_SIDE_TALL * height))


def severed(mask: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """Ink bonds each cut parts: `paths[k, y]` is the first column right of cut k in row y, so a
    row's bond across it, and between rows the column bonds under its sideways run."""
    rows, width = mask.shape
    across = np.zeros((rows, width + 1), dtype=np.int64)
    across[:, 1:width] = mask[:, :-1] & mask[:, 1:]
    down = np.concatenate([np.zeros((rows - 1, 1), dtype=np.int64), np.cumsum(mask[:-1] & mask[1:], axis=1)], axis=1)
    steps = np.arange(rows - 1)
    sideways = np.abs(down[steps, paths[:, 1:]] - down[steps, paths[:, :-1]]).sum(axis=1)
    return np.asarray(across[np.arange(rows), paths].sum(axis=1) + sideways, dtype=np.float64)


def cut_paths(mask: np.ndarray, cuts: Sequence[int], height: float) -> np.ndarray:
    """For each column in `cuts`, the cut from the top of the component's box to its bottom
    that parts the fewest ink bonds, near that column (`ANCHOR`): (len(cuts), rows), the first
    column right of the cut in each row. A path moves sideways between rows as it likes,
    so it can run through the background between overlapping digits. Tall components are cut on
    a grid of blocks, so the work is at most CUT_ROWS rows of CUT_PIXELS in all."""
    rows, width = mask.shape
    step = 1
    while -(-rows // step) > CUT_ROWS or -(-rows // step) * -(-width // step) > CUT_PIXELS:
        step += 1
    if step > 1:  # a block is ink if any of its pixels is
        padded = np.zeros((-(-rows // step) * step, -(-width // step) * step), dtype=bool)
        padded[:rows, :width] = mask
        coarse = np.asarray(padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3)))
        paths = _least_cuts(coarse, [c // step for c in cuts], height / step)
        return np.minimum(np.repeat(paths * step, step, axis=1)[:, :rows], width)
    return _least_cuts(mask, list(cuts), height)


def _least_cuts(mask: np.ndarray, cuts: list[int], height: float) -> np.ndarray:
    """Dynamic programme down the rows, all cuts at once: best[k, t] is the least cost of cut k
    so far with row y parted before column t (t in 0..width)."""
    rows, width = mask.shape
    positions = np.arange(width + 1)
    # float32 throughout: the loop below is the cost of cutting, and halves with the bytes.
    across = np.zeros((rows, width + 1), dtype=np.float32)
    across[:, 1:width] = mask[:, :-1] & mask[:, 1:]
    distance = np.abs(positions[None, :] - np.asarray(cuts)[:, None])  # (cuts, width + 1)
    stray = (ANCHOR / height * distance).astype(np.float32)
    # under[y, t]: the price of running sideways from column 0 to t between rows y and y + 1.
    bonds = (mask[:-1] & mask[1:]) + np.float32(SIDEWAYS)
    under = np.concatenate([np.zeros((rows - 1, 1), dtype=np.float32), np.cumsum(bonds, axis=1)], axis=1)
    best = np.empty((rows, len(cuts), width + 1), dtype=np.float32)
    best[0] = across[0] + stray
    for y in range(rows - 1):
        price = under[y]
        rightwards = np.minimum.accumulate(best[y] - price, axis=1) + price
        leftwards = np.minimum.accumulate((best[y] + price)[:, ::-1], axis=1)[:, ::-1] - price
        best[y + 1] = np.minimum(rightwards, leftwards) + across[y + 1] + stray
    paths = np.empty((len(cuts), rows), dtype=np.int64)
    paths[:, -1] = best[-1].argmin(axis=1)
    for y in range(rows - 2, -1, -1):
        price = under[y]
        moves = np.abs(price[None, :] - price[paths[:, y + 1]][:, None])
        paths[:, y] = (best[y] + moves).argmin(axis=1)
    return paths


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
    if len(drawn) > MAX_MARKS:
        raise _too_many(len(drawn))
    groups = stroke_groups(drawn, pen)
    atoms: list[Atom] = []
    for mark, group in enumerate(groups):
        made = [_stroke_atom(ink, drawn, index, mark, pen) for index in group]
        parts = sorted((a for a in made if a is not None), key=lambda a: a.centre)
        for order, atom in enumerate(parts):
            atoms.append(replace(atom, cut=None if order == 0 else STROKE_PART, whole=len(parts) == 1))
    if not atoms:
        raise EmptyDrawingError("nothing drawn: the strokes leave no ink on the canvas")
    atoms.sort(key=lambda a: a.centre)
    height = typical_height([_mark_height(atoms, m) for m in {a.mark for a in atoms}])
    reach = min(LIFT_REACH * pen, LIFT_AT_MOST * height)
    return Page(ink, atoms, height, strokes=drawn, pen=pen, lifts=pen_lifts(drawn, reach))


def line_height_of(strokes: Sequence[np.ndarray], pen: float, size: tuple[float, float]) -> float:
    """A typical digit's height from the strokes alone, before any drawing: the marks that
    `stroke_groups` makes, each as tall as its points (within the canvas of `size`, where the ink
    is) and a pen (`from_strokes` measures them in the ink, within a pixel or two of this). 0.0
    for no points."""
    width, height = size
    drawn = [np.clip(stroke, 0, [width, height]) for stroke in strokes if len(stroke)]
    if not drawn:
        return 0.0
    heights = []
    for group in stroke_groups(drawn, pen):
        rows = np.concatenate([drawn[index][:, 1] for index in group])
        heights.append(float(rows.max() - rows.min()) + pen)
    return typical_height(heights)


def pen_lifts(strokes: Sequence[np.ndarray], reach: float) -> frozenset[tuple[int, int]]:
    """(i, i + 1) for each stroke i whose next stroke's centre line comes within `reach` of its own."""
    if reach <= 0:
        return frozenset()
    # Points a quarter of the reach apart: a pixel at least, and no more than LIFT_POINTS in all,
    # so that 40 long scribbles cost what a number does (40 zigzags across a 1024 canvas, 164,000
    # px of line: 11 ms instead of 70).
    length = sum(float(np.hypot(*np.diff(stroke, axis=0).T).sum()) for stroke in strokes)
    step = max(reach / 4, 1.0, length / LIFT_POINTS)

    lines: dict[int, np.ndarray] = {}  # each stroke's centre line, made once, when first needed

    def line(index: int) -> np.ndarray:
        if index not in lines:
            lines[index] = dense_points([strokes[index]], step)
        return lines[index]

    def near(index: int) -> bool:
        first, second = strokes[index], strokes[index + 1]
        apart = np.maximum(first.min(axis=0) - second.max(axis=0), second.min(axis=0) - first.max(axis=0))
        if (apart > reach).any():  # boxes further apart: no need to look closer
            return False
        distances, _ = cKDTree(line(index)).query(line(index + 1), distance_upper_bound=reach)
        return bool(np.isfinite(distances).any())

    return frozenset((index, index + 1) for index in range(len(strokes) - 1) if near(index))


def dense_points(strokes: Sequence[np.ndarray], step: float) -> np.ndarray:
    """The strokes' centre lines as points at most `step` apart (for contact distances)."""
    out = []
    for stroke in strokes:
        starts, moves = stroke[:-1], stroke[1:] - stroke[:-1]
        counts = np.maximum(1, np.ceil(np.hypot(*moves.T) / step)).astype(np.int64)
        segment = np.repeat(np.arange(len(moves)), counts)
        # The k-th of a segment's n points lies k * (1 / n) of the way along it (k = 1..n), the
        # last at its end exactly: np.linspace's arithmetic, so the points are the same to the bit.
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        share = within * (1.0 / counts[segment])
        share[within == counts[segment]] = 1.0
        out += [stroke[:1], starts[segment] + moves[segment] * share[:, None]]
    return np.concatenate(out)


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
