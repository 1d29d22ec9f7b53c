"""Reading numbers as people write them: composed from the held-out pendigits writers' strokes
(never trained on), sent as strokes and as pictures; stray marks; the cost of the worst drawing."""

from __future__ import annotations

import io
import math
import random
import time
import tracemalloc

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import png_bytes
from digitrec.errors import InputError
from digitrec.learning.data import HELD_OUT_WRITERS, PenDigit
from digitrec.learning.drawings import bounds
from digitrec.learning.numbers_eval import as_png, written_number
from digitrec.learning.pieces import compose_number
from digitrec.reading import numbers, segment
from digitrec.reading.decode import render_strokes, stroke_scale
from digitrec.reading.inference import Predictor
from digitrec.reading.numbers import MAX_HYPOTHESES, hypotheses, page_of, pair_marks, read_page
from digitrec.reading.preprocess import ink_image, preprocess, preprocess_ink, stroke_width
from digitrec.reading.reader import Reader, Strokes
from digitrec.reading.segment import CUT_MARKS, MAX_MARKS, REDRAW_ABOVE, Atom, Page, components, from_strokes, pen_lifts
from strokes import digit_strokes
from test_budgets import dotted_png

NUMBERS_PER_LENGTH = 30
TOUCHING = 40


@pytest.fixture(scope="module")
def held_out(pendigits: list[PenDigit]) -> list[PenDigit]:
    return [d for d in pendigits if d.writer in HELD_OUT_WRITERS]


