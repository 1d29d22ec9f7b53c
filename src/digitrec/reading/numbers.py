"""Reading a whole number: recognition decides the segmentation.

`segment.py` proposes atoms (components, stroke groups, valley slices), left to right. Every run
of up to MAX_RUN consecutive atoms that could be one digit is a hypothesis; all of them go to the
model in one batch; a dynamic programme over the atoms then picks the partition whose digits the
model believes most, with penalties for shapes no digit has (far wider than tall, much shorter
than the line) and the option of leaving a mark out as "not a digit". On a picture, the widest
marks, and runs of their slices, are also read by the model's pair reader (`pairs.py`) as two
touching digits, candidates the programme weighs like any other. This is the classic numeral-string reader's
"segmentation by recognition": over-segment, then let the classifiers choose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from digitrec.errors import InputError
from digitrec.reading.decode import BUDGET, Budget, default_pen, stroke_scale
from digitrec.reading.geometry import Box, union
from digitrec.reading.inference import DigitReading, Predictor
from digitrec.reading.pairs import NOT_A_PAIR, pair_digits, pair_input
from digitrec.reading.preprocess import preprocess_ink
from digitrec.reading.segment import (
    CUT_MARKS,
    CUT_WIDER,
    MAX_MARKS,
    Atom,
    Page,
    components,
    from_strokes,
    line_height_of,
)

# A number's line is read at most this many pixels tall, drawn smaller if it is taller: the model
# reads each digit reduced to 80 px and then 20 (`preprocess`), the cuts at 160 rows
# (`segment.CUT_ROWS`), and the reader's pixel work grows with the area. 40 strokes zigzagging
# across a 1024 canvas, each a mark the page's height, cost 221-260 ms of CPU read at full size,
# 76 ms so (65 at 160 px). 320 is over a digit filling the page's 280-px pad and over 198 of the
# 200 lines of `digitrec evaluate --dataset numbers`, so those read exactly as before (all 200 read
# the same).
LINE_MAX = 320
MAX_RUN = 4  # atoms one digit may be made of (a 4 of two strokes cut at a valley: four slices)
# Model inputs per reading (each about 1 ms of CPU with its preprocessing), so that reading the
# longest accepted number costs a bounded time. 12 digits in 2-3 pieces each fit.
MAX_HYPOTHESES = 48
MAX_WIDTH = 1.8  # of the line height: a run wider than this is never one digit
MAX_GAP = 0.5  # of the line height: parts of one digit further apart than this are not joined
FLOOR = 1e-6
# In nats (the units of log-probabilities). Chosen on training writers' numbers (never the
# held-out ones the benchmark measures on).
WIDE = 5.0  # per line height of width beyond WIDE_FROM
WIDE_FROM = 1.0
SHORT = 8.0  # per line height of height below SHORT_FROM
SHORT_FROM = 0.55
DIGIT_BONUS = 0.5  # each digit read: against the sum of log-probabilities' taste for fewer digits
# Cutting a component: every fragment looks like some digit to a ten-class model, so a cut must
# pay for itself, and more the more ink it goes through.
CUT = 1.0
CUT_INK = 1.0
# Joining separate marks into one digit: the parts of a digit overlap in columns or nearly touch;
# two tall marks side by side are two digits (two 1s are not a 4).
JOIN_GAP = 8.0  # per line height of gap
JOIN_TALL = 3.0  # two marks both taller than TALL, by the share of the narrower not overlapped
TALL = 0.6
SKIP_SMALL = 1.5  # leaving out a mark that is tiny against the line
SKIP_SIZE = 12.0  # per line height of size beyond SKIP_FROM, for leaving out a bigger mark
SKIP_FROM = 0.3
# A wide mark may also be read whole as two touching digits by the pair reader (pairs.py), on
# the pixel road: the CUT_MARKS widest marks at most (one model input each). PAIR_BONUS is in
# nats, on top of the two digits' DIGIT_BONUS. Chosen with a pair reader trained without 4 of the
# training writers, on their numbers (never the held-out writers'): with a touching pair, 0.762
# without pairs, 0.950 at -0.5 and 0, 0.963 at +1; without one (150 of 2-6 digits), 0.987 without
# pairs and at -0.5, 0.980 at 0 and 0.973 at +1 (a wide 4 read "44").
PAIR_BONUS = -0.5
# Pair readings per drawing (one model input each): the CUT_MARKS widest marks, then runs of a
# mark's slices up to PAIR_WIDEST of the line wide. Reading the slices in pairs too: on 600 numbers
# as pictures of the training writers (never the held-out ones), 69.5% -> 73.3% read exactly;
# 5 pairs at most read 72.8%, 24 73.3%.
MAX_PAIRS = 12
PAIR_WIDEST = 2 * MAX_WIDTH


@dataclass
class Hypothesis:
    start: int  # first atom
    stop: int  # one past the last atom
    box: Box
    ink: np.ndarray  # uint8 crop: the digit alone


@dataclass
class PairHypothesis:
    start: int
    stop: int
    box: Box
    probabilities: np.ndarray  # (101,): "00"-"99", then "not a pair"
    ink: np.ndarray | None = field(default=None, repr=False, compare=False)  # uint8 crop of the whole mark


@dataclass
class Digit:
    reading: DigitReading
    box: Box
    # Its ink alone (uint8, 0 background), in the pixels the drawing was read in (a big canvas is
    # read scaled down, and `box` then differs): what a correction of this digit stores. On the
    # stroke road with a thick pen, its strokes redrawn with a thinner one (`Page.digit_ink`):
    # what the model read.
    ink: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def input(self) -> np.ndarray:
        """The 28x28 model input of this digit alone (for a touching pair, of its half)."""
        if self.ink is None:
            raise InputError("this digit was read without its ink")
        return preprocess_ink(self.ink)


@dataclass
class NumberReading:
    digits: list[Digit]  # what `text` is made of, left to right
    left_out: list[Digit]  # marks read as no digit, left out of `text`

    @property
    def text(self) -> str:
        return "".join(str(d.reading.digit) for d in self.digits)

    def scaled(self, factor: float) -> NumberReading:
        """The same reading with its boxes in pixels `factor` times the page's."""

        def each(found: Digit) -> Digit:
            box = tuple(round(v * factor) for v in found.box)
            return Digit(found.reading, box, found.ink)  # type: ignore[arg-type]

        return NumberReading([each(d) for d in self.digits], [each(d) for d in self.left_out])


def number_budget(
    strokes: Sequence[Sequence[Sequence[float]]], size: tuple[float, float], line_width: float | None, budget: Budget
) -> Budget:
    """The budget to draw a number's strokes in: `budget`, but with the line drawn at most
    LINE_MAX px tall. For strokes already drawn (and so checked) once: the line's height comes
    from their points; more strokes than the reader takes are left to `from_strokes` to refuse."""
    drawn = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    if len(drawn) > MAX_MARKS:
        return budget
    width, height = size
    line = line_height_of(drawn, line_width or default_pen(width, height), size)
    if line * stroke_scale(width, height, budget) <= LINE_MAX:
        return budget
    return replace(budget, render_side=max(1, math.floor(max(width, height) * LINE_MAX / line)))


def page_of(
    ink: np.ndarray,
    strokes: Sequence[Sequence[Sequence[float]]] | None = None,
    size: tuple[float, float] = (0.0, 0.0),
    line_width: float | None = None,
    budget: Budget = BUDGET,
) -> tuple[Page, float]:
    """The atoms of a number by the road it came: its strokes when it came as strokes (on a
    canvas of `size`, drawn into `ink` at `decode.stroke_scale`), else the picture's pixels.
    Also the scale from the canvas to `ink`, to send boxes back in the client's pixels."""
    if strokes is None:
        return components(ink), 1.0
    width, height = size
    scale = stroke_scale(width, height, budget)
    pen = (line_width or default_pen(width, height)) * scale
    return from_strokes(ink, [np.asarray(s, dtype=np.float64) * scale for s in strokes], pen), scale