def send(client: TestClient, road: str, strokes: list, width: int, height: int, pen: float) -> dict:
    if road == "strokes":
        response = client.post(
            "/api/read", json={"strokes": strokes, "width": width, "height": height, "line_width": pen}
        )
    else:
        canvas = 255 - render_strokes(strokes, width, height, pen)
        response = client.post("/api/read", files={"image": ("n.png", png_bytes(canvas), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def measure(
    client: TestClient, digits: list[PenDigit], road: str, lengths: list[int], touching: bool, seed: int
) -> dict:
    rng = random.Random(seed)
    table = {}
    for length in lengths:
        whole, right = 0, 0
        for _ in range(TOUCHING if touching else NUMBERS_PER_LENGTH):
            chosen = [rng.choice(digits) for _ in range(length)]
            truth = "".join(str(d.label) for d in chosen)
            text = send(client, road, *compose_number([list(d.strokes) for d in chosen], rng, touching))["text"]
            whole += text == truth
            right += sum(a == b for a, b in zip(text, truth, strict=False)) if len(text) == length else 0
        count = TOUCHING if touching else NUMBERS_PER_LENGTH
        table[length] = (whole / count, right / (count * length))
    return table


@pytest.mark.slow
def test_reads_held_out_writers_numbers(client: TestClient, held_out: list[PenDigit]) -> None:
    results = {}
    for road in ("strokes", "pixels"):
        results[road] = measure(client, held_out, road, [2, 3, 4, 5, 6], touching=False, seed=1)
        results[road + ", touching pair"] = measure(client, held_out, road, [3], touching=True, seed=2)
    print("\nheld-out writers: road, length: whole-number accuracy, per-digit accuracy")
    overall = {}
    for name, table in results.items():
        for length, (whole, digit) in table.items():
            print(f"  {name:>24}, {length}: {whole:.3f}, {digit:.3f}")
        overall[name] = float(np.mean([whole for whole, _ in table.values()]))
    print("  whole-number accuracy by road:", {k: round(v, 3) for k, v in overall.items()})
    # Measured with the shipped cnn (README, "Whole numbers"): 0.987, 0.987, 1.0 and 1.0; the issue
    # asks 0.95 and 0.90. Pictures of touching pairs: 0.40 with straight cuts, 0.625 with cut paths
    # that follow the ink (segment.cut_candidates), 0.725 with the reader's fragments and merged
    # pairs trained as "not a digit" (pieces.py), 1.0 (40 of 40) with the pair reader (pairs.py).
    assert overall["strokes"] >= 0.95, overall
    assert overall["pixels"] >= 0.95, overall
    assert overall["strokes, touching pair"] >= 0.9, overall
    assert overall["pixels, touching pair"] >= 0.9, overall


def test_a_cut_follows_the_ink_between_touching_digits_whose_columns_overlap() -> None:
    """A 7 whose bar reaches over the 4 it touches: no straight column parts them, but the cut
    path goes round the bar's end and under it, so each side keeps its own strokes."""
    seven = np.zeros((50, 80), dtype=bool)
    seven[5:11, 5:42] = True  # the bar
    seven[5:45, 19:24] = True  # the stem
    four = np.zeros_like(seven)
    four[11:13, 38:40] = True  # the tip that touches the bar from below
    four[13:45, 37:41] = True  # the left stroke, under the bar's end
    four[29:33, 37:64] = True  # the cross stroke
    four[15:45, 60:64] = True  # the right stroke
    assert np.flatnonzero(seven.any(axis=0)).max() > np.flatnonzero(four.any(axis=0)).min()
    page = components(np.where(seven | four, 255, 0).astype(np.uint8))
    assert len({atom.mark for atom in page.atoms}) == 1  # one component, cut in slices

    def ink_of(atoms: list[Atom]) -> np.ndarray:
        (x0, y0, x1, y1), crop = page.crop(atoms)
        out = np.zeros_like(seven)
        out[y0:y1, x0:x1] = crop > 0
        return out

    splits = [(ink_of(page.atoms[:j]), ink_of(page.atoms[j:])) for j in range(1, len(page.atoms))]
    assert any(np.array_equal(left, seven) and np.array_equal(right, four) for left, right in splits)


def test_a_ten_digit_number_at_a_normal_size_with_the_default_pen(client: TestClient) -> None:
    strokes = [
        s for i, d in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 0]) for s in digit_strokes(d, 120, offset=(i * 100.0, 20.0))
    ]
    body = client.post("/api/read", json={"strokes": strokes, "width": 1040, "height": 160, "line_width": 22}).json()
    assert body["text"] == "1234567890", body["text"]
    assert [d["box"][0] // 100 for d in body["digits"]] == list(range(10))


def test_a_stray_dot_is_left_out_and_reported(client: TestClient) -> None:
    strokes = [s for i, d in enumerate([3, 7, 2]) for s in digit_strokes(d, 150, offset=(i * 130.0, 10.0))]
    strokes.insert(2, [[205.0, 190.0]])  # a tap of the pen under the number, between 3 and 7
    for road in ("strokes", "pixels"):
        body = send(client, road, strokes, 420, 230, 14)
        assert body["text"] == "372", (road, body["text"])
        assert len(body["left_out"]) == 1 and body["left_out"][0]["not_a_digit"]
        x, y, w, h = body["left_out"][0]["box"]
        assert x <= 205 <= x + w and y <= 190 <= y + h


def test_one_digit_gets_the_input_predict_gives_it(held_out: list[PenDigit]) -> None:
    rng = random.Random(4)
    for digit in held_out[:20]:
        strokes, width, height, pen = compose_number([list(digit.strokes)], rng)
        picture = 255 - render_strokes(strokes, width, height, pen)
        ink = np.asarray(ink_image(picture))
        pages = [components(ink), from_strokes(ink, [np.array(s) for s in strokes], pen)]
        for page in pages:
            _, crop = page.digit_ink(page.atoms)
            np.testing.assert_array_equal(preprocess_ink(crop), preprocess(picture))


def numbers_with(pendigits: list[PenDigit], condition: str, count: int, seed: int) -> list[tuple[str, Strokes]]:
    """`count` numbers of the training writers (truth, strokes) that have `condition`, as
    `digitrec evaluate --dataset numbers` writes the held-out writers' ones."""
    writers = [d for d in pendigits if d.writer not in HELD_OUT_WRITERS]
    rng, found = random.Random(seed), []
    while len(found) < count:
        chosen = [rng.choice(writers) for _ in range(rng.randint(2, 6))]
        written = written_number(chosen, rng)
        if condition in written.conditions:
            found.append(("".join(str(d.label) for d in chosen), written.drawing))
    return found


def test_a_thick_pens_digits_are_read_from_their_strokes_drawn_with_mnists_pen(
    reader: Reader, pendigits: list[PenDigit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A felt pen fills loops and runs neighbours together; over REDRAW_ABOVE of the line, the
    stroke road reads each digit redrawn with a pen of STROKE_PEN of it (training writers'
    numbers: the held-out ones measure it, `digitrec evaluate --dataset numbers`)."""
    thick = numbers_with(pendigits, "thick pen", 30, seed=8)
    page, _ = page_of(np.asarray(ink_image(reader.picture(thick[0][1]))), *strokes_of(thick[0][1]))
    assert page.pen > REDRAW_ABOVE * page.line_height
    (_, redrawn), (_, inked) = page.digit_ink(page.atoms[:1]), page.crop(page.atoms[:1])
    assert stroke_width(redrawn) < 0.6 * stroke_width(inked)  # 0.12 of the line against 0.28

    def exactly_read() -> int:
        return sum(reader.number(drawing).text == truth for truth, drawing in thick)

    redrawing = exactly_read()
    monkeypatch.setattr(segment, "REDRAW_ABOVE", math.inf)  # the page's own ink, as before 2026-12-07
    as_inked = exactly_read()
    assert redrawing >= as_inked + 4, (redrawing, as_inked)


def test_a_digits_strokes_written_one_after_the_other_nearby_join_freely(
    reader: Reader, pendigits: list[PenDigit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4 or a 5 whose pen was lifted between its strokes (training writers' numbers)."""
    lifted = numbers_with(pendigits, "lifted 4/5", 80, seed=10)

    def exactly_read() -> int:
        return sum(reader.number(drawing).text == truth for truth, drawing in lifted)

    joining = exactly_read()
    monkeypatch.setattr(segment, "LIFT_REACH", -1.0)  # no pen lifts: as before 2026-12-07
    assert joining >= exactly_read() + 3  # 59 and 54 of 80 (57 and 52 before the bar of a lifted 4 was kept)


def test_a_dash_written_right_after_a_digit_is_still_left_out(reader: Reader) -> None:
    """A dash started at the last digit's right edge: a lifted pair, but a short mark, so it is
    left out as before and the digit keeps its reading and its box (with every mark of a lifted
    pair kept, "55-" read "5" and "11-" read "1")."""
    for digit in (1, 3, 5, 7):
        strokes = [s for i in range(2) for s in digit_strokes(digit, 150, offset=(i * 130.0, 10.0))]
        last = np.concatenate([np.asarray(s) for s in digit_strokes(digit, 150, offset=(130.0, 10.0))])
        right, middle = float(last[:, 0].max()), float(last[:, 1].min() + last[:, 1].max()) / 2
        read = reader.number(Strokes([*strokes, [[right, middle], [right + 80, middle]]], 400, 200, 10.0))
        assert read.text == f"{digit}{digit}" and len(read.left_out) == 1, (digit, read.text)
        assert read.digits[-1].box[2] <= right + 10  # the dash is no part of the digit


def test_a_4_whose_stem_stands_off_its_bar_is_read_in_a_number(reader: Reader) -> None:
    """The stem put down 2-2.5 pen widths (14 px) right of where it crossed the bar, and up:
    "342", where the bar, left out as no digit, read "312" before (their pen lift joins them for
    free, and now the bar is kept). With a 22-px pen the bar still reads as a 6 beside a 1."""
    pen = 14.0
    for right, up in [(2.0, 0.5), (2.0, 1.5), (2.5, 1.0)]:
        written = []
        for index, digit in enumerate([3, 4, 2]):
            parts = digit_strokes(digit, 150, offset=(index * 130.0, 40.0))
            if digit == 4:
                parts[1] = [[x + right * pen, y - up * pen] for x, y in parts[1]]
            written += parts
        assert reader.number(Strokes(written, 450, 260, pen)).text == "342", (right, up)


def three_touching(chosen: list[PenDigit], height: float = 120.0, pen: float = 8.0) -> bytes:
    """A picture of the digits written 120 px tall, each running half a pen into the next."""
    placed: list[np.ndarray] = []
    x = 0.0
    for digit in chosen:
        strokes = [np.asarray(s, dtype=np.float64) for s in digit.strokes]
        low, high = bounds(strokes)
        strokes = [(s - low) * height / max(float(high[1] - low[1]), 1e-6) for s in strokes]
        low, high = bounds(strokes)
        placed += [s - low + [x, 0.0] for s in strokes]
        x += float(high[0] - low[0]) - pen / 2
    low, high = bounds(placed)
    drawing = Strokes(
        [(s - low + 20).tolist() for s in placed], int(high[0] - low[0]) + 40, int(high[1] - low[1]) + 40, pen
    )
    return as_png(drawing)


def test_three_touching_digits_are_read_two_slices_at_a_time_by_the_pair_reader(
    reader: Reader, pendigits: list[PenDigit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mark of three digits touching holds two pairs, each a run of its slices: the pair reader
    reads those too, not only the whole mark (training writers' digits)."""
    training = [d for d in pendigits if d.writer not in HELD_OUT_WRITERS]
    rng = random.Random(5)
    chosen = [[rng.choice(training) for _ in range(3)] for _ in range(60)]
    pictures = [("".join(str(d.label) for d in digits), three_touching(digits)) for digits in chosen]

    def exactly_read() -> int:
        return sum(reader.number(picture).text == truth for truth, picture in pictures)

    in_pairs = exactly_read()
    monkeypatch.setattr(numbers, "MAX_PAIRS", CUT_MARKS)  # whole marks only: as before 2026-12-07
    assert in_pairs >= exactly_read() + 6  # 49 and 37 of 60 (48 and 37 before the pair reader learned thick pens)


def test_pair_readings_are_whole_marks_then_runs_of_slices_narrowest_first() -> None:
    ink = np.zeros((40, 400), dtype=np.uint8)
    ink[5:35, 5:395] = 255
    labels = (ink > 0).astype(np.int32)
    edges = [5, 45, 85, 125, 165, 395]  # five slices of one mark, the last very wide
    atoms = [Atom((a, 5, b, 35), 0, label=1, whole=False) for a, b in zip(edges, edges[1:], strict=False)]
    page = Page(ink, atoms, 30.0, labels=labels)
    marks = pair_marks(page)
    assert marks[0] == (0, 5)  # the whole mark first
    assert marks[1:4] == [(0, 2), (1, 3), (2, 4)] and len(set(marks)) == len(marks)  # 80 px, then wider
    widths = [atoms[stop - 1].box[2] - atoms[start].box[0] for start, stop in marks[1:]]
    assert widths == sorted(widths) and max(widths) <= numbers.PAIR_WIDEST * 30  # none over 3.6 lines
    assert (3, 5) not in marks and len(marks) <= numbers.MAX_PAIRS


def test_pen_lifts_are_the_strokes_the_next_one_comes_near() -> None:
    bar, stem, far = np.array([[0, 0], [50, 0]]), np.array([[58, -40], [58, 40]]), np.array([[200, 0], [200, 80]])
    assert pen_lifts([bar, stem, far], reach=10) == {(0, 1)}
    assert pen_lifts([bar, stem, far], reach=5) == frozenset()
    assert pen_lifts([stem, bar, far], reach=10) == {(0, 1)}
    # Boxes that overlap, lines that do not come near: an L and a dot in its open corner.
    corner, dot = np.array([[0, 0], [0, 100], [100, 100]]), np.array([[80, 75], [81, 76]])
    assert pen_lifts([corner, dot], reach=20) == frozenset()
    assert pen_lifts([corner, dot], reach=30) == {(0, 1)}


@pytest.mark.parametrize(
    ("point", "size", "pen"), [((50.2, 50.2), (200, 100), 2.0), ((1000.8, 1000.8), (4096, 4096), 8.0)]
)
def test_a_dot_in_a_thick_pen_is_read_as_no_number_not_refused(
    reader: Reader, point: tuple[float, float], size: tuple[int, int], pen: float
) -> None:
    """Redrawn with a pen of 0.12 of a tiny line, a dot could come out with no ink at all (the
    review of 2026-12-07 found a 422 here)."""
    reading = reader.number(Strokes([[list(point)]], *size, pen))
    assert reading.text == ""


def strokes_of(drawing: Strokes) -> tuple[list, tuple[int, int], float | None]:
    return drawing.strokes, (drawing.width, drawing.height), drawing.line_width


def test_too_many_marks_are_refused_before_any_work(client: TestClient) -> None:
    response = client.post("/api/read", files={"image": ("dots.png", dotted_png(1024, 300))})
    assert response.status_code == 422
    assert f"at most {MAX_MARKS}" in response.json()["detail"]


def test_the_costliest_accepted_drawing_is_cheap(cnn: Predictor) -> None:
    """As many marks as are accepted, on the biggest picture decoded: bounded CPU and memory."""
    picture = np.asarray(Image.open(io.BytesIO(dotted_png(1024, MAX_MARKS - 2, seed=1))).convert("L"))
    ink = np.asarray(ink_image(picture))
    tracemalloc.start()
    started = time.process_time()
    reading = read_page(components(ink), cnn)
    spent = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\n{MAX_MARKS - 2} dots on 1024x1024: {spent * 1000:.1f} ms CPU, {peak / 2**20:.1f} MiB peak")
    assert len(reading.digits) + len(reading.left_out) > 0
    assert peak < 100 * 2**20
    # The time is the benchmark's (`python -m benchmarks worst-case`); what bounds it is here:
    assert len(hypotheses(components(ink))) <= MAX_HYPOTHESES
    assert len(pair_marks(components(ink))) <= numbers.MAX_PAIRS  # the pair reader's inputs


def test_a_tall_line_is_read_drawn_smaller_and_answered_in_the_canvas_pixels(
    reader: Reader, held_out: list[PenDigit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A number written across a 1024 canvas is read from a drawing whose line is LINE_MAX tall
    (the reader's pixel work grows with the area: 40 zigzags across a 1024 canvas cost 221-260 ms
    read at full size), to the same text, with its boxes back in the canvas's pixels."""
    rng = random.Random(8)
    chosen = [rng.choice(held_out) for _ in range(2)]
    strokes, width, height, pen = compose_number([list(d.strokes) for d in chosen], rng)
    factor = 1024 / max(width, height)
    tall = Strokes(
        [[[x * factor, y * factor] for x, y in stroke] for stroke in strokes],
        round(width * factor),
        round(height * factor),
        pen * factor,
    )
    budget = numbers.number_budget(tall.strokes, (tall.width, tall.height), tall.line_width, reader.budget)
    line = segment.line_height_of([np.asarray(s) for s in tall.strokes], tall.line_width, (tall.width, tall.height))
    # Drawn as is, the line would be taller than LINE_MAX; drawn in `budget`, it is not.
    assert line * stroke_scale(tall.width, tall.height, reader.budget) > 1.2 * numbers.LINE_MAX
    assert line * stroke_scale(tall.width, tall.height, budget) <= numbers.LINE_MAX
    small = reader.number(tall)
    monkeypatch.setattr(numbers, "LINE_MAX", 10_000)
    full = reader.number(tall)
    assert small.text == full.text == "".join(str(d.label) for d in chosen)
    for drawn_small, drawn_full in zip(small.digits, full.digits, strict=True):
        apart = max(abs(a - b) for a, b in zip(drawn_small.box, drawn_full.box, strict=True))
        assert apart <= 2 / stroke_scale(tall.width, tall.height, budget)  # two pixels of the smaller drawing


def test_only_what_is_on_the_canvas_makes_a_line_tall(reader: Reader, held_out: list[PenDigit]) -> None:
    """A stroke dragged off the pad leaves no ink there: it must not make the number drawn tiny.
    Nothing to measure, or more strokes than the reader takes, leave the budget as it is."""
    rng = random.Random(8)
    strokes, width, height, pen = compose_number([list(d.strokes) for d in rng.sample(held_out, 3)], rng)
    truth = reader.number(Strokes(strokes, width, height, pen)).text
    dragged = [*strokes, [[width - 5.0, height - 2.0], [width - 5.0, 30.0 * height]]]
    assert numbers.number_budget(dragged, (width, height), pen, reader.budget) == reader.budget
    assert reader.number(Strokes(dragged, width, height, pen)).text.startswith(truth)
    assert numbers.number_budget([], (width, height), pen, reader.budget) == reader.budget
    bars = [[[5.0 * i, 0.0], [5.0 * i, 4000.0]] for i in range(segment.MAX_MARKS + 1)]
    assert numbers.number_budget(bars, (4096, 4096), 1.0, reader.budget) == reader.budget  # refused later


def test_a_drawing_in_more_pieces_than_the_model_may_judge_is_refused() -> None:
    atoms = [Atom((10 * i, 0, 10 * i + 8, 20), mark=i) for i in range(MAX_HYPOTHESES + 1)]
    page = Page(np.zeros((20, 10 * len(atoms)), dtype=np.uint8), atoms, 20.0)
    with pytest.raises(InputError, match=f"at most {MAX_HYPOTHESES}"):
        hypotheses(page)


def test_runs_beyond_the_budget_are_dropped_longest_first() -> None:
    # Touching-close marks: every run of up to MAX_RUN could be one digit.
    count = 20
    ink = np.zeros((20, 6 * count), dtype=np.uint8)
    atoms = []
    for i in range(count):
        ink[:, 6 * i : 6 * i + 5] = 255
        atoms.append(Atom((6 * i, 0, 6 * i + 5, 20), mark=i, label=i + 1))
    labels = np.zeros(ink.shape, dtype=np.int32)
    for i in range(count):
        labels[:, 6 * i : 6 * i + 5] = i + 1
    found = hypotheses(Page(ink, atoms, 20.0, labels=labels))
    assert len(found) == MAX_HYPOTHESES
    lengths = [h.stop - h.start for h in found]
    assert lengths.count(1) == count and lengths.count(2) == count - 1 and 4 not in lengths