def hypotheses(page: Page, redraw: bool = True) -> list[Hypothesis]:
    """Every run of consecutive atoms that could be one digit (narrow enough, parts close
    enough), at most MAX_HYPOTHESES of them: each atom alone, then the shortest runs first. Each
    holds what the model reads (`Page.digit_ink`), or without `redraw` the page's own ink."""
    atoms = page.atoms
    if len(atoms) > MAX_HYPOTHESES:
        raise InputError(
            f"the drawing splits into {len(atoms)} pieces; at most {MAX_HYPOTHESES} are read as one number: "
            "write fewer digits, or send them separately"
        )
    spans = []
    for start in range(len(atoms)):
        for stop in range(start + 1, min(start + MAX_RUN, len(atoms)) + 1):
            if stop - start > 1 and not _joinable(atoms[start:stop], page.line_height):
                break
            spans.append((start, stop))
    if len(spans) > MAX_HYPOTHESES:
        # The singles keep every partition possible; then runs by length, then by width.
        spans.sort(key=lambda s: (s[1] - s[0], atoms[s[1] - 1].box[2] - atoms[s[0]].box[0]))
        spans = sorted(spans[:MAX_HYPOTHESES])
    ink_of = page.digit_ink if redraw else page.crop
    return [Hypothesis(start, stop, *ink_of(atoms[start:stop])) for start, stop in spans]


def _joinable(atoms: Sequence[Atom], height: float) -> bool:
    box = union(a.box for a in atoms[:-1])
    last = atoms[-1].box
    gap = max(last[0] - box[2], box[0] - last[2], 0)
    width = max(box[2], last[2]) - min(box[0], last[0])
    return gap <= MAX_GAP * height and width <= MAX_WIDTH * height


def shape_penalty(box: Box, height: float) -> float:
    """Nats against a digit of this shape: much wider than the line is tall (two digits), much
    shorter than the line (a fragment or a mark)."""
    width, tall = (box[2] - box[0]) / height, (box[3] - box[1]) / height
    return WIDE * max(0.0, width - WIDE_FROM) + SHORT * max(0.0, SHORT_FROM - tall)


def cut_penalty(first: Atom) -> float:
    """Nats for a digit that starts at a valley cut (so each cut is paid once, right of it)."""
    return 0.0 if first.cut is None else CUT + CUT_INK * first.cut


def join_penalty(atoms: Sequence[Atom], height: float, lifts: frozenset[tuple[int, int]] = frozenset()) -> float:
    """Nats for reading separate marks as one digit, pair by pair left to right; none for two
    strokes written one after the other, the second within reach of the first (`Page.lifts`)."""
    total = 0.0
    for left, right in zip(atoms, atoms[1:], strict=False):
        if left.mark == right.mark or _lifted(left, right, lifts):
            continue
        a, b = left.box, right.box
        overlap = min(a[2], b[2]) - max(a[0], b[0])
        # A part of a digit lies beside the rest or within its rows, not well below or above it.
        rows_apart = max(0, a[1] - b[3], b[1] - a[3])
        total += JOIN_GAP * (max(0, -overlap) + rows_apart) / height
        if min(a[3] - a[1], b[3] - b[1]) >= TALL * height:
            narrower = min(a[2] - a[0], b[2] - b[0])
            total += JOIN_TALL * (1.0 - max(0, overlap) / max(narrower, 1))
    return total


def _lifted(left: Atom, right: Atom, lifts: frozenset[tuple[int, int]]) -> bool:
    """Stroke-road atoms one stroke each: was one written right after the other, nearby?"""
    first, second = sorted((min(left.strokes, default=-1), min(right.strokes, default=-1)))
    return (first, second) in lifts


def skip_score(box: Box, height: float, not_a_digit: float, lifted: bool = False) -> float:
    """Log-score of leaving a mark out: cheap when tiny or when the model calls it no digit. A
    `lifted` mark (written right before or after a neighbour, within a pen lift's reach) as tall
    as a digit is left out by its size only: the bar of a 4 whose stem was lifted apart is no
    digit alone, and leaving it out for nothing read the stem as a 1 (issue 22, item 5). A short
    one (a dot, a dash, an underline after the last digit) is left out as any other mark, else it
    joins its neighbour for free and spoils its reading ("55-" read "5")."""
    size = max(box[2] - box[0], box[3] - box[1]) / height
    by_size = -SKIP_SMALL - SKIP_SIZE * max(0.0, size - SKIP_FROM)
    if lifted and box[3] - box[1] >= SHORT_FROM * height:
        return by_size
    return max(by_size, math.log(max(not_a_digit, FLOOR)))


def lifted_marks(page: Page) -> set[int]:
    """The atoms that a stroke of another mark was written right before or after, within reach
    (`Page.lifts`): on the stroke road, where each atom is one stroke, maybe parts of one digit
    (or two digits written close). Empty on the pixel road, which has no pen order."""
    if not page.lifts:
        return set()
    atoms = page.atoms
    return {
        i
        for i, atom in enumerate(atoms)
        if any(other.mark != atom.mark and _lifted(atom, other, page.lifts) for other in atoms)
    }


def read_page(page: Page, predictor: Predictor) -> NumberReading:
    """The best left-to-right reading of the page's atoms."""
    found = hypotheses(page)
    # One batch for every hypothesis: a model call per candidate would cost its overhead each time.
    readings = predictor.read(np.stack([preprocess_ink(h.ink) for h in found]))
    pairs = pair_hypotheses(page, predictor)
    return choose(page, found, readings, pairs, predictor)


def pair_marks(page: Page) -> list[tuple[int, int]]:
    """Runs of atoms that two touching digits may be, on a picture: each of the CUT_MARKS widest
    marks whole (its slices, or it uncut), then runs of two or more of a mark's slices (a mark of
    three digits touching holds two such pairs), the narrowest first, MAX_PAIRS in all."""
    if page.labels is None:  # strokes keep touching digits apart by their pen lifts
        return []
    runs: dict[int, list[int]] = {}
    for index, atom in enumerate(page.atoms):
        runs.setdefault(atom.mark, []).append(index)
    height = page.line_height
    wide, parts = [], []
    for indices in runs.values():
        first, stop = indices[0], indices[-1] + 1
        if indices != list(range(first, stop)):
            continue
        width = _width(page, first, stop)
        if width >= CUT_WIDER * height:
            wide.append((width, first, stop))
        for start in range(first, stop):
            for end in range(start + 2, stop + 1):
                width = _width(page, start, end)
                if (start, end) != (first, stop) and CUT_WIDER * height <= width <= PAIR_WIDEST * height:
                    parts.append((width, start, end))
    whole = [(start, stop) for _, start, stop in sorted(wide, reverse=True)[:CUT_MARKS]]
    return whole + [(start, stop) for _, start, stop in sorted(parts)[: MAX_PAIRS - len(whole)]]


def _width(page: Page, start: int, stop: int) -> int:
    box = union(a.box for a in page.atoms[start:stop])
    return box[2] - box[0]


def pair_hypotheses(page: Page, predictor: Predictor) -> list[PairHypothesis]:
    """The runs of `pair_marks` read by the model's pair reader (none without one)."""
    runs = pair_marks(page) if predictor.pair_session is not None else []
    if not runs:
        return []
    crops = [page.crop(page.atoms[start:stop]) for start, stop in runs]
    probabilities = predictor.pair_probabilities(np.stack([pair_input(ink) for _, ink in crops]))
    assert probabilities is not None
    return [
        PairHypothesis(start, stop, box, p, ink)
        for (start, stop), (box, ink), p in zip(runs, crops, probabilities, strict=True)
    ]


def pair_score(pair: PairHypothesis) -> float:
    """Log-score of a pair reading. It pays no cut penalty, not even for a run of slices that
    starts at a cut (a digit starting there pays `cut_penalty`): a fragment reads as some digit,
    which is what the penalty is for, but the pair reader answers "not a pair" for what is not
    two whole digits. Measured on 600 pictures of the training writers' numbers: 73.3% exactly;
    charging a pair its left cut as a digit is charged, 69.8% (half of it 71.7%), no better than
    reading whole marks only (69.5%)."""
    return math.log(max(float(pair.probabilities[:NOT_A_PAIR].max()), FLOOR)) + 2 * DIGIT_BONUS + PAIR_BONUS


def pair_readings(pair: PairHypothesis, predictor: Predictor | None) -> list[Digit]:
    """The two digits of a pair reading, each with its own probabilities (the pair's, summed
    over the other digit), the model's verdicts on them, and half of the mark's box."""
    x0, y0, x1, y1 = pair.box
    middle = (x0 + x1) // 2
    probabilities = np.stack(pair_digits(pair.probabilities))
    # The pair reader has its own "not a pair"; each digit it reads is a digit.
    rejection = np.zeros(2, dtype=np.float32)
    uncertain, flagged = predictor.verdicts(probabilities, rejection) if predictor else (np.zeros(2, bool),) * 2
    boxes = ((x0, y0, middle, y1), (middle, y0, x1, y1))
    halves = (None, None) if pair.ink is None else (pair.ink[:, : middle - x0], pair.ink[:, middle - x0 :])
    return [
        Digit(DigitReading(p, bool(u), bool(f)), box, ink)
        for p, u, f, box, ink in zip(probabilities, uncertain, flagged, boxes, halves, strict=True)
    ]


def choose(
    page: Page,
    found: list[Hypothesis],
    readings: list[DigitReading],
    pairs: Sequence[PairHypothesis] = (),
    predictor: Predictor | None = None,
) -> NumberReading:
    """The partition of the atoms into digits, touching pairs and left-out marks that scores best."""
    height = page.line_height
    scores = [
        math.log(max(r.confidence, FLOOR))
        + math.log(max(1.0 - r.rejection, FLOOR))
        - shape_penalty(h.box, height)
        - cut_penalty(page.atoms[h.start])
        - join_penalty(page.atoms[h.start : h.stop], height, page.lifts)
        + DIGIT_BONUS
        for h, r in zip(found, readings, strict=True)
    ]
    singles = {h.start: index for index, h in enumerate(found) if h.stop == h.start + 1}
    # Only a whole mark may be left out, never one slice of a component.
    lifted = lifted_marks(page)
    skips = [
        skip_score(found[singles[i]].box, height, readings[singles[i]].rejection, i in lifted)
        if atom.whole
        else -math.inf
        for i, atom in enumerate(page.atoms)
    ]
    spans = [(h.start, h.stop) for h in found] + [(p.start, p.stop) for p in pairs]
    scores += [pair_score(p) for p in pairs]
    digits: list[Digit] = []
    left_out: list[Digit] = []
    for index, kept in _best_partition(spans, scores, skips):
        if kept and index >= len(found):
            digits += pair_readings(pairs[index - len(found)], predictor)
            continue
        if not kept:
            index = singles[index]
        target = left_out if readings[index].not_a_digit or not kept else digits
        target.append(Digit(readings[index], found[index].box, found[index].ink))
    return NumberReading(digits, left_out)


def _best_partition(
    spans: Sequence[tuple[int, int]], scores: list[float], skips: list[float]
) -> list[tuple[int, bool]]:
    """Dynamic programme over atom positions: best[j] is the best reading of atoms [0, j). Each
    step reads a candidate (start, stop) ending at j, (its index, True), or leaves atom j-1 out,
    (j-1, False)."""
    count = len(skips)
    best = [0.0] + [-math.inf] * count
    back: list[tuple[int, int, bool]] = [(0, 0, False)] * (count + 1)
    ending: dict[int, list[int]] = {}
    for index, (_, stop) in enumerate(spans):
        ending.setdefault(stop, []).append(index)
    for stop in range(1, count + 1):
        best[stop], back[stop] = best[stop - 1] + skips[stop - 1], (stop - 1, stop - 1, False)
        for index in ending.get(stop, []):
            start = spans[index][0]
            value = best[start] + scores[index]
            if value > best[stop]:
                best[stop], back[stop] = value, (start, index, True)
    steps = []
    position = count
    while position > 0:
        position, index, kept = back[position]
        steps.append((index, kept))
    return steps[::-1]
